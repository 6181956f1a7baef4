"""Per-run output of local runs, kept in the state directory for `flowc logs`.

Layout: `<state>/logs/<app>/<task>/<run_id>.jsonl`, one JSON object a line:
`{"wall": ISO, "attempt": N, "stream": "stdout"|"stderr", "line": "..."}`.

Bounded on disk, whatever a task prints:
- a run's file is rotated when it passes RUN_CAP_BYTES: the full file becomes
  `<run_id>.jsonl.1` (replacing an older `.1`) and writing starts again, so a run keeps
  at most about twice the cap, and always its most recent output;
- each task keeps the logs of its RUNS_KEPT most recent runs; older ones are deleted
  when a new run starts.
A write that fails (full disk) is dropped: logs never fail a run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG_DIR = "logs"
SUFFIX = ".jsonl"
RUN_CAP_BYTES = 1024 * 1024
RUNS_KEPT = 100


def task_dir(state_dir: str | Path, app: str, task: str) -> Path:
    return Path(state_dir) / LOG_DIR / app / task


class RunLog:
    """The writer for one run's output (shared by its attempts and their threads)."""

    def __init__(self, state_dir: str | Path, app: str, task: str, run_id: str,
                 cap_bytes: int = RUN_CAP_BYTES, keep: int = RUNS_KEPT):
        self.dir = task_dir(state_dir, app, task)
        self.path = self.dir / f"{run_id}{SUFFIX}"
        self.cap = cap_bytes
        self._lock = threading.Lock()
        self._size = 0
        self._broken = False
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            _prune(self.dir, keep - 1)
        except OSError:
            self._broken = True

    def write(self, attempt: int, stream: str, line: str) -> None:
        record = {"wall": datetime.now(UTC).isoformat(timespec="milliseconds"),
                  "attempt": attempt, "stream": stream, "line": line}  # fmt: skip
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if self._broken:
                return
            try:
                if self._size and self._size + len(data) > self.cap:
                    self.path.replace(self.path.with_name(self.path.name + ".1"))
                    self._size = 0
                with self.path.open("ab") as file:
                    file.write(data)
                self._size += len(data)
            except OSError:
                self._broken = True  # full or read-only disk: the run goes on without logs

    def sink(self, attempt: int):
        """A `(stream, line)` callable for one attempt."""
        return lambda stream, line: self.write(attempt, stream, line)


def _prune(directory: Path, keep: int) -> None:
    """Delete the logs of all but the `keep` most recently written runs."""
    runs = sorted(directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime)
    for old in runs[: max(0, len(runs) - keep)]:
        old.unlink(missing_ok=True)
        old.with_name(old.name + ".1").unlink(missing_ok=True)


def run_files(state_dir: str | Path, app: str, task: str | None = None,
              run_id: str | None = None) -> list[tuple[str, str, list[Path]]]:
    """(task, run id, files oldest part first) for the runs asked for, oldest run first."""
    root = Path(state_dir) / LOG_DIR / app
    pattern = f"{run_id or '*'}{SUFFIX}"
    found = []
    for directory in [root / task] if task else sorted(p for p in root.glob("*") if p.is_dir()):
        for current in directory.glob(pattern):
            parts = [p for p in (current.with_name(current.name + ".1"), current) if p.exists()]
            found.append((current.stat().st_mtime, directory.name, current.stem, parts))
    found.sort(key=lambda item: item[0])
    return [(task_name, run, parts) for _, task_name, run, parts in found]


def read_lines(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete records of one file from byte `offset`, and the offset after them."""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            data = file.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1  # a partial last line is read on the next call
    records = []
    for raw in data[:end].splitlines():
        try:
            records.append(json.loads(raw))
        except ValueError:
            continue
    return records, offset + end


def _wall(record: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(record["wall"])
    except (KeyError, TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)


def records(state_dir: str | Path, app: str, task: str | None = None,
            run_id: str | None = None, since: datetime | None = None,
            ) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Every kept line of the runs asked for, run by run, each with `task` and `run_id`."""
    for task_name, run, parts in run_files(state_dir, app, task, run_id):
        for part in parts:
            for record in read_lines(part)[0]:
                if since is not None and _wall(record) < since:
                    continue
                yield dict(record, task=task_name, run_id=run)
