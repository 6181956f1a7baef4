"""Readers of a task's operations settings (SPEC §6): overlap, catch_up, enabled, jitter,
input, from/until (per task, or per entry of a schedule list), retry_backoff, max_age and
python_version. Each reader takes the checking context (anything with `.read`, a
`values.Reader`) and the setting's node, and returns the IR value or None after reporting;
the settings table (flowc/compiler/settings.py) names them, with their bounds, and the
key they are read for comes from the node. What each target makes of them is
flowc/targets/<name>/operations.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from flowc.compiler import ir
from flowc.grammar import syntax as s

OVERLAP = ("skip", "allow", "replace")
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")  # on Lambda, Cloud Functions and Docker Hub
MAX_JITTER_S = 86400  # EventBridge's widest flexible window (1440 minutes)
MAX_CATCH_UP_S = 7 * 86400
MAX_BACKOFF_S = 3600
MAX_AGE_S = 7 * 86400


@dataclass(frozen=True)
class Duration:
    """A reader of a duration between `low` and `high` seconds (`zero`: 0 is allowed too)."""

    low: int
    high: int
    example: str  # for the help: `key = example`
    zero: bool = False

    def __call__(self, ctx: Any, node: s.Assign) -> int | None:
        key, value = node.key.name, node.value
        if self.zero and isinstance(value, s.Int) and value.value == 0:
            return 0
        seconds = ctx.read.duration_s(key, value)
        if seconds is None:
            return None
        if not self.low <= seconds <= self.high:
            ctx.read.error("E144", f"`{key}` must be between {_human(self.low)} and "
                           f"{_human(self.high)}, not {value.raw}", value.span,
                           help=f"write e.g. `{key} = {self.example}`")
            return None
        return seconds


def _human(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def read_overlap(ctx: Any, node: s.Assign) -> str | None:
    return ctx.read.keyword("overlap", node.value, OVERLAP, "E140",
                            help="`skip` (the default) drops a fire while a run is in flight")


def read_enabled(ctx: Any, node: s.Assign) -> bool | None:
    return ctx.read.boolean(node.key.name, node.value)


def read_python_version(ctx: Any, node: s.Assign) -> str | None:
    version = ctx.read.string(node.key.name, node.value, '"3.12"')
    if version is None:
        return None
    if version not in PYTHON_VERSIONS:
        ctx.read.error("E143", f"python {version} is not one every target runs",
                       node.value.span, help="use one of "
                       + ", ".join(f'"{v}"' for v in PYTHON_VERSIONS))
        return None
    return version


def read_input(ctx: Any, node: s.Assign) -> str | None:
    """An object of strings, numbers, true/false/null, lists and objects, as JSON text."""
    if not isinstance(node.value, s.ObjectValue):
        ctx.read.expect(node.key.name, node.value, "an object",
                        '{ source = "crm", full = false }')
        return None
    problems: list[s.Node] = []
    data = _json(node.value, problems)
    for bad in problems:
        ctx.read.error("E141", f"{s.kind_of(bad)} cannot be part of `input` (it becomes JSON)"
                       if not isinstance(bad, s.Ident) else f"`{bad.name}` is set twice",
                       bad.span, help="use strings, numbers, true, false, null, lists and "
                       "{ key = value } objects; each key once")
    return None if problems else json.dumps(data, sort_keys=True, separators=(",", ":"))


def _json(value: s.Value, problems: list[s.Node]) -> Any:
    if isinstance(value, s.Str):
        return value.value
    if isinstance(value, s.Int | s.Float):
        return value.value
    if isinstance(value, s.Ident) and value.name in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[value.name]
    if isinstance(value, s.ListValue):
        return [_json(item, problems) for item in value.items]
    if isinstance(value, s.ObjectValue):
        out: dict[str, Any] = {}
        for key, item in value.pairs:
            if key.name in out:
                problems.append(key)
            out[key.name] = _json(item, problems)
        return out
    problems.append(value)
    return None


def read_day_setting(ctx: Any, node: s.Assign) -> str | None:
    """`from = "YYYY-MM-DD"` / `until = ...` as a task setting."""
    return read_day(ctx, node.key.name, node.value)


def read_day(ctx: Any, key: str, value: s.Value) -> str | None:
    text = ctx.read.string(key, value, '"2027-01-01"')
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat() if len(text) == 10 else _bad_day(
            ctx, key, value, text)
    except ValueError:
        return _bad_day(ctx, key, value, text)


def _bad_day(ctx: Any, key: str, value: s.Value, text: str) -> None:
    ctx.read.error("E142", f"`{key}` is a day written YYYY-MM-DD, not {text!r}", value.span,
                   help=f'write e.g. `{key} = "2027-01-01"`')
    return None


def task_window(ctx: Any, first: str | None, last: str | None, span: Any) -> ir.Window:
    """The task's own `from`/`until` (from any layer): the window of its plain entries."""
    if first and last and last < first:
        ctx.read.error("E142", f"`until` ({last}) is before `from` ({first})", span,
                       help="swap them, or fix one of the days")
        return ir.Window()
    return ir.Window(first, last)


def _entry_window(ctx: Any, entry: dict[str, s.Value], default: ir.Window) -> ir.Window:
    start, end = entry.get("from"), entry.get("until")
    first = read_day(ctx, "from", start) if start is not None else default.start
    last = read_day(ctx, "until", end) if end is not None else default.end
    return task_window(ctx, first, last, (end or start).span) if (start or end) else default


def entry_windows(ctx: Any, value: s.Value, whole: ir.Window) -> tuple[ir.Window, ...]:
    """One window per entry of `schedule = ...`: an entry written
    `{ schedule = ..., from = "...", until = "..." }` has its own, the others the task's."""
    items = value.items if isinstance(value, s.ListValue) else (value,)
    out = []
    for item in items:
        if isinstance(item, s.ObjectValue):
            out.append(_entry_window(ctx, {k.name: v for k, v in item.pairs}, whole))
        else:
            out.append(whole)
    return tuple(out)

