"""The AWS target: maps the IR to Lambda / ECS Fargate, EventBridge Scheduler, IAM, SQS,
Secrets Manager, CloudWatch and SNS resources (SPEC §3), on the shared `Stack`.

Per app and environment: one KMS key (logs, env vars, secrets, topics, schedules), one
schedule group, and an ECS cluster when an image task exists. Per task: a Lambda
function (python) or Fargate task definition (image) with its own role(s), a log group,
one `aws_scheduler_schedule` per expression in `task.schedules_for("aws")`, a dead-letter
queue for `on_failure = dead_letter`, and an SNS topic + alarms for `alert`.
Functions are published and scheduled through an alias; layers, canary and packages over
50 MB are in `release.py`. Policies live in `iam.py`; docs/targets/aws.md lists the
checkov checks this target skips.
"""

from __future__ import annotations

from typing import Any

from flowc.compiler.ir import App, ImageHandler, PythonHandler, Task
from flowc.diagnostics import Diagnostic
from flowc.targets.aws import TARGET as AWS
from flowc.targets.aws import iam
from flowc.targets.aws import operations as ops
from flowc.targets.aws.alerts import add_alerts, measurable
from flowc.targets.aws.context import AwsContext
from flowc.targets.aws.ecs import add_ecs_task, scheduler_ecs_parameters
from flowc.targets.aws.lambda_function import add_function
from flowc.targets.aws.overlap_guard import LOG_PREFIX, guarded
from flowc.targets.aws.overlap_guard import scheduler_input as guard_input
from flowc.targets.aws.services import add_services
from flowc.targets.base import Builder, Resource, Stack
from flowc.targets.naming import schedule_keys

# Account quotas a spec can exceed on its own (AWS defaults; both can be raised on request).
IAM_ROLES_PER_ACCOUNT = 1000
LAMBDA_CONCURRENCY_PER_ACCOUNT = 1000
LAMBDA_UNRESERVED_MINIMUM = 100  # AWS refuses reservations that leave less than this
# IAM roles per task: the scheduler's, plus the function's (python) or the ECS execution
# and task roles (image): see `role()` and aws_lambda.py / aws_ecs.py.
ROLES_PER_TASK = {"python": 2, "image": 3}  # + 1 for an image task's overlap guard

PROVIDER_SOURCE = "hashicorp/aws"
PROVIDER_VERSION = "~> 5.100"


class AwsBuilder(Builder):
    name = "aws"

    def check(self, app: App) -> list[Diagnostic]:
        out: list[Diagnostic] = service_network_diagnostics(app)
        for task in app.tasks_for("aws"):
            if isinstance(task.handler, ImageHandler) and not AWS.settings_of(app).subnets:
                where = f"environment `{app.environment}`" if app.environment else "the spec"
                out.append(Diagnostic(
                    "W403",
                    f"image task `{task.name}` runs on ECS Fargate in the default VPC's "
                    f"subnets with a public IP (to pull its image): {where} sets no subnets",
                    task.span,
                    "add `aws { subnets = [\"subnet-...\"] }` to the environment for private "
                    "subnets (with a NAT gateway or VPC endpoints for the image pull)",
                    target="aws",
                ))
            for alert in task.alerts:
                if alert.metric == "dead_letters" and task.on_failure != "dead_letter":
                    out.append(Diagnostic(
                        "E402",
                        f"task `{task.name}` alerts on dead letters but has no dead-letter "
                        "queue", alert.span or task.span,
                        "add `on_failure = dead_letter` to the task"))
                elif not measurable(task, alert):
                    out.append(Diagnostic(
                        "W402",
                        f"no `{alert.metric}` alarm for task `{task.name}` on aws: ECS "
                        "reports no per-run duration metric", alert.span or task.span,
                        "alert on `errors` for image tasks, or set `timeout` to bound runs"))
        return out + account_limits(app)

    def build(self, app: App, stack: Stack) -> None:
        tasks = app.tasks_for("aws")
        settings = AWS.settings_of(app)
        stack.backend = settings.backend
        stack.provider("aws", PROVIDER_SOURCE, PROVIDER_VERSION, {"region": settings.region})
        build_app(AwsContext(app, stack), tasks)


def service_network_diagnostics(app: App) -> list[Diagnostic]:
    """W403 for image services in the default VPC (no subnets), E401 for too few subnets."""
    out = []
    where = f"environment `{app.environment}`" if app.environment else "the spec"
    subnets = AWS.settings_of(app).subnets
    for service in app.services_for("aws"):
        if not isinstance(service.handler, ImageHandler):
            continue
        what = "ECS Fargate" if service.is_worker else "ECS Fargate behind a load balancer"
        if not subnets:
            out.append(Diagnostic(
                "W403", f"image service `{service.name}` runs on {what} in the default VPC's "
                f"subnets with a public IP (to pull its image): {where} sets no subnets",
                service.span,
                "add `aws { subnets = [\"subnet-a\", \"subnet-b\"] }` (two zones) to the "
                "environment for private subnets (with a NAT gateway or VPC endpoints for the "
                "image pull)", target="aws"))
        elif not service.is_worker and len(subnets) < 2:  # an ALB spans at least two zones
            out.append(Diagnostic(
                "E401", f"image service `{service.name}` runs on {what} on aws, but {where} "
                f"sets {len(subnets)} subnet; a load balancer needs 2 (two zones)",
                service.span,
                "add a second subnet in another zone: `aws { subnets = [\"subnet-a\", "
                "\"subnet-b\"] }`, or remove `subnets` to use the default VPC"))
        if not service.is_worker and AWS.settings_of(app).certificate_arn is None:
            out.append(Diagnostic(
                "W230", f"service `{service.name}` on aws: {where} gives no certificate, so "
                "its load balancer serves plain HTTP", service.span,
                "add `aws { certificate_arn = \"arn:aws:acm:...\" }` to the environment for "
                "HTTPS (port 80 then redirects)"))
    return out


def build_app(ctx: AwsContext, tasks: tuple[Task, ...]) -> None:
    s = ctx.stack
    s.data("aws_caller_identity", "caller", {})
    s.data("aws_partition", "partition", {})
    s.data("aws_region", "region", {})
    fn_prefix = "/aws/lambda/" + ctx.names.name(kind="prefix")
    ecs_prefix = "/ecs/" + ctx.names.name(kind="prefix")
    services = ctx.app.services_for("aws")
    prefixes = [fn_prefix, ecs_prefix]
    if any(guarded(t) for t in tasks):  # overlap guards' execution logs
        prefixes.append(LOG_PREFIX + ctx.names.name(kind="prefix"))
    if any(isinstance(v.handler, PythonHandler) for v in services):  # HTTP API logs
        prefixes.append("/aws/apigateway/" + ctx.names.name(kind="prefix"))
    ctx.key = s.resource("aws_kms_key", "kms_key", {
        "description": f"flowc {ctx.app.stack_name}: logs, env, secrets, topics",
        "enable_key_rotation": True,
        "deletion_window_in_days": 30,
        "policy": iam.kms_key_policy(prefixes),
        "tags": ctx.tags(),
    })
    s.resource("aws_kms_alias", "kms_alias", {
        "name": "alias/" + ctx.names.name(kind="kms_alias"),
        "target_key_id": ctx.key.ref("key_id"),
    })
    ctx.group = s.resource("aws_scheduler_schedule_group", "schedule_group", {
        "name": ctx.names.name(kind="schedule_group"),
        "tags": ctx.tags(),
    })
    s.output("schedule_group_name", ctx.group.ref("name"), "EventBridge Scheduler group")
    used = {name for unit in (*tasks, *services) for name in unit.secrets}
    for secret in ctx.app.secrets:
        if secret.name in used:
            add_secret(ctx, secret.name)
    if any(isinstance(t.handler, ImageHandler) for t in (*tasks, *services)):
        ctx.cluster = s.resource("aws_ecs_cluster", "ecs_cluster", {
            "name": ctx.names.name(kind="ecs_cluster"),
            "setting": [{"name": "containerInsights", "value": "enabled"}],
            "tags": ctx.tags(),
        })
        s.output("ecs_cluster_name", ctx.cluster.ref("name"),
                 "ECS cluster of image tasks" + (" and services" if services else ""))
    for task in tasks:
        add_task(ctx, task)
    add_services(ctx, services)


def add_secret(ctx: AwsContext, name: str) -> None:
    res = ctx.stack.resource("aws_secretsmanager_secret", f"{name}_secret", {
        "name": ctx.names.name(name, kind="secret"),
        "description": f"flowc secret `{name}`; set its value with "
                       "`aws secretsmanager put-secret-value`",
        "kms_key_id": ctx.key.ref("arn"),
        "tags": ctx.tags(),
    })
    ctx.secrets[name] = res
    ctx.stack.output(f"{name}_secret_arn", res.ref("arn"),
                     f"Secrets Manager secret for `{name}` (value set outside Terraform)")


def add_task(ctx: AwsContext, task: Task) -> None:
    dlq = add_dead_letter_queue(ctx, task) if task.on_failure == "dead_letter" else None
    if isinstance(task.handler, PythonHandler):
        target_arn, invoke = add_function(ctx, task, dlq)
        scheduler_stmts = [iam.allow("InvokeOwnFunction", ["lambda:InvokeFunction"],
                                     [target_arn])]
    else:
        scheduler_stmts, guard = add_ecs_task(ctx, task, dlq)
        target_arn = ctx.cluster.ref("arn") if guard is None else guard.ref("arn")
        invoke = None
    if dlq is not None:
        scheduler_stmts.append(iam.allow("DeadLetterOwnQueue", ["sqs:SendMessage"],
                                         [dlq.ref("arn")]))
    scheduler_stmts.append(iam.allow("DecryptScheduleWithAppKey", ["kms:Decrypt"],
                                     [ctx.key.ref("arn")]))
    role = ctx.role(task, "scheduler", "scheduler.amazonaws.com", scheduler_stmts,
                    "scheduler_role", "scheduler_policy")
    add_schedules(ctx, task, target_arn, role, dlq, invoke)
    if any(measurable(task, a) for a in task.alerts):
        add_alerts(ctx, task, dlq)


def add_dead_letter_queue(ctx: AwsContext, task: Task) -> Resource:
    q = ctx.stack.resource("aws_sqs_queue", f"{task.name}_dlq", {
        "name": ctx.names.name(task.name, "dlq", kind="sqs"),
        "message_retention_seconds": 1209600,
        "sqs_managed_sse_enabled": True,
        "tags": ctx.tags(task),
    })
    ctx.stack.output(f"{task.name}_dlq_url", q.ref("url"),
                     f"dead-letter queue of task `{task.name}`")
    return q


# -- schedules ----------------------------------------------------------------------


def add_schedules(ctx: AwsContext, task: Task, target_arn: str, role: Resource,
                  dlq: Resource | None,
                  invoke: Resource | None) -> None:
    names = []
    for ts, key in schedule_keys(task, "aws"):
        name = ctx.names.name(task.name, tail=(key,), kind="schedule")
        target: dict[str, Any] = {
            "arn": target_arn,
            "role_arn": role.ref("arn"),
            "retry_policy": [{"maximum_retry_attempts": task.retries,
                              "maximum_event_age_in_seconds": ops.event_age_s(task)}],
        }
        event = guard_input(task) if guarded(task) else ops.aws_target_input(task)
        if event is not None:
            target["input"] = event
        if dlq is not None:
            target["dead_letter_config"] = [{"arn": dlq.ref("arn")}]
        if isinstance(task.handler, ImageHandler) and not guarded(task):
            target["ecs_parameters"] = [scheduler_ecs_parameters(
                ctx, f"${{aws_ecs_task_definition.{task.name}_ecs_task.arn}}")]
        body: dict[str, Any] = {
            "name": name,
            "group_name": ctx.group.ref("name"),
            "description": f"flowc task {task.name}, schedule {ts.schedule_index + 1}",
            "schedule_expression": ts.expression,
            "schedule_expression_timezone": ts.timezone,
            **ops.aws_schedule_fields(task, ts.schedule_index, ts.timezone),
            "kms_key_arn": ctx.key.ref("arn"),
            "target": [target],
            "depends_on": [f"aws_iam_role_policy.{task.name}_scheduler_policy"],
        }
        if invoke is not None:
            body["depends_on"].append(invoke.address)
        sched = ctx.stack.resource("aws_scheduler_schedule",
                                   f"{task.name}_schedule_{key}", body)
        names.append(sched.ref("name"))
    ctx.stack.output(f"{task.name}_schedule_names", names,
                     f"EventBridge Scheduler schedules of task `{task.name}`")


def account_limits(app: App) -> list[Diagnostic]:
    """W405/W404 when the spec alone exceeds an account's default IAM role or Lambda
    concurrency quota (reported at the first task, once each)."""
    tasks = app.tasks_for("aws")
    if not tasks:
        return []
    out: list[Diagnostic] = []
    roles = sum(ROLES_PER_TASK[t.handler.kind] + guarded(t) for t in tasks)
    if roles > IAM_ROLES_PER_ACCOUNT:
        out.append(Diagnostic(
            "W405", f"the aws stack creates {roles} IAM roles; an AWS account holds "
            f"{IAM_ROLES_PER_ACCOUNT} by default, so the deploy would fail part-way",
            tasks[0].span, "request a higher `Roles per account` IAM quota (up to 5000), or "
            "split the tasks between apps deployed to several accounts"))
    reserved = sum(ops.reserved_concurrency(t) or 0 for t in tasks
                   if isinstance(t.handler, PythonHandler))  # `overlap = skip` reserves
    room = LAMBDA_CONCURRENCY_PER_ACCOUNT - LAMBDA_UNRESERVED_MINIMUM
    if reserved > room:
        out.append(Diagnostic(
            "W404", f"the Lambda functions with `overlap = skip` reserve {reserved} "
            f"concurrent executions; an AWS account has {LAMBDA_CONCURRENCY_PER_ACCOUNT} by "
            f"default and must keep {LAMBDA_UNRESERVED_MINIMUM} unreserved, so at most "
            f"{room} can reserve", tasks[0].span,
            "request a higher Lambda `Concurrent executions` quota before deploying (new "
            "accounts may have only 50 in all, where no reservation fits), use "
            "`overlap = allow` for tasks that may overlap, or split the tasks between "
            "accounts"))
    return out
