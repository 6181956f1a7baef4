"""What GCP makes of a task's operations settings (flowc/targets/operations.py lists them)."""

from __future__ import annotations

from typing import Any

from flowc.compiler.ir import App, Task
from flowc.diagnostics import Diagnostic
from flowc.targets.operations import (
    no_jitter,
    no_replace,
    no_window,
    start_window_s,
    unguarded_skip,
)

GCP_MIN_BACKOFF_S = 30
GCP_ALLOW_MAX_INSTANCES = 100  # `overlap = allow`: Cloud Functions' own default


def gcp_max_instances(task: Task) -> int:
    """`overlap = skip`: one instance taking one request, so runs never overlap (a second
    request waits up to 60 s for it, then fails with 429); `allow`: the usual default."""
    return 1 if task.overlap == "skip" else GCP_ALLOW_MAX_INSTANCES


def skip_env(task: Task) -> dict[str, str]:
    """FLOWC_START_WITHIN_S under `overlap = skip`: flowc_entry skips a later fire."""
    return {"FLOWC_START_WITHIN_S": str(start_window_s(task))} if task.overlap == "skip" else {}


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


def diagnostics(app: App) -> list[Diagnostic]:
    """What GCP cannot do of its tasks' operations settings (E: refused, W: weaker)."""
    out = []
    for task in app.tasks_for("gcp"):
        out += [no_replace(task, "gcp", "Cloud Run job"), no_jitter(task, "gcp"),
                no_window(task, "gcp")]
    out.append(unguarded_skip(app.tasks_for("gcp"), "gcp", "Cloud Scheduler's call to a Cloud "
                              "Run job's `:run` returns at once, and a job runs any number of "
                              "executions"))
    return [d for d in out if d is not None]
