"""AWS target, image tasks: the ECS Fargate task definition, its roles and failure capture.

Plain functions of an `AwsContext` (`flowc/targets/aws/context.py`), called by `build.py`.
The scheduler runs the task
definition in the environment's subnets; failed runs (non-zero exit, failed start)
reach the task's dead-letter queue through an EventBridge rule.
"""

from __future__ import annotations

import json
from typing import Any

from flowc.compiler.ir import ImageHandler, SecretRef, Service, Task
from flowc.diagnostics import Diagnostic
from flowc.targets.aws import TARGET as AWS
from flowc.targets.aws import iam
from flowc.targets.aws.context import AwsContext
from flowc.targets.aws.limits import FARGATE_SIZES
from flowc.targets.aws.overlap_guard import REPLACED_REASON, add_guard, guarded
from flowc.targets.base import Resource, escape_literal
from flowc.targets.operations import input_env


def fargate_size(cpu: float | None, memory_mib: int) -> tuple[int, int]:
    """The smallest valid Fargate (cpu units, memory MiB) with at least what was asked."""
    want_cpu = int(round((cpu or 0) * 1024))
    for units, memories in FARGATE_SIZES:
        if units < want_cpu:
            continue
        fitting = [m for m in memories if m >= memory_mib]
        if fitting:
            return units, fitting[0]
    return FARGATE_SIZES[-1][0], FARGATE_SIZES[-1][1][-1]


# -- image tasks: ECS Fargate -------------------------------------------------------


def task_definition(family: str, size: tuple[int, int], exec_role: Resource,
                    task_role: Resource, container: dict[str, Any],
                    tags: dict[str, str]) -> dict[str, Any]:
    """An `aws_ecs_task_definition` body: one Linux x86_64 container on Fargate."""
    cpu, memory = size
    return {
        "family": family,
        "requires_compatibilities": ["FARGATE"],
        "network_mode": "awsvpc",
        "cpu": str(cpu),
        "memory": str(memory),
        "execution_role_arn": exec_role.ref("arn"),
        "task_role_arn": task_role.ref("arn"),
        "runtime_platform": [{"operating_system_family": "LINUX",
                              "cpu_architecture": "X86_64"}],
        "container_definitions": json.dumps([container], sort_keys=True),
        "tags": tags,
    }


def ecs_container(ctx: AwsContext, unit: Task | Service, handler: ImageHandler, logs: Resource,
                  own: dict[str, str], stream_prefix: str) -> dict[str, Any]:
    """The container definition: the unit's env (sorted), flowc's `own` variables after
    it, secrets from Secrets Manager, logs to `logs`, a read-only root filesystem."""
    env = sorted(unit.env, key=lambda v: v.name)
    return {
        "name": unit.name,
        "image": escape_literal(handler.image),
        "essential": True,
        "readonlyRootFilesystem": True,
        "environment": [
            {"name": v.name, "value": escape_literal(v.value)}
            for v in env if not isinstance(v.value, SecretRef)
        ] + [{"name": k, "value": v} for k, v in own.items()],
        "secrets": [
            {"name": v.name, "valueFrom": ctx.secrets[v.value.secret].ref("arn")}
            for v in env if isinstance(v.value, SecretRef)
        ],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": logs.ref("name"),
                "awslogs-region": AWS.settings_of(ctx.app).region,
                "awslogs-stream-prefix": stream_prefix,
            },
        },
    }


def add_ecs_task(ctx: AwsContext, task: Task, dlq: Resource | None
                 ) -> tuple[list[dict[str, Any]], Resource | None]:
    """The task's definition, roles and failure rule. Returns what the scheduler's role
    may do, and the overlap guard the schedules start (None: they run the task)."""
    s = ctx.stack
    handler = task.handler
    assert isinstance(handler, ImageHandler)
    family = ctx.names.name(task.name, kind="ecs_family")
    logs = ctx.log_group(task, f"/ecs/{family}")
    secrets = ctx.secret_statements(task)
    exec_role = ctx.role(task, "execution", "ecs-tasks.amazonaws.com", [
        iam.allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                  [logs.ref("arn") + ":*"]),
        *iam.ecr_pull(handler.image),
        *([iam.allow("DecryptSecrets", ["kms:Decrypt"], [ctx.key.ref("arn")])]
          if secrets else []),
        *secrets,
    ], "exec_role", "exec_policy")
    task_role = ctx.stack.resource("aws_iam_role", f"{task.name}_task_role", {
        "name": ctx.names.name(task.name, "task", kind="iam_role"),
        "description": f"flowc runtime role of task `{task.name}` (no permissions)",
        "assume_role_policy": iam.assume_role("ecs-tasks.amazonaws.com"),
        "tags": ctx.tags(task),
    })
    cpu, memory = fargate_size(task.cpu, task.memory_mib)
    asked_cpu = None if task.cpu is None else int(round(task.cpu * 1024))
    if memory != task.memory_mib or asked_cpu not in (None, cpu):
        s.diagnostics.append(Diagnostic(
            "W401",
            f"task `{task.name}` runs with {cpu / 1024:g} vCPU and {memory} MiB on "
            "ECS Fargate (the nearest valid size)",
            task.span,
            "set `cpu` and `memory` to a Fargate combination to silence this",
        ))
    container = ecs_container(ctx, task, handler, logs,
                              {"FLOWC_TASK": task.name, **input_env(task)}, "task")
    if handler.command:
        container["command"] = [escape_literal(c) for c in handler.command]
    definition = s.resource("aws_ecs_task_definition", f"{task.name}_ecs_task",
                            task_definition(family, (cpu, memory), exec_role, task_role,
                                            container, ctx.tags(task)))
    s.output(f"{task.name}_task_definition_arn", definition.ref("arn"),
             f"ECS task definition of task `{task.name}`")
    cluster_arn = ctx.cluster.ref("arn")
    run_statements = [
        iam.allow("RunOwnTaskDefinition", ["ecs:RunTask"], [definition.ref("arn")],
                  Condition={"ArnEquals": {"ecs:cluster": cluster_arn}}),
        iam.allow("TagOwnTasks", ["ecs:TagResource"], [ctx.cluster_tasks_arn()],
                  Condition={"StringEquals": {"ecs:CreateAction": "RunTask"}}),
        iam.allow("PassOwnTaskRoles", ["iam:PassRole"],
                  [exec_role.ref("arn"), task_role.ref("arn")],
                  Condition={"StringLike": {"iam:PassedToService":
                                            "ecs-tasks.amazonaws.com"}}),
    ]
    guard = None
    if guarded(task):  # the state machine starts the task; the scheduler starts it
        guard = add_guard(ctx, task, family, run_task_parameters(ctx, definition),
                          run_statements)
        run_statements = [iam.allow("StartOwnGuard", ["states:StartExecution"],
                                    [guard.ref("arn")])]
    if dlq is not None or any(a.metric == "errors" for a in task.alerts):
        add_failure_rule(ctx, task, definition, dlq, guard)
    return run_statements, guard


def network(ctx: AwsContext) -> dict[str, Any]:
    """Where an image task runs (the scheduler's `network_configuration` fields): the
    environment's subnets, or the default VPC's with a public IP to pull the image (W403)."""
    settings = AWS.settings_of(ctx.app)
    out: dict[str, Any] = {"subnets": list(settings.subnets), "assign_public_ip": False}
    if not settings.subnets:
        out = {"subnets": ctx.default_subnets(), "assign_public_ip": True}
    if settings.security_groups:
        out["security_groups"] = list(settings.security_groups)
    return out


# one launch, two spellings: the scheduler's ecs_parameters and Step Functions' RunTask
LAUNCH = {"launch_type": "FARGATE", "platform_version": "LATEST", "task_count": 1,
          "enable_ecs_managed_tags": True, "propagate_tags": "TASK_DEFINITION"}


def scheduler_ecs_parameters(ctx: AwsContext, definition_arn: str) -> dict[str, Any]:
    return {"task_definition_arn": definition_arn, **LAUNCH,
            "network_configuration": [network(ctx)]}


def run_task_parameters(ctx: AwsContext, definition: Resource) -> dict[str, Any]:
    """The same launch as ecs:runTask Parameters (PascalCase, as Step Functions asks)."""
    net = network(ctx)
    vpc: dict[str, Any] = {"Subnets": net["subnets"],
                           "AssignPublicIp": "ENABLED" if net["assign_public_ip"]
                           else "DISABLED"}
    if "security_groups" in net:
        vpc["SecurityGroups"] = net["security_groups"]
    return {"Cluster": ctx.cluster.ref("arn"), "TaskDefinition": definition.ref("arn"),
            "LaunchType": LAUNCH["launch_type"], "PlatformVersion": LAUNCH["platform_version"],
            "Count": LAUNCH["task_count"],
            "EnableECSManagedTags": LAUNCH["enable_ecs_managed_tags"],
            "PropagateTags": LAUNCH["propagate_tags"],
            "NetworkConfiguration": {"AwsvpcConfiguration": vpc}}


def add_failure_rule(ctx: AwsContext, task: Task, definition: Resource,
                     dlq: Resource | None, guard: Resource | None) -> None:
    """Failed ECS runs (non-zero exit or failed start) -> the task's dead-letter queue;
    with an overlap guard also its failed executions (RunTask still failing after the
    retries), which Standard workflows report to EventBridge."""
    pattern: dict[str, Any] = {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": [ctx.cluster.ref("arn")],
            "taskDefinitionArn": [definition.ref("arn")],
            "lastStatus": ["STOPPED"],
            "$or": [
                {"containers": {"exitCode": [{"anything-but": 0}]}},
                {"stopCode": ["TaskFailedToStart"]},
            ],
        },
    }
    if task.overlap == "replace":  # a run its guard stopped was replaced, not failed
        pattern["detail"]["stoppedReason"] = [{"anything-but": REPLACED_REASON}]
    if guard is not None:
        pattern = {"$or": [pattern, {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"stateMachineArn": [guard.ref("arn")],
                       "status": ["FAILED", "TIMED_OUT", "ABORTED"]},
        }]}
    rule = ctx.stack.resource("aws_cloudwatch_event_rule", f"{task.name}_failure_rule", {
        "name": ctx.names.name(task.name, "failed", kind="event_rule"),
        "description": f"failed runs of flowc task `{task.name}`",
        "event_pattern": json.dumps(pattern, sort_keys=True),
        "tags": ctx.tags(task),
    })
    if dlq is None:
        return
    ctx.stack.resource("aws_cloudwatch_event_target", f"{task.name}_failure_target", {
        "rule": rule.ref("name"),
        "arn": dlq.ref("arn"),
    })
    ctx.stack.resource("aws_sqs_queue_policy", f"{task.name}_dlq_policy", {
        "queue_url": dlq.ref("id"),
        "policy": iam.queue_policy_for_rule(dlq.ref("arn"), rule.ref("arn")),
    })
