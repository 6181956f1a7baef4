"""`flowc cost` options as checked values: `--month YYYY-MM` and `--duration TASK=DURATION`.

Bad values become diagnostics that point into the command line: the options are laid
out as a small pseudo-file (`<command line>`, one option a line) that the diagnostic
renderer shows with a caret, like a line of a .flow file.
"""

from __future__ import annotations

import re

from flowc.compiler.ir import App
from flowc.compiler.values import did_you_mean
from flowc.cost.runs import Month
from flowc.diagnostics import Diagnostic, SourceCache, Span
from flowc.grammar.parser import DURATION_UNITS_S

MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
DURATION_RE = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d))+$")


class CommandLine:
    """The options given, one a line, as a source diagnostics can point into."""

    PATH = "<command line>"

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, option: str, value: str) -> tuple[int, int]:
        """Record `option value`; returns (line, column where the value starts)."""
        self.lines.append(f"{option} {value}")
        return len(self.lines), len(option) + 2

    def span(self, line: int, column: int, length: int) -> Span:
        return Span(self.PATH, line, column, line, column + max(1, length))

    def register(self, sources: SourceCache) -> None:
        sources.add(self.PATH, "\n".join(self.lines) + "\n")


def parse_month(text: str, cl: CommandLine) -> tuple[Month | None, list[Diagnostic]]:
    line, col = cl.add("--month", text)
    match = MONTH_RE.match(text.strip())
    problem = None
    if not match:
        problem = f"`{text}` is not a month"
    else:
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            problem = f"`{text}` has no month {month}: months run from 01 to 12"
        elif not 1970 <= year <= 9998:
            problem = f"year {year} is out of range (1970-9998)"
        else:
            return Month(year, month), []
    return None, [Diagnostic("E802", problem, cl.span(line, col, len(text)),
                             help="write the month as YYYY-MM, e.g. `--month 2026-12`")]


def duration_seconds(text: str) -> float | None:
    """`30s`, `5m`, `1h30m`, `250ms` in seconds, as in a .flow file; None if not one."""
    if not DURATION_RE.match(text):
        return None
    return sum(int(n) * DURATION_UNITS_S[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d)", text))


def parse_durations(values: list[str], app: App,
                    cl: CommandLine) -> tuple[dict[str, float], list[Diagnostic]]:
    """`TASK=DURATION` options -> {task: seconds}, capped at the task's timeout (W801)."""
    out: dict[str, float] = {}
    diagnostics: list[Diagnostic] = []
    names = [t.name for t in app.tasks]
    example = names[0] if names else "task"
    for value in values:
        line, col = cl.add("--duration", value)
        name, eq, text = value.partition("=")
        name, text = name.strip(), text.strip()
        if not eq or not name or not text:
            diagnostics.append(Diagnostic(
                "E803", f"`--duration {value}` does not say which task runs how long",
                cl.span(line, col, len(value)),
                help=f"write `--duration TASK=30s`, e.g. `--duration {example}=30s`"))
            continue
        name_col = col + value.index(name)
        if name not in names:
            diagnostics.append(Diagnostic(
                "E804", f"`--duration` names task `{name}`, which this spec does not declare",
                cl.span(line, name_col, len(name)),
                help=did_you_mean(name, names, "tasks in this spec")
                or "this spec declares no task"))
            continue
        text_col = col + value.index(text, value.index("=") + 1)
        seconds = duration_seconds(text)
        if seconds is None or seconds <= 0:
            what = "zero" if seconds == 0 else "not a duration"
            diagnostics.append(Diagnostic(
                "E803", f"`{text}` is {what}", cl.span(line, text_col, len(text)),
                help="a duration is a number and a unit: `250ms`, `30s`, `5m`, `1h30m`"))
            continue
        if name in out:
            diagnostics.append(Diagnostic(
                "E803", f"`--duration` gives task `{name}` twice",
                cl.span(line, name_col, len(name)), help="keep one `--duration` per task"))
            continue
        timeout = app.task(name).timeout_s
        if seconds > timeout:
            diagnostics.append(Diagnostic(
                "W801", f"`{text}` is longer than task `{name}`'s timeout ({timeout}s); "
                f"a run is stopped at the timeout, so {timeout}s is billed",
                cl.span(line, text_col, len(text)),
                help=f"raise `timeout` in task `{name}`, or give a shorter duration"))
            seconds = float(timeout)
        out[name] = seconds
    return out, diagnostics
