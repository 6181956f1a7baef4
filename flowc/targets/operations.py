"""What each target makes of a task's operations settings (SPEC §6): one home, read by
the AWS, GCP and Kubernetes builders and by `flowc check` (through targets/rules.py).

Per setting (README "Operations settings" has the table):
- overlap: k8s concurrencyPolicy Forbid/Allow/Replace; aws: `skip` reserves Lambda
  concurrency 1, `allow` reserves none; `replace` is E470 on aws and gcp. `skip` is not
  enforced by ECS or Cloud Scheduler: documented (README), not warned, since it is the
  default and a warning on every such task would teach people to ignore warnings.
- catch_up: k8s startingDeadlineSeconds; the managed schedulers miss nothing.
- enabled = false: schedule state DISABLED, Cloud Scheduler job paused, CronJob suspend.
- jitter: EventBridge flexible time window in whole minutes (W471); gcp/k8s: W472.
- input: FLOWC_INPUT in every runtime environment; on Lambda also the event's `input`.
- from/until: EventBridge start_date/end_date; gcp/k8s have none (W473).
- retry_backoff: Cloud Scheduler min_backoff_duration; fixed on aws and k8s (W474).
- max_age: Lambda/EventBridge maximum event age (1m..6h, E471), Cloud Scheduler
  max_retry_duration, Job activeDeadlineSeconds.
- python_version: Lambda runtime pythonX.Y, Cloud Functions pythonXY, image python:X.Y-slim.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from flowc.compiler.ir import DEFAULT_PYTHON, App, ImageHandler, PythonHandler, Task
from flowc.diagnostics import Diagnostic

# Lambda's asynchronous invocations: an event older than this is dropped (60 s .. 6 h).
AWS_EVENT_AGE_S = (60, 21600)
AWS_DEFAULT_EVENT_AGE_S = 21600  # how long a run may wait for a retry (Lambda, Scheduler)
AWS_FLEXIBLE_WINDOW_MIN = (1, 1440)
K8S_CATCH_UP_FLOOR_S = 60  # catch_up = 0: a fire that cannot start within a minute is dropped
K8S_POLICY = {"skip": "Forbid", "allow": "Allow", "replace": "Replace"}
GCP_MIN_BACKOFF_S = 30


# -- shared ---------------------------------------------------------------------------

def input_env(task: Task) -> dict[str, str]:
    """FLOWC_INPUT for every target's runtime environment (absent without `input`)."""
    return {"FLOWC_INPUT": task.input} if task.input is not None else {}


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- aws ------------------------------------------------------------------------------

def lambda_runtime_of(version: str) -> str:
    return f"python{version}"


def lambda_runtime(task: Task) -> str:
    return lambda_runtime_of(task.python_version)


def reserved_concurrency(task: Task) -> int | None:
    """`overlap = skip` on Lambda: one run at a time (a second fire is throttled)."""
    return 1 if task.overlap == "skip" else None


def event_age_s(task: Task) -> int:
    return task.max_age_s if task.max_age_s is not None else AWS_DEFAULT_EVENT_AGE_S


def aws_schedule_fields(task: Task, index: int, zone: str) -> dict[str, Any]:
    """state, flexible_time_window, start_date/end_date of one aws_scheduler_schedule."""
    fields: dict[str, Any] = {"state": "ENABLED" if task.enabled else "DISABLED"}
    if task.jitter_s:
        minutes = min(max(math.ceil(task.jitter_s / 60), AWS_FLEXIBLE_WINDOW_MIN[0]),
                      AWS_FLEXIBLE_WINDOW_MIN[1])
        fields["flexible_time_window"] = [{"mode": "FLEXIBLE",
                                           "maximum_window_in_minutes": minutes}]
    else:
        fields["flexible_time_window"] = [{"mode": "OFF"}]
    start, end = task.window(index).bounds(zone)
    if start is not None:
        fields["start_date"] = _utc(start)
    if end is not None:
        fields["end_date"] = _utc(end)
    return fields


def aws_target_input(task: Task) -> str | None:
    """The Lambda event a schedule sends: the task's `input` under "input"."""
    if task.input is None or not isinstance(task.handler, PythonHandler):
        return None
    return json.dumps({"input": json.loads(task.input)}, sort_keys=True)


# -- gcp ------------------------------------------------------------------------------

def gcp_runtime(task: Task) -> str:
    return "python" + task.python_version.replace(".", "")


def gcp_retry_config(task: Task) -> dict[str, Any]:
    backoff = task.retry_backoff_s if task.retry_backoff_s is not None else GCP_MIN_BACKOFF_S
    return {
        "retry_count": task.retries,
        "min_backoff_duration": f"{backoff}s",
        "max_backoff_duration": f"{max(600, backoff)}s",
        "max_doublings": 3,
        "max_retry_duration": f"{task.max_age_s or 0}s",
    }


# -- k8s ------------------------------------------------------------------------------



def k8s_python_image(configured: str | None, task: Task | None = None) -> str:
    """`k8s { python_image }` when given, else the official image of the task's python."""
    version = task.python_version if task is not None else DEFAULT_PYTHON
    return configured or f"python:{version}-slim"


def k8s_cron_fields(task: Task) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "concurrencyPolicy": K8S_POLICY[task.overlap],
        "startingDeadlineSeconds": max(task.catch_up_s, K8S_CATCH_UP_FLOOR_S),
    }
    if not task.enabled:
        fields["suspend"] = True
    return fields


def k8s_job_deadline(task: Task, deadline: int) -> int:
    """`max_age`: the Job (all its attempts) ends this long after it started, at most."""
    return min(deadline, task.max_age_s + task.timeout_s) if task.max_age_s else deadline


# -- diagnostics ----------------------------------------------------------------------

def diagnostics(app: App, target: str) -> list[Diagnostic]:
    """What `target` cannot do of its tasks' operations settings (E: refused, W: weaker)."""
    out: list[Diagnostic] = []
    for task in app.tasks_for(target):
        span = task.span
        image = isinstance(task.handler, ImageHandler)
        if task.overlap == "replace" and target in ("aws", "gcp"):
            out.append(Diagnostic(
                "E470", f"task `{task.name}`: `overlap = replace` cannot be done on {target} "
                "(a running " + ("ECS task" if target == "aws" and image else
                                 "Lambda invocation" if target == "aws" else "Cloud Run job")
                + " cannot be stopped by the next fire)", span,
                "use `overlap = skip` or `allow`, or run the task on k8s only "
                "(`targets = [k8s]`)"))
        if task.jitter_s and target == "aws" and task.jitter_s % 60:
            out.append(Diagnostic(
                "W471", f"task `{task.name}`: jitter {task.jitter_s}s becomes a flexible "
                f"window of {math.ceil(task.jitter_s / 60)} minute(s) on aws "
                "(EventBridge counts whole minutes)", span,
                "write the jitter in whole minutes, e.g. `jitter = 5m`"))
        if task.jitter_s and target in ("gcp", "k8s"):
            out.append(Diagnostic(
                "W472", f"task `{task.name}`: `jitter` is not applied on {target} "
                "(its scheduler has no flexible window); runs start on time there", span,
                "remove `jitter`, or spread the schedule yourself (e.g. `cron(\"7 * * * *\")`)"))
        if any(w.start or w.end for w in task.windows) and target in ("gcp", "k8s"):
            out.append(Diagnostic(
                "W473", f"task `{task.name}`: `from`/`until` are not enforced on {target} "
                "(its scheduler has no start or end date); the schedule fires outside them",
                span, "deploy the task when it should start and remove it when it should end, "
                "or run it on aws"))
        if task.retry_backoff_s is not None and target in ("aws", "k8s"):
            fixed = ("Lambda retries after about 1 and 2 minutes" if target == "aws" and not image
                     else "EventBridge retries a failed RunTask with its own back-off"
                     if target == "aws" else "a Job's back-off is 10s, 20s, 40s, ... (6m max)")
            out.append(Diagnostic(
                "W474", f"task `{task.name}`: `retry_backoff` is not configurable on {target} "
                f"({fixed})", span, "remove `retry_backoff`, or rely on the target's back-off"))
        if target == "aws" and task.max_age_s is not None and not (
                AWS_EVENT_AGE_S[0] <= task.max_age_s <= AWS_EVENT_AGE_S[1]):
            out.append(Diagnostic(
                "E471", f"task `{task.name}`: `max_age` must be between 1m and 6h on aws "
                f"(Lambda's maximum event age), not {task.max_age_s}s", span,
                "write e.g. `max_age = 1h`"))
    return out
