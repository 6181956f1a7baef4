"""How long a run of each task is assumed to last, and why.

In order: `--duration TASK=30s`; else the median length of the task's succeeded
attempts in `flowc runs` history (the emulator's SQLite under `--state`, read through
`flowc.emulator.history`), when it has measured any; else the task's `timeout`, the
longest a run can be billed for (an upper bound).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from flowc.compiler.ir import App, Task


@dataclass(frozen=True)
class RunLength:
    seconds: float
    source: str  # "--duration" | "history" | "timeout"
    detail: str  # for people: "median of 12 runs", "upper bound", ...


@dataclass(frozen=True)
class Measured:
    median_s: float
    samples: int


def measured_durations(app: App, state_dir: str | Path) -> tuple[dict[str, Measured], list[str]]:
    """Median succeeded-attempt length per task from run history, and notes about the source."""
    try:
        from flowc.emulator.history import list_runs
    except ImportError:
        return {}, ["run history is not available in this build (flowc.emulator.history "
                    "missing); durations come from --duration or the timeout"]
    out: dict[str, Measured] = {}
    try:
        for task in app.tasks:
            samples = [
                float(attempt["duration_s"])
                for run in list_runs(state_dir, task=task.name, app=app.name)
                if run.get("status") == "succeeded"
                for attempt in run.get("attempt_list", ())
                if attempt.get("exit_code") == 0 and not attempt.get("timed_out")
                and attempt.get("duration_s") is not None
            ]
            if samples:
                out[task.name] = Measured(statistics.median(samples), len(samples))
    except Exception as exc:  # a damaged or foreign database must not stop a cost estimate
        return {}, [f"run history under `{state_dir}` could not be read ({exc}); "
                    "durations come from --duration or the timeout"]
    return out, []


def choose(task: Task, given: dict[str, float], measured: dict[str, Measured]) -> RunLength:
    if task.name in given:
        return RunLength(given[task.name], "--duration", "given with --duration")
    if task.name in measured:
        m = measured[task.name]
        seconds = min(m.median_s, float(task.timeout_s))
        runs = "run" if m.samples == 1 else "runs"
        return RunLength(seconds, "history", f"median of {m.samples} measured {runs}")
    return RunLength(float(task.timeout_s), "timeout", "the timeout (upper bound)")
