"""AWS target, python tasks: the Lambda function, its role, wrapper and async invoke config.

Plain functions of an `AwsContext` (`flowc/targets/aws/context.py`: role, log_group,
secret_statements, tags); the alias, layers and packages come from
`flowc/targets/aws/release.py`. The zip is the task's code dir plus vendored
requirements plus `flowc_handler.py` (flowc/targets/aws/assets/lambda_handler.py), which
resolves bound secrets into the env var names the spec declares; the task's layers'
requirements ship as Lambda layers. Every function is published, and the scheduler and
the async invoke config go through the task's alias.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from flowc.compiler.ir import DEFAULT_PYTHON, SecretRef, Service, Task
from flowc.targets.aws import iam
from flowc.targets.aws import operations as ops
from flowc.targets.aws.alerts import measurable
from flowc.targets.aws.context import AwsContext
from flowc.targets.aws.release import (
    RELEASE_TAG,
    Aliased,
    add_alias,
    layer_arns,
    package_args,
)
from flowc.targets.base import Resource, escape_literal
from flowc.targets.operations import fire_files, input_env

LAMBDA_RUNTIME = ops.lambda_runtime_of(DEFAULT_PYTHON)  # services; tasks: their own

LAMBDA_HANDLER_FILE = "flowc_handler.py"
SECRET_ENV_PREFIX = "FLOWC_SECRET_"


def _handler_source() -> bytes:
    return resources.files("flowc.targets.aws.assets").joinpath("lambda_handler.py").read_bytes()


def handler_files() -> dict[str, bytes]:
    """flowc_handler.py and what it imports, added to a python task's or service's zip."""
    return {LAMBDA_HANDLER_FILE: _handler_source(), **fire_files()}


# -- python tasks: Lambda ---------------------------------------------------------


def lambda_variables(ctx: AwsContext, unit: Task | Service, own: dict[str, str]) -> dict[str, str]:
    """flowc's `own` variables plus the unit's env: secrets as FLOWC_SECRET_<NAME> ARNs,
    which flowc_handler resolves before the code runs."""
    variables = dict(own)
    for var in unit.env:
        if isinstance(var.value, SecretRef):
            variables[SECRET_ENV_PREFIX + var.name] = ctx.secrets[var.value.secret].ref("arn")
        else:
            variables[var.name] = escape_literal(var.value)
    return variables


def add_function(ctx: AwsContext, task: Task, dlq: Resource | None) -> tuple[str, Resource]:
    s = ctx.stack
    fn_name = ctx.names.name(task.name, kind="lambda")
    logs = ctx.log_group(task, f"/aws/lambda/{fn_name}")
    statements = [
        iam.allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                  [logs.ref("arn") + ":*"]),
        iam.allow("WriteTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                  ["*"]),
        iam.allow("DecryptWithAppKey", ["kms:Decrypt"], [ctx.key.ref("arn")]),
        *ctx.secret_statements(task),
    ]
    if dlq is not None:
        statements.append(iam.allow("DeadLetterOwnQueue", ["sqs:SendMessage"],
                                    [dlq.ref("arn")]))
    role = ctx.role(task, "lambda", "lambda.amazonaws.com", statements,
                    "lambda_role", "lambda_policy")
    asset = s.code_asset(task, extra=handler_files(),
                         layers=False)
    layers = layer_arns(ctx, task)
    variables = lambda_variables(ctx, task, {
        "FLOWC_ENTRYPOINT": task.handler.entrypoint,
        "FLOWC_TASK": task.name,
        **input_env(task),
    })
    body: dict[str, Any] = {
        "function_name": fn_name,
        "description": escape_literal(task.description or f"flowc task {task.name}"),
        "role": role.ref("arn"),
        "runtime": ops.lambda_runtime(task),
        "handler": LAMBDA_HANDLER_FILE.removesuffix(".py") + ".handler",
        "architectures": ["x86_64"],
        "memory_size": task.memory_mib,
        "timeout": task.timeout_s,
        "kms_key_arn": ctx.key.ref("arn"),
        "environment": [{"variables": dict(sorted(variables.items()))}],
        "tracing_config": [{"mode": "Active"}],
        "logging_config": [{"log_format": "Text", "log_group": logs.ref("name")}],
        "publish": True,
        "depends_on": [f"aws_iam_role_policy.{task.name}_lambda_policy"],
        "tags": ctx.tags(task),
    }
    if ops.reserved_concurrency(task) is not None:  # `overlap = skip`
        body["reserved_concurrent_executions"] = ops.reserved_concurrency(task)
    release_id = ctx.release_of(task).release_id
    if release_id:
        body["tags"] = {**body["tags"], RELEASE_TAG: release_id}
    if layers:
        body["layers"] = layers
    if asset is not None:
        body.update(package_args(ctx, asset))
    fn = s.resource("aws_lambda_function", f"{task.name}_function", body)
    topic = (f"aws_sns_topic.{task.name}_alerts"
             if any(measurable(task, a) for a in task.alerts) else None)
    alias = add_alias(ctx, Aliased(task, "schedules", ctx.tags(task), topic), fn)
    invoke: dict[str, Any] = {
        "function_name": fn.ref("function_name"),
        "qualifier": alias.ref("name"),
        "maximum_retry_attempts": task.retries,
        "maximum_event_age_in_seconds": ops.event_age_s(task),
    }
    if dlq is not None:
        invoke["destination_config"] = [{"on_failure": [{"destination": dlq.ref("arn")}]}]
    config = s.resource("aws_lambda_function_event_invoke_config",
                        f"{task.name}_invoke_config", invoke)
    s.output(f"{task.name}_function_arn", fn.ref("arn"),
             f"Lambda function of task `{task.name}`")
    return alias.ref("arn"), config
