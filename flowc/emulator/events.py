"""Emulator events: one dict per thing that happens, fanned out to listeners.

Every event is `{"event", "task", "at", "wall", ...}` where `at` is the virtual
clock and `wall` the real one (ISO 8601 with offset). `reloaded` and
`reload_failed` have no `task`; service events (and a service's `reload_failed`)
carry `service` instead. The `--events FILE.jsonl` listener appends one
JSON object a line and flushes each line, so a reader tailing the file sees
events as they happen.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from flowc.emulator.clock import Clock, iso

EVENT_NAMES = (
    "reloaded",
    "reload_failed",
    "scheduled",
    "started",
    "succeeded",
    "failed",
    "retried",
    "dead_lettered",
    "abandoned",  # a run whose flowc died in flight, closed by the next session
    "missed",  # a fire that fell while no flowc ran on this state
    "skipped",  # a fire that started no run: `reason` paused | overlap (with `running`)
    # services (flowc/emulator/services/): these carry `service` instead of `task`
    "service_started",
    "service_ready",
    "service_crashed",
    "service_restarted",
    "service_stopped",
)
SERVICE_EVENTS = tuple(e for e in EVENT_NAMES if e.startswith("service_"))
TASKLESS = ("reloaded", "reload_failed", *SERVICE_EVENTS)

Listener = Callable[[dict[str, Any]], None]


class EventBus:
    """Stamps events with both clocks and hands them to every listener, in order."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self._listeners: list[Listener] = []
        # a run's own time (executor.time_of): its events are stamped from it, not the clock
        self.run_time: Callable[[str], datetime | None] = lambda run_id: None
        self._lock = threading.Lock()
        self.failures = 0  # listener errors (each listener reports its own cause)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(
        self, event: str, task: str | None = None, at: datetime | None = None, **fields: Any
    ) -> dict[str, Any]:
        if event not in EVENT_NAMES:
            raise ValueError(f"unknown event {event!r}")
        record: dict[str, Any] = {"event": event}
        if event not in TASKLESS:
            record["task"] = task
        if at is None and fields.get("run_id"):
            at = self.run_time(fields["run_id"])
        record["at"] = iso(at or self.clock.now())
        record["wall"] = iso(self.clock.wall())
        record.update({k: v for k, v in fields.items() if v is not None})
        with self._lock:  # one total order for every listener
            for listener in self._listeners:
                try:
                    listener(record)
                except Exception:  # noqa: BLE001 - a broken listener must not end a run
                    self.failures += 1
        return record


class JsonlWriter:
    """Appends events to a JSONL file (created with its parent directory).

    Each line is one unbuffered write. A write that fails (full disk, `/dev/full`) is
    counted in `failed`, never raised; the first failure is reported through `on_fault`.
    """

    def __init__(self, path: str | Path, on_fault: Callable[[str], None] | None = None):
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a directory")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO | None = self.path.open("ab", buffering=0)
        self.on_fault = on_fault or (lambda reason: None)
        self.failed = 0
        self.first_failure: str | None = None

    def __call__(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
        try:
            self._file.write(line.encode("utf-8"))
        except OSError as exc:
            self.failed += 1
            if self.first_failure is None:
                self.first_failure = str(exc)
                self.on_fault(str(exc))

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Every complete event line of a JSONL file (a partial last line is ignored)."""
    out: list[dict[str, Any]] = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
