"""What `flowc dev` shows: a rich live table on a terminal, plain lines otherwise.

Both views print one line per event and each line of task output prefixed by the
task name (`daily_report | ...`). On a TTY a live table stays at the bottom: per
task its next fire (virtual time, UTC), last result, and counts of succeeded,
failed and dead-lettered runs, under the current virtual time.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

SnapshotFn = Callable[[], dict[str, datetime | None]]
NowFn = Callable[[], datetime]
_SKIP_FIELDS = {"event", "task", "service", "at", "wall"}


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in _SKIP_FIELDS or key in ("next", "diagnostics"):
            continue
        if key == "changes" and isinstance(value, dict):
            out.update({k: ",".join(v) for k, v in value.items() if v})
        elif isinstance(value, list):
            out[key] = ",".join(str(v) for v in value)
        elif not isinstance(value, dict):
            out[key] = value
    return out


def format_event(record: dict[str, Any]) -> str:
    details = " ".join(f"{k}={v}" for k, v in _flat(record).items())
    task = record.get("task") or record.get("service") or "-"
    return f"{record['at']}  {record['event']:<13} {task:<20} {details}".rstrip()


class TaskStats:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.last: dict[str, str] = {}
        self.running: Counter[str] = Counter()

    def update(self, record: dict[str, Any]) -> None:
        task, event = record.get("task"), record["event"]
        if not task:
            return
        if event == "started":
            self.running[task] += 1
        elif event in ("succeeded", "failed"):
            self.running[task] = max(0, self.running[task] - 1)
        when = record["at"][11:19]
        if event == "succeeded":
            self.counts[(task, "ok")] += 1
            self.last[task] = f"ok {when}"
        elif event == "failed" and record.get("final"):
            self.counts[(task, "failed")] += 1
            code = record.get("exit_code")
            self.last[task] = f"exit {code} {when}" if code is not None else f"error {when}"
        elif event == "dead_lettered":
            self.counts[(task, "dlq")] += 1
            self.last[task] = f"dlq {when}"


class PlainView:
    """Line output: for pipes, logs and CI."""

    def __init__(self, stream: TextIO | None = None, output_stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.output_stream = output_stream or self.stream
        self._lock = threading.Lock()
        self.stats = TaskStats()

    def _print(self, text: str, stream: TextIO | None = None) -> None:
        with self._lock:
            out = stream or self.stream
            out.write(text + "\n")
            out.flush()

    def start(self, snapshot: SnapshotFn, header: str, now: NowFn | None = None) -> None:
        self._print(header)

    def event(self, record: dict[str, Any]) -> None:
        self.stats.update(record)
        self._print(format_event(record))

    def output(self, task: str, stream: str, line: str) -> None:
        self._print(f"{task} | {line}", self.output_stream)

    def message(self, text: str) -> None:
        self._print(text.rstrip("\n"))

    def stop(self) -> None:
        pass


class RichView(PlainView):
    """Plain lines scrolling above a live table of tasks."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console

        self.console = Console(highlight=False)
        self._live: Any = None
        self._snapshot: SnapshotFn = dict
        self._now: NowFn | None = None
        self.toggle: Callable[[str], None] | None = None  # pause/resume a task (a key)
        self.paused: Callable[[], set[str]] = set
        self._tty: Any = None  # the terminal's settings while keys are read

    def __rich__(self) -> Any:
        from rich.table import Table

        title = f"virtual time {self._now():%Y-%m-%d %H:%M:%S %Z}" if self._now else None
        table = Table(title=title, title_justify="left", expand=False)
        keys = self.toggle is not None  # a number per row: its key pauses or resumes it
        if keys:
            table.caption = "press a task's number to pause or resume it"
        for column in ("#",) * keys + ("task", "next fire", "last", "ok", "failed", "dlq",
                                        "running"):
            table.add_column(column, no_wrap=True)
        paused = self.paused()
        for number, (task, moment) in enumerate(sorted(self._snapshot().items()), 1):
            c = self.stats.counts
            table.add_row(
                *(str(number) if number < 10 else "",) * keys,
                task + (" (paused)" if task in paused else ""),
                f"{moment:%m-%d %H:%M:%S}" if moment else "-",
                self.stats.last.get(task, "-"),
                str(c[(task, "ok")]),
                str(c[(task, "failed")]),
                str(c[(task, "dlq")]),
                str(self.stats.running[task]),
            )
        return table

    def start(self, snapshot: SnapshotFn, header: str, now: NowFn | None = None) -> None:
        from rich.live import Live

        self._print(header)
        self._snapshot = snapshot
        self._now = now
        self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
        self._live.start()
        if self.toggle is not None and sys.stdin.isatty():
            self._read_keys()

    def _read_keys(self) -> None:
        """Keys 1-9 pause or resume the task on that row (a daemon thread, cbreak mode)."""
        import termios
        import threading
        import tty

        fd = sys.stdin.fileno()
        self._tty = termios.tcgetattr(fd)
        tty.setcbreak(fd)

        def loop() -> None:
            while self._live is not None:
                key = sys.stdin.read(1)
                task = task_for_key(key, sorted(self._snapshot()))
                if task is not None and self.toggle is not None:
                    self.toggle(task)

        threading.Thread(target=loop, name="flowc-keys", daemon=True).start()

    def _print(self, text: str, stream: TextIO | None = None) -> None:
        from rich.text import Text

        with self._lock:
            self.console.print(Text(text), soft_wrap=True)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._tty is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._tty)
            self._tty = None


def task_for_key(key: str, tasks: list[str]) -> str | None:
    """The task a key names in the live table: 1 is the first row, up to 9."""
    if len(key) == 1 and key in "123456789" and int(key) <= len(tasks):
        return tasks[int(key) - 1]
    return None


def make_view(plain: bool = False) -> PlainView:
    if plain or not sys.stdout.isatty():
        return PlainView()
    return RichView()
