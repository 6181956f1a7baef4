"""Helpers for the emulator tests: IR builders, task code, an event collector, views."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from flowc.compiler import ir
from flowc.compiler.schedules.model import Schedule

JOBS = '''
import os, subprocess, sys, time

def ok():
    print("ok", os.environ.get("GREETING", ""))

def fail():
    print("boom: disk full", file=sys.stderr)
    sys.exit(3)

def secret():
    print("secret=" + os.environ["DB_URL"])

def slow():
    time.sleep(float(os.environ.get("SLEEP", "30")))
    print("slept")

def spawn():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                              os.environ["MARKER"]])
    with open(os.environ["PIDFILE"], "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    time.sleep(120)

def lambda_style(event, context):
    print("event", event["task"], event["run_id"], context.aws_request_id)
'''


def every(text: str, timezone: str = "UTC") -> Schedule:
    return Schedule("every", text, timezone)


def shown(code: str) -> str:
    """How a diagnostic's code appears in text output: `error[E503]`, `warning[W501]`."""
    return f"{'error' if code.startswith('E') else 'warning'}[{code}]"


def write_jobs(base: Path) -> None:
    (base / "jobs").mkdir(parents=True, exist_ok=True)
    (base / "jobs" / "__init__.py").write_text("")
    (base / "jobs" / "main.py").write_text(JOBS)


def make_task(name: str, function: str = "ok", **settings: Any) -> ir.Task:
    values: dict[str, Any] = dict(
        name=name, handler=ir.PythonHandler("jobs.main", function),
        schedules=(every("1m"),), timezone="UTC", memory_mib=128, cpu=None, timeout_s=30,
        retries=0, env=(), on_failure=None, alerts=(), targets=("aws", "gcp", "k8s"),
        requirements=None, description=None, code_dir=".",
    )  # fmt: skip
    values.update(settings)
    return ir.Task(**values)


def make_app(base: Path, *tasks: ir.Task, name: str = "t", secrets: tuple[str, ...] = ()):
    return ir.App(
        name=name, source=str(base / "app.flow"), base_dir=str(base), environment=None,
        tasks=tasks, secrets=tuple(ir.Secret(s) for s in secrets),
    )  # fmt: skip


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}{time.monotonic_ns() % 10**9}"


class Collector:
    """Receives events (a bus listener) and task output; waits for conditions."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lines: list[tuple[str, str, str]] = []
        self.messages: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, record: dict[str, Any]) -> None:
        with self._cond:
            self.events.append(record)
            self._cond.notify_all()

    def output(self, task: str, stream: str, line: str) -> None:
        with self._cond:
            self.lines.append((task, stream, line))
            self._cond.notify_all()

    def named(self, event: str, task: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events
                    if e["event"] == event and (task is None or e.get("task") == task)]

    def wait(self, predicate, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                assert left > 0, f"timed out; events: {[e['event'] for e in self.events]}"
                self._cond.wait(min(left, 0.1))


def wait_until(predicate, timeout: float = 20.0, what: str = "a condition"):
    """Poll `predicate` until it returns something true (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_file_events(path: Path, predicate, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Poll a JSONL events file until `predicate(events)` holds."""
    deadline = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        events = []
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        if predicate(events):
            return events
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting on {path}; got {[e['event'] for e in events]}")


def alive(pid: int) -> bool:
    """True if `pid` runs and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def processes_with(marker: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes() and alive(int(entry.name)):
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


PYTHON = sys.executable


class RecordingView:
    """A view that keeps what `flowc dev` would print, for assertions."""

    def __init__(self) -> None:
        self.collector = Collector()
        self.messages: list[str] = []

    def start(self, snapshot, header: str, now=None) -> None:
        self.messages.append(header)

    def event(self, record: dict[str, Any]) -> None:
        self.collector(record)

    def output(self, task: str, stream: str, line: str) -> None:
        self.collector.output(task, stream, line)

    def message(self, text: str) -> None:
        with self.collector._cond:
            self.messages.append(text)
            self.collector._cond.notify_all()

    def stop(self) -> None:
        pass

    def text(self) -> str:
        with self.collector._cond:
            return "\n".join(self.messages)
