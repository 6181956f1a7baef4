"""The run history of `flowc dev` / `flowc run` as one timeline per workload.

Rows come from flowc.emulator.history (the SQLite under `--state`). A run is placed on
its task's timeline by its start and end on the emulator's clock (virtual under
`--speed`); its duration is the real seconds its attempts took, as the cloud would bill.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App
from flowc.diagnostics import Diagnostic

MAX_RUNS = 200  # the most recent runs of a workload drawn on its timeline
MIN_WIDTH = 0.4  # percent: a run shorter than this is still visible


@dataclass(frozen=True)
class RunMark:
    run_id: str
    status: str  # succeeded, failed, dead_lettered, interrupted, running
    started: datetime
    finished: datetime | None
    attempts: int
    duration_s: float | None  # real seconds of all its attempts
    exit_code: int | None
    left: float  # percent of the timeline
    width: float


@dataclass
class Timeline:
    name: str
    start: datetime
    end: datetime
    runs: list[RunMark] = field(default_factory=list)
    total: int = 0  # runs recorded, also those older than the drawn ones

    @property
    def counts(self) -> list[tuple[str, int]]:
        return sorted(Counter(r.status for r in self.runs).items())


def timelines(app: App, state_dir: str | Path) -> tuple[dict[str, Timeline], list[Diagnostic]]:
    """A timeline per workload that has runs, and W902 if the history cannot be read."""
    from flowc.emulator.history import HistoryError, db_path, list_runs

    try:
        rows = list_runs(state_dir, app=app.name)
    except (HistoryError, sqlite3.Error) as exc:
        help_ = exc.diagnostic.help if isinstance(exc, HistoryError) else None
        return {}, [Diagnostic(
            "W902", f"{_reason(exc, db_path(state_dir))}; the report shows no runs",
            help=help_ or "point --state at the directory `flowc dev` wrote")]
    by_task: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("started_at"):
            by_task.setdefault(row["task"], []).append(row)
    return {name: _timeline(name, runs) for name, runs in by_task.items()}, []


def _reason(exc: Exception, path: Path) -> str:
    text = str(exc)
    return text if str(path) in text else f"cannot read the run history {path}: {text}"


def _timeline(name: str, rows: list[dict[str, Any]]) -> Timeline:
    rows.sort(key=lambda r: _time(r["started_at"]))
    total, rows = len(rows), rows[-MAX_RUNS:]
    spans = [(_time(r["started_at"]), _time(r["finished_at"]) if r["finished_at"] else None)
             for r in rows]
    start = spans[0][0]
    end = max(f or s for s, f in spans)
    length = max((end - start).total_seconds(), 1.0)
    marks = []
    for row, (began, ended) in zip(rows, spans, strict=True):
        left = (began - start).total_seconds() / length * 100
        took = ((ended or began) - began).total_seconds() / length * 100
        durations = [a["duration_s"] for a in row["attempt_list"] if a["duration_s"] is not None]
        marks.append(RunMark(
            run_id=row["run_id"], status=row["status"], started=began, finished=ended,
            attempts=row["attempts"], duration_s=sum(durations) if durations else None,
            exit_code=row["exit_code"], left=round(min(left, 100 - MIN_WIDTH), 3),
            width=round(max(took, MIN_WIDTH), 3)))
    return Timeline(name, start, end, marks, total)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)
