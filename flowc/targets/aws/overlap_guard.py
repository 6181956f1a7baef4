"""AWS target, `overlap = skip | replace` for image tasks: a Step Functions state machine
between the schedule and ECS that starts no second run of a task while one is in flight
(skip), or stops the one in flight first (replace).

ECS has no per-family limit, so EventBridge Scheduler starts the task's state machine
instead of the task (StartExecution, the only thing its role may do). Each fire is one
execution of a Standard workflow (Express executions end after 5 minutes; a held fire may
wait `catch_up` for hours, and only Standard workflows report failed executions to
EventBridge, which is how a run that could not start reaches the dead-letter queue):

    FindRunning  ecs:ListTasks (cluster, family, desiredStatus RUNNING)
    Running?     none -> Start; some -> Hold (skip) or StopRunning (replace)
    StopRunning  replace: ecs:StopTask each (reason REPLACED_REASON) -> Start
    Hold         polls left? -> Wait POLL_S -> Newest? ; none left -> Skipped
    Newest?      states:ListExecutions: a newer fire of the task is waiting -> Superseded
                 (only the latest held fire waits, as in the emulator); else FindRunning
    Start        a Parallel around RunTask + a check of its `Failures`, so that both
                 an API error and a task ECS could not place are retried `retries` times
                 (the Retry the scheduler's retry policy gave RunTask before); a start
                 that still fails fails the execution -> the failure rule -> the DLQ
    Skipped / Superseded   end (succeeded), output {"flowc": "skipped", ...}: never
                 retried, never dead-lettered

The start window is counted in polls from when the execution starts (after any jitter
delay), so a fire starts at most `start_window_s` after the scheduler delivered it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flowc.compiler.ir import Task
from flowc.targets.aws import iam
from flowc.targets.aws.context import LOG_RETENTION_DAYS, AwsContext
from flowc.targets.aws.operations import SCHEDULED_TIME, event_age_s
from flowc.targets.base import Resource
from flowc.targets.operations import start_window_s

POLL_S = 15  # how often a held fire looks again: a held run starts at most this late
RETRY_INTERVAL_S = 30  # first wait before retrying a failed start, then doubling
RETRY_BACKOFF = 2.0
RETRY_MAX_DELAY_S = 300  # the doubling stops here (`retries` may be up to 185 on aws)
LOG_PREFIX = "/aws/vendedlogs/states/"  # AWS's advice for vended logs (resource policy size)
SFN_TIMEOUT_SLACK_S = 600  # on top of the window and the retries: every execution ends
API_RETRY = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 2,
              "MaxAttempts": 3}]  # a throttled ListTasks/StopTask/ListExecutions
REPLACED_REASON = "flowc: replaced by a newer fire (overlap = replace)"
LIST_EXPRESSION = re.compile(r'"\$\{(data\.aws_subnets\.[a-z_]+\.ids)\}"')

# state transitions billed for a fire that finds nothing running (`flowc cost`):
# FindRunning, Running?, Start, RunTask, Placed?, Placed
TRANSITIONS_PER_FIRE = 6


def guarded(task: Task) -> bool:
    """Image tasks whose schedules start a guard: `overlap = skip` or `replace`."""
    return task.handler.kind == "image" and task.overlap in ("skip", "replace")


def polls(task: Task) -> int:
    """How many times a held fire looks again (none under `replace`: it never waits)."""
    return math.ceil(start_window_s(task) / POLL_S) if task.overlap == "skip" else 0


def scheduler_input(task: Task) -> str:
    """What each fire sends the state machine: its time and how many polls it may wait."""
    fire: dict[str, Any] = {"fire": SCHEDULED_TIME}
    if task.overlap == "skip":
        fire["polls_left"] = polls(task)
    return json.dumps({"flowc": fire}, sort_keys=True)


def retry_budget_s(task: Task) -> int:
    """How long the start's retries may take: their waits, but no attempt later than the
    task's `max_age` (6 h by default) after the fire, as the scheduler's retries before."""
    waits = sum(min(RETRY_INTERVAL_S * RETRY_BACKOFF ** k, RETRY_MAX_DELAY_S)
                for k in range(task.retries))
    return int(min(waits, event_age_s(task)))


def definition(task: Task, cluster_arn: str, family: str, run_task: dict[str, Any]) -> dict:
    """The state machine (Amazon States Language, JSONPath). `run_task` is the RunTask
    Parameters (PascalCase): the same launch the scheduler's ecs_parameters made."""
    start: dict[str, Any] = {
        "Type": "Parallel",
        "Branches": [{"StartAt": "RunTask", "States": {
            "RunTask": {
                "Type": "Task",
                # the SDK integration: the optimized ecs:runTask takes no Count or
                # EnableECSManagedTags, which the scheduler's launch sets
                "Resource": "arn:aws:states:::aws-sdk:ecs:runTask",
                "Parameters": run_task,
                "ResultSelector": {"failures.$": "$.Failures",
                                   "tasks.$": "$.Tasks[*].TaskArn"},
                "Next": "Placed?",
            },
            # RunTask answers a task ECS could not place with a non-empty Failures, not an
            # error
            "Placed?": {"Type": "Choice", "Choices": [
                {"Variable": "$.failures[0]", "IsPresent": True, "Next": "NotPlaced"}],
                "Default": "Placed"},
            "NotPlaced": {"Type": "Fail", "Error": "flowc.RunTaskFailures",
                          "Cause": "ECS could not place the task (see the execution's "
                                   "RunTask output)"},
            "Placed": {"Type": "Succeed"},
        }}],
        "ResultPath": "$.started",
        "End": True,
    }
    if task.retries:
        start["Retry"] = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": RETRY_INTERVAL_S,
                           "BackoffRate": RETRY_BACKOFF, "MaxDelaySeconds": RETRY_MAX_DELAY_S,
                           "MaxAttempts": task.retries}]
    replace = task.overlap == "replace"
    return {
        "Comment": f"flowc task {task.name}: overlap = {task.overlap} ("
                   + ("a fire stops the run in flight" if replace else
                      "no second run while one is in flight") + ")",
        "StartAt": "FindRunning",
        # every execution ends; one still retrying past `max_age` times out (dead-lettered)
        "TimeoutSeconds": polls(task) * POLL_S + retry_budget_s(task) + SFN_TIMEOUT_SLACK_S,
        "States": {
            "FindRunning": find_running(cluster_arn, family),
            "Running?": {"Type": "Choice", "Choices": [
                {"Variable": "$.check.running[0]", "IsPresent": True,
                 "Next": "StopRunning" if replace else "Hold"}],
                "Default": "Start"},
            **(stop_running(cluster_arn) if replace else hold(task)),
            "Start": start,
        },
    }


def find_running(cluster_arn: str, family: str) -> dict[str, Any]:
    """The family's tasks whose desired status is RUNNING (pending ones included)."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:ecs:listTasks",
        "Parameters": {"Cluster": cluster_arn, "Family": family, "DesiredStatus": "RUNNING"},
        "ResultSelector": {"running.$": "$.TaskArns"},
        "ResultPath": "$.check",
        "Retry": API_RETRY,
        "Next": "Running?",
    }


def stop_running(cluster_arn: str) -> dict[str, Any]:
    """`replace`: stop every running task of the family, then start (the stopped runs end
    with REPLACED_REASON, which the failure rule does not count as a failure)."""
    stop = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:ecs:stopTask",
        "Parameters": {"Cluster": cluster_arn, "Task.$": "$", "Reason": REPLACED_REASON},
        "ResultSelector": {"stopped.$": "$.Task.TaskArn"},
        "Retry": API_RETRY,
        "End": True,
    }
    return {"StopRunning": {
        "Type": "Map",
        "ItemsPath": "$.check.running",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "StopTask",
                          "States": {"StopTask": stop}},
        "ResultPath": "$.replaced",
        "Next": "Start",
    }}


def hold(task: Task) -> dict[str, Any]:
    """`skip`: wait for the run in flight within the start window, else end skipped."""
    skipped = {"flowc": "skipped", "reason": "overlap", "task": task.name,
               "fire.$": "$.flowc.fire", "running.$": "$.check.running"}
    return {
        "Hold": {"Type": "Choice", "Choices": [
            {"Variable": "$.flowc.polls_left", "NumericGreaterThan": 0, "Next": "Wait"}],
            "Default": "Skipped"},
        "Wait": {"Type": "Wait", "Seconds": POLL_S, "Next": "CountDown"},
        "CountDown": {"Type": "Pass", "Parameters": {
            "fire.$": "$.flowc.fire", "me.$": "$$.Execution.Id",
            "polls_left.$": "States.MathAdd($.flowc.polls_left, -1)"},
            "ResultPath": "$.flowc", "Next": "Newest"},
        "Newest": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sfn:listExecutions",
            "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id",
                           "StatusFilter": "RUNNING", "MaxResults": 1},
            "ResultSelector": {
                "newest.$": "States.ArrayGetItem($.Executions[*].ExecutionArn, 0)"},
            "ResultPath": "$.newest",
            "Retry": API_RETRY,
            "Next": "Newest?",
        },
        # executions are listed newest first: a later fire is waiting too -> it waits
        "Newest?": {"Type": "Choice", "Choices": [
            {"Variable": "$.newest.newest", "StringEqualsPath": "$.flowc.me",
             "Next": "FindRunning"}], "Default": "Superseded"},
        "Skipped": {"Type": "Pass", "Parameters": skipped, "End": True},
        "Superseded": {"Type": "Pass", "Parameters": {**skipped, "reason": "superseded"},
                       "End": True},
    }


def definition_json(body: dict) -> str:
    """The definition as JSON text for Terraform: a value that is a whole Terraform list
    expression (the default VPC's subnets, `"${data.x.ids}"`) becomes
    `${jsonencode(data.x.ids)}`, unquoted, so Terraform writes the list there."""
    text = json.dumps(body, sort_keys=True)
    return LIST_EXPRESSION.sub(lambda m: "${jsonencode(" + m[1] + ")}", text)


def add_guard(ctx: AwsContext, task: Task, family: str, run_task: dict[str, Any],
              run_statements: list[dict[str, Any]]) -> Resource:
    """The task's state machine, its role and log group; returns the state machine.
    `run_statements` are what starting the task needs (RunTask, TagResource, PassRole)."""
    s = ctx.stack
    name = ctx.names.name(task.name, "guard", kind="state_machine")
    logs = s.resource("aws_cloudwatch_log_group", f"{task.name}_guard_log_group", {
        "name": LOG_PREFIX + name,
        "retention_in_days": LOG_RETENTION_DAYS,
        "kms_key_id": ctx.key.ref("arn"),
        "tags": ctx.tags(task),
    })
    cluster_arn = ctx.cluster.ref("arn")
    own_arn = (f"arn:{iam.PARTITION}:states:{iam.REGION}:{iam.ACCOUNT}:stateMachine:{name}")
    role = ctx.role(task, "guard", "states.amazonaws.com", [
        iam.allow("ListTasksInCluster", ["ecs:ListTasks"], ["*"],
                  Condition={"ArnEquals": {"ecs:cluster": cluster_arn}}),
        *run_statements,
        *([iam.allow("StopTasksInCluster", ["ecs:StopTask"], [ctx.cluster_tasks_arn()])]
          if task.overlap == "replace" else
          [iam.allow("ListOwnExecutions", ["states:ListExecutions"], [own_arn])]),
        # Step Functions' log delivery and X-Ray: AWS scopes none of these to a resource
        iam.allow("DeliverLogs", ["logs:CreateLogDelivery", "logs:DeleteLogDelivery",
                                  "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
                                  "logs:GetLogDelivery", "logs:ListLogDeliveries",
                                  "logs:PutResourcePolicy", "logs:UpdateLogDelivery"], ["*"]),
        iam.allow("WriteTraces", ["xray:GetSamplingRules", "xray:GetSamplingTargets",
                                  "xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"]),
    ], "guard_role", "guard_policy")
    body = definition(task, cluster_arn, family, run_task)
    machine = s.resource("aws_sfn_state_machine", f"{task.name}_guard", {
        "name": name,
        "type": "STANDARD",
        "role_arn": role.ref("arn"),
        "definition": definition_json(body),
        "logging_configuration": [{"log_destination": logs.ref("arn") + ":*",
                                   "include_execution_data": True, "level": "ALL"}],
        "tracing_configuration": [{"enabled": True}],
        "tags": ctx.tags(task),
        # the role must be able to deliver logs when the state machine is created
        "depends_on": [f"aws_iam_role_policy.{task.name}_guard_policy"],
    })
    s.output(f"{task.name}_guard_state_machine_arn", machine.ref("arn"),
             f"Step Functions state machine that starts task `{task.name}` "
             f"(overlap = {task.overlap})")
    return machine
