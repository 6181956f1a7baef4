"""Which `env { }` names and values each target's runtime accepts: one table, one check.

    diagnostics = env_diagnostics(app, "aws")   # `flowc check` and `flowc compile` both

Rules (each diagnostic names the target):
- E451: `FLOWC_*` is flowc's own namespace on every target (its bootstrap reads
  FLOWC_ENTRYPOINT/FLOWC_HANDLER/FLOWC_TASK, and Lambda passes secrets as FLOWC_SECRET_<NAME>,
  so a task setting one could replace a secret's ARN or flowc's entry point);
- E450: names the runtime sets itself (AWS Lambda's reserved variables, ECS's agent
  variables, Cloud Run / Cloud Functions', and the ones flowc's Kubernetes pod sets);
- E452: values a runtime cannot hold: a NUL byte anywhere, Lambda's 4 KB total.
Sources (checked 2026-11): AWS Lambda "Defined runtime environment variables" and
"Lambda quotas" (4 KB for all variables); Cloud Run "reserved environment variables";
Cloud Functions "environment variables" (X_GOOGLE_ prefix reserved).
"""

from __future__ import annotations

from collections.abc import Sequence

from flowc.compiler.ir import App, ImageHandler, PythonHandler, SecretRef, Service, Task, unit_kind
from flowc.diagnostics import Diagnostic
from flowc.targets.aws import TARGET as AWS

FLOWC_PREFIX = "FLOWC_"

# (target, task kind) -> (runtime, reserved names, reserved prefixes)
RESERVED: dict[tuple[str, str], tuple[str, frozenset[str], tuple[str, ...]]] = {
    ("aws", "python"): ("AWS Lambda", frozenset({
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
        "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }), ()),
    ("aws", "image"): ("ECS Fargate", frozenset({
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_EXECUTION_ENV", "ECS_CONTAINER_METADATA_URI", "ECS_CONTAINER_METADATA_URI_V4",
        "ECS_AGENT_URI",
    }), ()),
    ("gcp", "python"): ("Cloud Functions (2nd gen)", frozenset({
        "PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "FUNCTION_TARGET",
        "FUNCTION_SIGNATURE_TYPE",
    }), ("X_GOOGLE_",)),
    ("gcp", "image"): ("Cloud Run jobs", frozenset({
        "PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "CLOUD_RUN_JOB",
        "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_ATTEMPT",
        "CLOUD_RUN_TASK_COUNT",
    }), ("X_GOOGLE_",)),
    # flowc's pod sets these for python tasks (flowc.targets.k8s.manifests.pod_spec): a
    # second entry with the same name would be a duplicate in the container's env list.
    ("k8s", "python"): ("flowc's Kubernetes pod", frozenset({
        "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "HOME",
    }), ()),
    ("k8s", "image"): ("flowc's Kubernetes pod", frozenset(), ()),
}

LAMBDA_ENV_LIMIT = 4096  # bytes, all names and values together
# What flowc adds to a Lambda's variables besides the task's own.
_LAMBDA_OWN = ("FLOWC_ENTRYPOINT", "FLOWC_TASK")
# arn:aws:secretsmanager:<region>:<12-digit account>:secret:<name>-<6 random chars>
_SECRET_ARN_FIXED = len("arn:aws:secretsmanager:") + len(":123456789012:secret:") + 7


def _kind(task: Task | Service) -> str:
    return "image" if isinstance(task.handler, ImageHandler) else "python"


def reserved_by(target: str, task: Task | Service, name: str) -> str | None:
    """The runtime that reserves env var `name` for `task` (or service) on `target`, or
    None. A service with a port also gets PORT from flowc itself, on every target."""
    runtime, names, prefixes = RESERVED[(target, _kind(task))]
    if name in names or name.startswith(prefixes):
        return runtime
    if name == "PORT" and isinstance(task, Service) and task.port is not None:
        return "flowc (the service's `port`)"
    return None


def lambda_env_bytes(app: App, task: Task | Service) -> int:
    """The size Lambda counts for the function's variables (secret ARNs estimated)."""
    assert isinstance(task.handler, PythonHandler)
    size = sum(len(k) for k in _LAMBDA_OWN) + len(task.handler.entrypoint) + len(task.name)
    prefix = app.name + "-" + (app.environment + "-" if app.environment else "")
    for var in task.env:
        if isinstance(var.value, SecretRef):
            region = AWS.settings_of(app).region
            size += len("FLOWC_SECRET_" + var.name) + _SECRET_ARN_FIXED + len(region)
            size += len(prefix + var.value.secret)
        else:
            size += len(var.name.encode()) + len(var.value.encode())
    return size


def flowc_env_diagnostics(app: App, targets: Sequence[str]) -> list[Diagnostic]:
    """The rules every target shares (FLOWC_* names, NUL bytes): one diagnostic per cause."""
    out: list[Diagnostic] = []
    for task in (*app.tasks, *app.services):
        where = ", ".join(t for t in task.targets if t in targets)
        if not where:
            continue
        for var in task.env:
            span = var.span or task.span
            if var.name.startswith(FLOWC_PREFIX):
                out.append(Diagnostic(
                    "E451", f"env var `{var.name}` of {unit_kind(task)} `{task.name}` is in "
                    "flowc's own "
                    f"`FLOWC_*` namespace (targets {where}): flowc sets these to start the "
                    "task and pass its secrets", span,
                    "rename the variable (any name not starting with FLOWC_)"))
            if isinstance(var.value, str) and "\0" in var.value:
                out.append(Diagnostic(
                    "E452", f"env var `{var.name}` of {unit_kind(task)} `{task.name}` holds a "
                    "NUL byte, "
                    f"which no process environment can carry (targets {where})", span,
                    "remove the \\0 from the value"))
    return out


def env_diagnostics(app: App, target: str) -> list[Diagnostic]:
    """Reserved names and size limits of `target`'s runtimes, for its tasks and services."""
    out: list[Diagnostic] = []
    for task in (*app.tasks_for(target), *app.services_for(target)):
        what = f"{unit_kind(task)} `{task.name}`"
        for var in task.env:
            runtime = reserved_by(target, task, var.name)
            if runtime is not None and not var.name.startswith(FLOWC_PREFIX):
                out.append(Diagnostic(
                    "E450", f"env var `{var.name}` of {what} is reserved on "
                    f"{target}: {runtime} sets it itself", var.span or task.span,
                    f"rename the variable, or leave {target} out of the {unit_kind(task)}'s "
                    "`targets`"))
        if target == "aws" and isinstance(task.handler, PythonHandler):
            size = lambda_env_bytes(app, task)
            if size > LAMBDA_ENV_LIMIT:
                out.append(Diagnostic(
                    "E452", f"the env vars of {what} take about {size} bytes on "
                    f"aws; AWS Lambda allows {LAMBDA_ENV_LIMIT} bytes for all of them",
                    task.span, "move large values into a file in the code directory, or "
                    "into a secret"))
    return out
