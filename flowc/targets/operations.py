"""What every target shares of a task's operations settings (SPEC §6): `FLOWC_INPUT`, and
the diagnostics more than one target gives. What each target makes of them lives in its
package (`flowc/targets/<name>/operations.py`), read by its builder and, through the
builder's `check`, by `flowc check` and `flowc compile` alike.

Per setting (docs/language.md "Operations settings" has the table):
- overlap: k8s concurrencyPolicy Forbid/Allow/Replace. `skip` on python tasks: one run at
  a time (Lambda reserved concurrency 1; one Cloud Functions instance taking one request)
  plus flowc's wrapper, which drops a fire that starts after its start window
  (`start_window_s`, the same window as k8s's startingDeadlineSeconds): logged `skipped`,
  answered as a success so nothing retries or dead-letters it. Image tasks on aws: a Step
  Functions guard between the schedule and ECS (flowc/targets/aws/overlap_guard.py) holds
  or skips the fire (`skip`) or stops the run in flight (`replace`). `skip` on image tasks
  on gcp is not enforced (Cloud Run jobs start every fire): one W475 per app names those
  tasks. `replace` is E470 on gcp and for python tasks on aws.
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

from collections.abc import Sequence
from importlib import resources

from flowc.compiler.ir import Task
from flowc.diagnostics import Diagnostic, named

# A fire may start this late at least, on every target: a CronJob needs the slack (its
# controller looks every 10 s), a Lambda or a Cloud Function a cold start.
START_WINDOW_FLOOR_S = 60

# The `overlap = skip` cut-off both clouds' python wrappers import (flowc/targets/assets).
FIRE_FILE = "flowc_fire.py"


def fire_files() -> dict[str, bytes]:
    """The file(s) to add to a python task's archive next to its wrapper."""
    return {FIRE_FILE: resources.files("flowc.targets").joinpath("assets", FIRE_FILE)
            .read_bytes()}


def start_window_s(task: Task) -> int:
    """How late a fire may still start (k8s startingDeadlineSeconds; under `overlap =
    skip`, the wrapper's cut-off): the task's `catch_up`, at least a minute."""
    return max(task.catch_up_s, START_WINDOW_FLOOR_S)


def unguarded_skip(tasks: Sequence[Task], target: str, why: str) -> Diagnostic | None:
    """W475, once per app and target: image tasks whose default `overlap = skip` the
    target cannot enforce (`why`); none when every such task says `overlap = allow`."""
    affected = [t for t in tasks if t.overlap == "skip" and t.handler.kind == "image"]
    if not affected:
        return None
    listed = named([t.name for t in affected])
    return Diagnostic(
        "W475", f"`overlap = skip` is not enforced on {target} for image task(s) {listed}: "
        f"{why}, so a fire during a run starts a second one", affected[0].span,
        "make the task safe to overlap and say `overlap = allow`, run it on k8s "
        "(`concurrencyPolicy: Forbid`), or add `# flowc: allow W475`")


def input_env(task: Task) -> dict[str, str]:
    """FLOWC_INPUT for every target's runtime environment (absent without `input`)."""
    return {"FLOWC_INPUT": task.input} if task.input is not None else {}


def no_replace(task: Task, target: str, running: str) -> Diagnostic | None:
    """E470: `overlap = replace` where the next fire cannot stop the `running` run."""
    if task.overlap != "replace":
        return None
    return Diagnostic(
        "E470", f"task `{task.name}`: `overlap = replace` cannot be done on {target} "
        f"(a running {running} cannot be stopped by the next fire)", task.span,
        "use `overlap = skip` or `allow`, or run the task on k8s only (`targets = [k8s]`)")


def no_jitter(task: Task, target: str) -> Diagnostic | None:
    """W472: `jitter` on a target whose scheduler has no flexible window."""
    if not task.jitter_s:
        return None
    return Diagnostic(
        "W472", f"task `{task.name}`: `jitter` is not applied on {target} "
        "(its scheduler has no flexible window); runs start on time there", task.span,
        "remove `jitter`, or spread the schedule yourself (e.g. `cron(\"7 * * * *\")`)")


def no_window(task: Task, target: str) -> Diagnostic | None:
    """W473: `from`/`until` on a target whose scheduler has no start or end date."""
    if not any(w.start or w.end for w in task.windows):
        return None
    return Diagnostic(
        "W473", f"task `{task.name}`: `from`/`until` are not enforced on {target} "
        "(its scheduler has no start or end date); the schedule fires outside them",
        task.span, "deploy the task when it should start and remove it when it should end, "
        "or run it on aws")


def fixed_backoff(task: Task, target: str, fixed: str) -> Diagnostic | None:
    """W474: `retry_backoff` on a target whose back-off is `fixed`."""
    if task.retry_backoff_s is None:
        return None
    return Diagnostic(
        "W474", f"task `{task.name}`: `retry_backoff` is not configurable on {target} "
        f"({fixed})", task.span, "remove `retry_backoff`, or rely on the target's back-off")
