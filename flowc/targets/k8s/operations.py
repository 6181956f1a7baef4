"""What Kubernetes makes of a task's operations settings (flowc/targets/operations.py
lists them)."""

from __future__ import annotations

from typing import Any

from flowc.compiler.ir import DEFAULT_PYTHON, App, Task
from flowc.diagnostics import Diagnostic
from flowc.targets.operations import fixed_backoff, no_jitter, no_window, start_window_s

K8S_POLICY = {"skip": "Forbid", "allow": "Allow", "replace": "Replace"}


def k8s_python_image(configured: str | None, task: Task | None = None) -> str:
    """`k8s { python_image }` when given, else the official image of the task's python."""
    version = task.python_version if task is not None else DEFAULT_PYTHON
    return configured or f"python:{version}-slim"


def k8s_cron_fields(task: Task) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "concurrencyPolicy": K8S_POLICY[task.overlap],
        "startingDeadlineSeconds": start_window_s(task),
    }
    if not task.enabled:
        fields["suspend"] = True
    return fields


def k8s_job_deadline(task: Task, deadline: int) -> int:
    """`max_age`: the Job (all its attempts) ends this long after it started, at most."""
    return min(deadline, task.max_age_s + task.timeout_s) if task.max_age_s else deadline


def diagnostics(app: App) -> list[Diagnostic]:
    """What Kubernetes cannot do of its tasks' operations settings (all weaker: W)."""
    out = []
    for task in app.tasks_for("k8s"):
        out += [no_jitter(task, "k8s"), no_window(task, "k8s"),
                fixed_backoff(task, "k8s", "a Job's back-off is 10s, 20s, 40s, ... (6m max)")]
    return [d for d in out if d is not None]
