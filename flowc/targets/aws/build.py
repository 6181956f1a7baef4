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
from flowc.targets import operations as ops
from flowc.targets.aws import TARGET as AWS
from flowc.targets.aws import iam
from flowc.targets.aws.alerts import AlertParts, measurable
from flowc.targets.aws.ecs import EcsParts
from flowc.targets.aws.lambda_function import LambdaParts
from flowc.targets.aws.release import ReleaseParts
from flowc.targets.aws.services import ServiceParts
from flowc.targets.base import Builder, Resource, Stack, standard_tags
from flowc.targets.naming import schedule_keys

# Account quotas a spec can exceed on its own (AWS defaults; both can be raised on request).
IAM_ROLES_PER_ACCOUNT = 1000
LAMBDA_CONCURRENCY_PER_ACCOUNT = 1000
LAMBDA_UNRESERVED_MINIMUM = 100  # AWS refuses reservations that leave less than this
# IAM roles per task: the scheduler's, plus the function's (python) or the ECS execution
# and task roles (image): see `role()` and aws_lambda.py / aws_ecs.py.
ROLES_PER_TASK = {"python": 2, "image": 3}

PROVIDER_SOURCE = "hashicorp/aws"
PROVIDER_VERSION = "~> 5.100"
LOG_RETENTION_DAYS = 365


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
        _Builder(app, stack).build(tasks)


def service_network_diagnostics(app: App) -> list[Diagnostic]:
    """E401 for image services without the subnets ECS (and, with a port, an ALB) needs."""
    out = []
    where = f"environment `{app.environment}`" if app.environment else "the spec"
    for service in app.services_for("aws"):
        if not isinstance(service.handler, ImageHandler):
            continue
        need = 1 if service.is_worker else 2  # an ALB spans at least two zones
        if len(AWS.settings_of(app).subnets) < need:
            what = "ECS Fargate" if service.is_worker else "ECS Fargate behind a load balancer"
            out.append(Diagnostic(
                "E401", f"image service `{service.name}` runs on {what} on aws, but {where} "
                f"sets {len(AWS.settings_of(app).subnets)} subnet(s); it needs {need}",
                service.span,
                "add `aws { subnets = [\"subnet-a\", \"subnet-b\"] }` (two zones) to the "
                "environment, or leave AWS out with `targets = [gcp, k8s]`"))
        elif not service.is_worker and AWS.settings_of(app).certificate_arn is None:
            out.append(Diagnostic(
                "W230", f"service `{service.name}` on aws: {where} gives no certificate, so "
                "its load balancer serves plain HTTP", service.span,
                "add `aws { certificate_arn = \"arn:aws:acm:...\" }` to the environment for "
                "HTTPS (port 80 then redirects)"))
    return out


class _Builder(LambdaParts, EcsParts, AlertParts, ReleaseParts, ServiceParts):
    """Builds one app's AWS resources into a stack (a helper object, not shared state)."""

    def __init__(self, app: App, stack: Stack):
        # Everything the parts share, declared here and nowhere else.
        self.app = app
        self.stack = stack
        self.names = stack.names
        self.key: Resource | None = None  # the KMS key (build)
        self.group: Resource | None = None  # the schedule group (build)
        self.cluster: Resource | None = None  # the ECS cluster, if an image task runs
        self.secrets: dict[str, Resource] = {}  # secret name -> Secrets Manager secret
        self.layers: dict[str, Resource | None] = {}  # layer name -> layer (None: failed)
        self.bucket: Resource | None = None  # the code bucket, once a package needs it

    # -- shared ---------------------------------------------------------------------

    def tags(self, task: Task | None = None) -> dict[str, str]:
        return standard_tags(self.app, task)

    def build(self, tasks: tuple[Task, ...]) -> None:
        s = self.stack
        s.data("aws_caller_identity", "caller", {})
        s.data("aws_partition", "partition", {})
        s.data("aws_region", "region", {})
        fn_prefix = "/aws/lambda/" + self.names.name(kind="prefix")
        ecs_prefix = "/ecs/" + self.names.name(kind="prefix")
        services = self.app.services_for("aws")
        prefixes = [fn_prefix, ecs_prefix]
        if any(isinstance(v.handler, PythonHandler) for v in services):  # HTTP API logs
            prefixes.append("/aws/apigateway/" + self.names.name(kind="prefix"))
        self.key = s.resource("aws_kms_key", "kms_key", {
            "description": f"flowc {self.app.stack_name}: logs, env, secrets, topics",
            "enable_key_rotation": True,
            "deletion_window_in_days": 30,
            "policy": iam.kms_key_policy(prefixes),
            "tags": self.tags(),
        })
        s.resource("aws_kms_alias", "kms_alias", {
            "name": "alias/" + self.names.name(kind="kms_alias"),
            "target_key_id": self.key.ref("key_id"),
        })
        self.group = s.resource("aws_scheduler_schedule_group", "schedule_group", {
            "name": self.names.name(kind="schedule_group"),
            "tags": self.tags(),
        })
        s.output("schedule_group_name", self.group.ref("name"), "EventBridge Scheduler group")
        used = {name for unit in (*tasks, *services) for name in unit.secrets}
        for secret in self.app.secrets:
            if secret.name in used:
                self.secret(secret.name)
        if any(isinstance(t.handler, ImageHandler) for t in (*tasks, *services)):
            self.cluster = s.resource("aws_ecs_cluster", "ecs_cluster", {
                "name": self.names.name(kind="ecs_cluster"),
                "setting": [{"name": "containerInsights", "value": "enabled"}],
                "tags": self.tags(),
            })
            s.output("ecs_cluster_name", self.cluster.ref("name"),
                     "ECS cluster of image tasks" + (" and services" if services else ""))
        for task in tasks:
            self.task(task)
        self.services(services)

    def default_subnets(self) -> str:
        """The account's default-VPC subnets (one per zone), for image tasks when the spec
        names none: a Terraform expression, looked up once per stack."""
        if "aws_subnets" not in self.stack.data_sources:
            vpc = self.stack.data("aws_vpc", "default_vpc", {"default": True})
            self.stack.data("aws_subnets", "default_subnets", {"filter": [
                {"name": "vpc-id", "values": [vpc.ref("id")]},
                {"name": "default-for-az", "values": ["true"]},
            ]})
        return "${data.aws_subnets.default_subnets.ids}"

    def secret(self, name: str) -> None:
        res = self.stack.resource("aws_secretsmanager_secret", f"{name}_secret", {
            "name": self.names.name(name, kind="secret"),
            "description": f"flowc secret `{name}`; set its value with "
                           "`aws secretsmanager put-secret-value`",
            "kms_key_id": self.key.ref("arn"),
            "tags": self.tags(),
        })
        self.secrets[name] = res
        self.stack.output(f"{name}_secret_arn", res.ref("arn"),
                          f"Secrets Manager secret for `{name}` (value set outside Terraform)")

    def task(self, task: Task) -> None:
        dlq = self.dead_letter_queue(task) if task.on_failure == "dead_letter" else None
        if isinstance(task.handler, PythonHandler):
            target_arn, invoke = self.function(task, dlq)
            scheduler_stmts = [iam.allow("InvokeOwnFunction", ["lambda:InvokeFunction"],
                                         [target_arn])]
        else:
            target_arn, invoke = self.cluster.ref("arn"), None
            scheduler_stmts = self.ecs_task(task, dlq)
        if dlq is not None:
            scheduler_stmts.append(iam.allow("DeadLetterOwnQueue", ["sqs:SendMessage"],
                                             [dlq.ref("arn")]))
        scheduler_stmts.append(iam.allow("DecryptScheduleWithAppKey", ["kms:Decrypt"],
                                         [self.key.ref("arn")]))
        role = self.role(task, "scheduler", "scheduler.amazonaws.com", scheduler_stmts,
                         "scheduler_role", "scheduler_policy")
        self.schedules(task, target_arn, role, dlq, invoke)
        if any(measurable(task, a) for a in task.alerts):
            self.alerts(task, dlq)

    def role(self, task: Task, what: str, service: str, statements: list[dict[str, Any]],
             role_id: str, policy_id: str) -> Resource:
        role = self.stack.resource("aws_iam_role", f"{task.name}_{role_id}", {
            "name": self.names.name(task.name, what, kind="iam_role"),
            "description": f"flowc {what} role of task `{task.name}`",
            "assume_role_policy": iam.assume_role(service),
            "tags": self.tags(task),
        })
        self.stack.resource("aws_iam_role_policy", f"{task.name}_{policy_id}", {
            "name": self.names.name(task.name, what, kind="iam_policy"),
            "role": role.ref("id"),
            "policy": iam.document(statements),
        })
        return role

    def log_group(self, task: Task, name: str) -> Resource:
        return self.stack.resource("aws_cloudwatch_log_group", f"{task.name}_log_group", {
            "name": name,
            "retention_in_days": LOG_RETENTION_DAYS,
            "kms_key_id": self.key.ref("arn"),
            "tags": self.tags(task),
        })

    def dead_letter_queue(self, task: Task) -> Resource:
        q = self.stack.resource("aws_sqs_queue", f"{task.name}_dlq", {
            "name": self.names.name(task.name, "dlq", kind="sqs"),
            "message_retention_seconds": 1209600,
            "sqs_managed_sse_enabled": True,
            "tags": self.tags(task),
        })
        self.stack.output(f"{task.name}_dlq_url", q.ref("url"),
                          f"dead-letter queue of task `{task.name}`")
        return q

    def secret_statements(self, task: Task) -> list[dict[str, Any]]:
        arns = [self.secrets[name].ref("arn") for name in task.secrets]
        if not arns:
            return []
        return [iam.allow("ReadOwnSecrets", ["secretsmanager:GetSecretValue"], arns)]

    # -- schedules ----------------------------------------------------------------------

    def schedules(self, task: Task, target_arn: str, role: Resource, dlq: Resource | None,
                  invoke: Resource | None) -> None:
        names = []
        for ts, key in schedule_keys(task, "aws"):
            name = self.names.name(task.name, tail=(key,), kind="schedule")
            target: dict[str, Any] = {
                "arn": target_arn,
                "role_arn": role.ref("arn"),
                "retry_policy": [{"maximum_retry_attempts": task.retries,
                                  "maximum_event_age_in_seconds": ops.event_age_s(task)}],
            }
            event = ops.aws_target_input(task)
            if event is not None:
                target["input"] = event
            if dlq is not None:
                target["dead_letter_config"] = [{"arn": dlq.ref("arn")}]
            if isinstance(task.handler, ImageHandler):
                network: dict[str, Any] = {"subnets": list(AWS.settings_of(self.app).subnets),
                                           "assign_public_ip": False}
                if not AWS.settings_of(self.app).subnets:  # W403: the default VPC, public to pull
                    network = {"subnets": self.default_subnets(), "assign_public_ip": True}
                if AWS.settings_of(self.app).security_groups:
                    network["security_groups"] = list(AWS.settings_of(self.app).security_groups)
                target["ecs_parameters"] = [{
                    "task_definition_arn": f"${{aws_ecs_task_definition.{task.name}_ecs_task.arn}}",
                    "launch_type": "FARGATE",
                    "platform_version": "LATEST",
                    "task_count": 1,
                    "enable_ecs_managed_tags": True,
                    "propagate_tags": "TASK_DEFINITION",
                    "network_configuration": [network],
                }]
            body: dict[str, Any] = {
                "name": name,
                "group_name": self.group.ref("name"),
                "description": f"flowc task {task.name}, schedule {ts.schedule_index + 1}",
                "schedule_expression": ts.expression,
                "schedule_expression_timezone": ts.timezone,
                **ops.aws_schedule_fields(task, ts.schedule_index, ts.timezone),
                "kms_key_arn": self.key.ref("arn"),
                "target": [target],
                "depends_on": [f"aws_iam_role_policy.{task.name}_scheduler_policy"],
            }
            if invoke is not None:
                body["depends_on"].append(invoke.address)
            sched = self.stack.resource("aws_scheduler_schedule",
                                        f"{task.name}_schedule_{key}", body)
            names.append(sched.ref("name"))
        self.stack.output(f"{task.name}_schedule_names", names,
                          f"EventBridge Scheduler schedules of task `{task.name}`")


def account_limits(app: App) -> list[Diagnostic]:
    """W405/W404 when the spec alone exceeds an account's default IAM role or Lambda
    concurrency quota (reported at the first task, once each)."""
    tasks = app.tasks_for("aws")
    if not tasks:
        return []
    out: list[Diagnostic] = []
    roles = sum(ROLES_PER_TASK[t.handler.kind] for t in tasks)
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
            "request a higher Lambda `Concurrent executions` quota before deploying, "
            "use `overlap = allow` for tasks that may overlap, or split the tasks between "
            "accounts"))
    return out
