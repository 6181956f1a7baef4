"""The scheduler loop: a queue of next fire times on a (virtual) clock.

Fire times come only from `Schedule.next_fires` (the evaluator `flowc schedule`
and the compiler use), so the emulator cannot disagree with the targets. A task
with several schedules fires at the union of their instants (once per instant).
Every fire is handed to a callback (the executor) and the task's next instant is
queued at once, so a slow run never delays the schedule. The scheduler keeps a
gate on the clock at the earliest fire it has not handed over yet (clock.py): the
virtual clock reaches that instant and waits there until the fire has been handed
to the executor, so no speed, `max` included, can skip or lose a fire.

The first plan counts from the clock's origin (`--start`, or when the virtual clock
began), so `--start X --for 10m` fires exactly the instants in (X, X + 10m].
`set_app` swaps the plan atomically under the loop's lock: tasks whose schedules
did not change keep their next fire time, changed and new ones are re-planned
from the current virtual time, removed ones leave the queue. Runs already in
flight are not touched; they finish with the task definition they started with.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flowc.compiler.ir import App, Task
from flowc.emulator.clock import Clock

FireCallback = Callable[[App, Task, datetime], None]


@dataclass
class PlanDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # any setting differs
    rescheduled: list[str] = field(default_factory=list)  # schedules or timezone differ

    def to_json(self) -> dict[str, list[str]]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed,
                "rescheduled": self.rescheduled}  # fmt: skip

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _same_timing(a: Task, b: Task) -> bool:
    return a.schedules == b.schedules and a.timezone == b.timezone and a.windows == b.windows


def diff_apps(old: App | None, new: App) -> PlanDiff:
    """What changed between two checked IRs, task by task."""
    before = {t.name: t for t in old.tasks} if old else {}
    after = {t.name: t for t in new.tasks}
    diff = PlanDiff(
        added=[n for n in after if n not in before],
        removed=[n for n in before if n not in after],
    )
    for name, task in after.items():
        if name in before and before[name] != task:
            diff.changed.append(name)
            if not _same_timing(before[name], task):
                diff.rescheduled.append(name)
    return diff


class Scheduler:
    """Owns the queue of next fires; `run()` is the loop (call `start()` for a thread)."""

    def __init__(
        self,
        clock: Clock,
        fire: FireCallback,
        until: datetime | None = None,
        on_error: Callable[[str], None] | None = None,
    ):
        self.clock = clock
        self.fire = fire
        self.until = until
        self.on_error = on_error or (lambda message: None)
        self._cond = clock.condition  # one lock with the clock: its holds wake the loop
        self._heap: list[tuple[datetime, int, str, int]] = []
        self._next: dict[str, tuple[datetime, int]] = {}  # task -> (fire time, generation)
        self._seq = itertools.count()
        self._gen = itertools.count(1)
        self._app: App | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._broken: set[str] = set()
        self._done = threading.Event()  # every fire up to `until` has been handed over
        self._handing: datetime | None = None  # the fire being handed over (kept gated)

    @property
    def app(self) -> App | None:
        return self._app

    def next_after(self, task: Task, after: datetime) -> datetime | None:
        """The earliest instant of any of the task's schedules strictly after `after`."""
        best: datetime | None = None
        for index, schedule in enumerate(task.schedules):
            try:
                window = task.window(index)  # `from`/`until`
                opens, closes = (window.bounds(schedule.zone) if window.start or window.end
                                 else (None, None))
                start = after if opens is None else max(after, opens - timedelta(microseconds=1))
                fires = [f for f in schedule.next_fires(start, 1)
                         if closes is None or f.astimezone(UTC) < closes]
            except Exception as exc:  # noqa: BLE001 - report, keep the other tasks running
                key = f"{task.name}:{schedule.source}"
                if key not in self._broken:
                    self._broken.add(key)
                    self.on_error(f"task `{task.name}`: cannot evaluate {schedule.source}: {exc}")
                continue
            if fires:
                moment = fires[0].astimezone(UTC)
                if best is None or moment < best:
                    best = moment
        return best

    def _plan(self, task: Task, after: datetime) -> None:
        moment = self.next_after(task, after)
        if moment is None:
            self._next.pop(task.name, None)
            return
        gen = next(self._gen)
        self._next[task.name] = (moment, gen)
        heapq.heappush(self._heap, (moment, next(self._seq), task.name, gen))

    def set_app(self, app: App) -> PlanDiff:
        """Swap in a new plan atomically; returns what changed."""
        with self._cond:
            old = self._app
            diff = diff_apps(old, app)
            now = self.clock.now() if old is not None else self.clock.epoch()
            before = {t.name: t for t in old.tasks} if old else {}
            for task in app.tasks:
                prev = before.get(task.name)
                if prev is None or not _same_timing(prev, task) or task.name not in self._next:
                    self._plan(task, now)
            for name in diff.removed:
                self._next.pop(name, None)
            self._app = app
            self._sync_gate()
            self._cond.notify_all()
        return diff

    def snapshot(self) -> dict[str, datetime | None]:
        """Next fire time of every task of the current plan (None: never again)."""
        with self._cond:
            if self._app is None:
                return {}
            return {t.name: self._next.get(t.name, (None, 0))[0] for t in self._app.tasks}

    def _head(self) -> datetime | None:
        """Under the lock: the earliest live fire up to `until` (superseded ones dropped)."""
        while self._heap:
            moment, _, name, gen = self._heap[0]
            if self._next.get(name) != (moment, gen):
                heapq.heappop(self._heap)  # superseded by a reload or a removal
                continue
            return None if self.until is not None and moment > self.until else moment
        return None

    def _sync_gate(self) -> None:
        """Under the lock: gate the clock at the earliest fire not handed over yet."""
        gate = self._head()
        if self._handing is not None and (gate is None or self._handing < gate):
            gate = self._handing
        self.clock.set_gate(self, None if self._stopped else gate)

    def _pop_due(self) -> tuple[App, Task, datetime] | None:
        """Under the lock: the next due fire, or None after waiting a bit."""
        self._sync_gate()
        moment = self._head()
        if moment is None:
            if self.until is not None:
                self._done.set()  # nothing left up to `until`
            self._cond.wait(0.5)
            return None
        delay = self.clock.real_seconds_until(moment)
        if delay != 0:
            self._cond.wait(0.5 if delay is None else min(delay, 0.5))
            return None
        _, _, name, _ = heapq.heappop(self._heap)
        assert self._app is not None
        task = self._app.task(name)
        self._handing = moment  # the gate stays here until the executor has the fire
        self._plan(task, moment)
        return self._app, task, moment

    def wait_done(self, timeout: float) -> bool:
        """Wait until every fire up to `until` has been handed to the callback."""
        with self._cond:
            self._cond.notify_all()
        return self._done.wait(timeout)

    def run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                due = self._pop_due()
            if due is not None:
                try:
                    self.fire(*due)
                except Exception as exc:  # noqa: BLE001 - one bad fire must not stop the loop
                    self.on_error(f"task `{due[1].name}`: could not start a run: {exc}")
                finally:
                    with self._cond:
                        self._handing = None
                        self._sync_gate()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="flowc-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self.clock.set_gate(self, None)
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
