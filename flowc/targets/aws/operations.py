"""What AWS makes of a task's operations settings (flowc/targets/operations.py lists them)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from flowc.compiler.ir import App, ImageHandler, PythonHandler, Task
from flowc.diagnostics import Diagnostic
from flowc.targets.operations import fixed_backoff, no_replace, start_window_s

# Lambda's asynchronous invocations: an event older than this is dropped (60 s .. 6 h).
AWS_EVENT_AGE_S = (60, 21600)
AWS_DEFAULT_EVENT_AGE_S = 21600  # how long a run may wait for a retry (Lambda, Scheduler)
AWS_FLEXIBLE_WINDOW_MIN = (1, 1440)


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def lambda_runtime_of(version: str) -> str:
    return f"python{version}"


def lambda_runtime(task: Task) -> str:
    return lambda_runtime_of(task.python_version)


# EventBridge Scheduler writes the fire's time here; flowc_handler reads it back.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


def reserved_concurrency(task: Task) -> int | None:
    """`overlap = skip` on Lambda: one run at a time. A fire during a run is throttled and
    Lambda's async queue retries it; flowc_handler drops it if it starts too late."""
    return 1 if task.overlap == "skip" else None


def flexible_window_min(task: Task) -> int:
    """`jitter` as EventBridge's flexible window: whole minutes, 0 when off."""
    if not task.jitter_s:
        return 0
    return min(max(math.ceil(task.jitter_s / 60), AWS_FLEXIBLE_WINDOW_MIN[0]),
               AWS_FLEXIBLE_WINDOW_MIN[1])


def event_age_s(task: Task) -> int:
    return task.max_age_s if task.max_age_s is not None else AWS_DEFAULT_EVENT_AGE_S


def aws_schedule_fields(task: Task, index: int, zone: str) -> dict[str, Any]:
    """state, flexible_time_window, start_date/end_date of one aws_scheduler_schedule."""
    fields: dict[str, Any] = {"state": "ENABLED" if task.enabled else "DISABLED"}
    if task.jitter_s:
        fields["flexible_time_window"] = [{"mode": "FLEXIBLE", "maximum_window_in_minutes":
                                           flexible_window_min(task)}]
    else:
        fields["flexible_time_window"] = [{"mode": "OFF"}]
    start, end = task.window(index).bounds(zone)
    if start is not None:
        fields["start_date"] = _utc(start)
    if end is not None:
        fields["end_date"] = _utc(end)
    return fields


def aws_target_input(task: Task) -> str | None:
    """The Lambda event a schedule sends: the task's `input` under "input" and, under
    `overlap = skip`, the fire under "flowc": its scheduled time (filled in by EventBridge
    Scheduler) and how late it may start. flowc_handler takes "flowc" out of the event
    before the task sees it. The start window counts from the scheduled time, so it
    includes the flexible window the fire may be delayed by."""
    if not isinstance(task.handler, PythonHandler):
        return None
    event: dict[str, Any] = {}
    if task.input is not None:
        event["input"] = json.loads(task.input)
    if task.overlap == "skip":
        event["flowc"] = {"fire": SCHEDULED_TIME,
                          "start_within_s": start_window_s(task) + 60 * flexible_window_min(task)}
    return json.dumps(event, sort_keys=True) if event else None


def diagnostics(app: App) -> list[Diagnostic]:
    """What AWS cannot do of its tasks' operations settings (E: refused, W: weaker)."""
    out: list[Diagnostic] = []
    for task in app.tasks_for("aws"):
        image = isinstance(task.handler, ImageHandler)
        if not image:  # image tasks: their overlap guard stops the run in flight
            out.append(no_replace(task, "aws", "Lambda invocation"))
        if task.jitter_s and task.jitter_s % 60:
            out.append(Diagnostic(
                "W471", f"task `{task.name}`: jitter {task.jitter_s}s becomes a flexible "
                f"window of {math.ceil(task.jitter_s / 60)} minute(s) on aws "
                "(EventBridge counts whole minutes)", task.span,
                "write the jitter in whole minutes, e.g. `jitter = 5m`"))
        out.append(fixed_backoff(task, "aws", "EventBridge retries a failed RunTask with its "
                                 "own back-off" if image else
                                 "Lambda retries after about 1 and 2 minutes"))
        if task.max_age_s is not None and not (
                AWS_EVENT_AGE_S[0] <= task.max_age_s <= AWS_EVENT_AGE_S[1]):
            out.append(Diagnostic(
                "E471", f"task `{task.name}`: `max_age` must be between 1m and 6h on aws "
                f"(Lambda's maximum event age), not {task.max_age_s}s", task.span,
                "write e.g. `max_age = 1h`"))
    return [d for d in out if d is not None]
