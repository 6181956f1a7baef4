"""Which `env { }` names and values each target's runtime accepts: one check (the
reserved names are each target's `reserved_env`, in flowc/targets/<name>/__init__.py).

    diagnostics = env_diagnostics(app, "aws")   # `flowc check` and `flowc compile` both

Rules (each diagnostic names the target):
- E451: `FLOWC_*` is flowc's own namespace on every target (its bootstrap reads
  FLOWC_ENTRYPOINT/FLOWC_HANDLER/FLOWC_TASK, and Lambda passes secrets as FLOWC_SECRET_<NAME>,
  so a task setting one could replace a secret's ARN or flowc's entry point);
- E450: names the runtime sets itself (AWS Lambda's reserved variables, ECS's agent
  variables, Cloud Run jobs' / services' / Cloud Functions', and the ones flowc's
  Kubernetes pod sets; a target may list a service's runtime apart, "image service");
- E452: values a runtime cannot hold: a NUL byte anywhere, Lambda's 4 KB total.
Sources (checked 2026-11): AWS Lambda "Defined runtime environment variables" and
"Lambda quotas" (4 KB for all variables); Cloud Run "reserved environment variables";
Cloud Functions "environment variables" (X_GOOGLE_ prefix reserved).
"""

from __future__ import annotations

from collections.abc import Sequence

from flowc.compiler.ir import App, ImageHandler, PythonHandler, SecretRef, Service, Task, unit_kind
from flowc.diagnostics import Diagnostic
from flowc.targets import registry
from flowc.targets.aws import TARGET as AWS

FLOWC_PREFIX = "FLOWC_"

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
    by_kind = registry.get(target).reserved_env
    reserved = (isinstance(task, Service) and by_kind.get(f"{_kind(task)} service")
                or by_kind.get(_kind(task)))
    if reserved is not None and (name in reserved.names or name.startswith(reserved.prefixes)):
        return reserved.runtime
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
