"""Crash recovery: what a flowc that died (kill -9, power loss) left on its state.

Run at the start of every session that holds the state lock (statelock.py):
- `close_abandoned`: runs still `running` whose owning flowc process is gone (pid and
  start time, so a reused pid is never mistaken for it). Their processes are killed
  (the recorded supervisor, then anything still carrying their FLOWC_RUN_ID), their
  unfinished attempts closed, the run closed as `abandoned` and, when the task has
  `on_failure = dead_letter`, sent to its dead-letter queue with that reason (a cut-short
  redrive instead leaves its letter queued, to be replayed again).
- `record_missed`: fires that fell between the last instant a session of this app was
  alive (the `sessions` heartbeat) and the first fire the new session will take, with
  no run recorded: each becomes a `missed` row and event, on the clock kind (real or
  virtual) the last session used; a virtual session that starts before the instant the
  last one reached is a replay, not downtime. `catch_up` decides which missed fire runs
  anyway (the task's `catch_up` setting: the latest within it, once).
"""

from __future__ import annotations

import os
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

from flowc.compiler.ir import App, Task
from flowc.emulator import processes
from flowc.emulator.clock import Clock, RealClock, iso
from flowc.emulator.events import EventBus
from flowc.emulator.history import History

MISSED_CAP = 1000  # rows recorded per task for one downtime; the rest are counted
BATCH = 100


def clock_kind(clock: Clock) -> str:
    return "real" if isinstance(clock, RealClock) else "virtual"


def close_abandoned(history: History, app: App, cloud: Any, bus: EventBus, clock: Clock) -> int:
    """Close every run whose flowc died; returns how many."""
    runs = [r for r in history.open_runs()
            if not processes.is_same(r["owner_pid"], r["owner_start"])]  # fmt: skip
    if not runs:
        return 0
    for run in runs:
        for pid, started in run["processes"]:
            if processes.is_same(pid, started):  # a supervisor that outlived flowc
                os.kill(pid, signal.SIGUSR1)  # it kills its whole tree
    processes.kill_leftovers(r["run_id"] for r in runs)
    tasks = {t.name: t for t in app.tasks}
    for run in runs:
        _close(history, app, tasks.get(run["task"]) if run["app"] == app.name else None,
               run, cloud, bus, clock)  # fmt: skip
    return len(runs)


def _close(history: History, app: App, task: Task | None, run: dict[str, Any], cloud: Any,
           bus: EventBus, clock: Clock) -> None:
    at, wall = iso(clock.now()), iso(clock.wall())
    owner = run["owner_pid"] or "unknown"
    error = f"abandoned: the flowc process (pid {owner}) running it stopped before it finished"
    history.close_attempts(run["run_id"], at, wall, error)
    queue = message_id = None
    if run["trigger"] == "redrive":
        # its letter is still queued (deleted only after a replay is recorded, redrive.py):
        # no second letter, and the next redrive replays it again
        history.forget_replay(run["run_id"])
    elif task is not None and task.on_failure == "dead_letter" and cloud is not None:
        body = {
            "app": app.name, "task": task.name, "run_id": run["run_id"],
            "attempts": run["attempts"], "attempt": run["attempts"], "exit_code": None,
            "timed_out": False, "interrupted": True, "stderr_tail": None,
            "reason": "abandoned", "error": error, "scheduled_at": run["scheduled_at"],
            "failed_at": at,
        }  # fmt: skip
        try:
            queue, message_id = cloud.send_dead_letter(app, task.name, body)
        except Exception as exc:  # noqa: BLE001 - the row still says what happened
            error += f"; could not send to the dead-letter queue: {exc}"
    history.finish_run(run["run_id"], "abandoned", at, wall, None, error=error,
                       dead_letter_queue=queue, dead_letter_message_id=message_id)
    bus.emit("abandoned", run["task"], run_id=run["run_id"], attempts=run["attempts"],
             error=error, queue=queue, message_id=message_id)  # fmt: skip


def fires_between(task: Task, after: datetime, before: datetime) -> tuple[list[datetime], int]:
    """Fires of `task` in (after, before), the first MISSED_CAP of them, and how many in all."""
    found: set[datetime] = set()
    for schedule in task.schedules:
        cursor, size = after, 1  # most starts missed nothing: ask for one fire, then more
        while True:
            try:
                batch = [f.astimezone(UTC) for f in schedule.next_fires(cursor, size)]
            except Exception:  # noqa: BLE001 - the scheduler reports broken schedules
                break
            found.update(f for f in batch if f < before)
            if len(batch) < size or batch[-1] >= before or len(found) > 50 * MISSED_CAP:
                break
            cursor, size = batch[-1], min(size * 4, BATCH)
    ordered = sorted(found)
    return ordered[:MISSED_CAP], len(ordered)


def catch_up(task: Task, missed: list[datetime], now: datetime) -> list[datetime]:
    """Which missed fires run now: with `catch_up = DURATION`, the latest one that fell
    within DURATION before now, once (as a CronJob's startingDeadlineSeconds would)."""
    if not task.catch_up_s or not task.enabled:
        return []
    recent = [f for f in missed if (now - f).total_seconds() <= task.catch_up_s]
    return recent[-1:]


def record_missed(history: History, app: App, bus: EventBus, clock: Clock,
                  planned: dict[str, datetime | None],
                  due: dict[str, datetime] | None = None) -> dict[str, int]:
    """Record the fires no session took while none ran; returns task -> how many.
    `due` receives, per task, the missed fire its `catch_up` says to run now.

    A virtual clock has downtime too when a session starts (`--start`) after the instant
    the last one on this state reached: the fires in between were missed."""
    seen = history.last_seen(app.name)
    if seen is None or seen["clock"] != clock_kind(clock):
        return {}
    since = datetime.fromisoformat(seen["last_at"])
    if clock_kind(clock) == "virtual" and clock.epoch() <= since:
        return {}  # a replay of time already seen, not downtime
    recorded = history.scheduled_runs(app.name, seen["last_at"])
    now = clock.now()
    counts: dict[str, int] = {}
    for task in app.tasks:
        first_taken = planned.get(task.name) or now
        fires, total = fires_between(task, since, first_taken)
        missed = [f for f in fires if (task.name, iso(f)) not in recorded]
        for moment in missed:
            run_id = uuid.uuid4().hex[:12]
            error = "missed: no flowc was running on this state at the scheduled time"
            history.record_missed(run_id, app.name, task.name, iso(moment), iso(now),
                                  iso(clock.wall()), error)  # fmt: skip
            bus.emit("missed", task.name, at=moment, run_id=run_id, scheduled_at=iso(moment))
        if missed or total > len(fires):
            counts[task.name] = len(missed) + (total - len(fires))
        for moment in catch_up(task, missed, now):
            if due is not None:
                due[task.name] = moment
    return counts
