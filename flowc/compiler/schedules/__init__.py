"""Schedules: one exact model for every source form, evaluated and translated per target.

- parse_schedule(kind, text, timezone, span=None) -> Schedule, raises ScheduleError
- schedule_warnings(schedule, target, policy) -> list[ScheduleWarning] (DST differences)
- Schedule.next_fires(after, n) / fires_between(start, end): the evaluator
- schedule_diagnostic(error, task=None) -> Diagnostic

Modules: model (the normalized set), parse_* (one per source form), evaluate,
dst (daylight-saving warnings), translate/ (what cron dialects share). A target's
dialect and DST policy are part of its declaration: `flowc.targets.get(name).translate`.
"""

from __future__ import annotations

from flowc.compiler.schedules.dst import schedule_warnings
from flowc.compiler.schedules.errors import ScheduleError, ScheduleWarning, Untranslatable
from flowc.compiler.schedules.model import Schedule
from flowc.compiler.schedules.parse import compile_spec
from flowc.compiler.schedules.parse_every import at_datetime
from flowc.compiler.schedules.spec import KINDS
from flowc.compiler.schedules.zones import get_zone
from flowc.diagnostics import Diagnostic, Span


def parse_schedule(kind: str, text: str, timezone: str, span: Span | None = None) -> Schedule:
    """Check one schedule and return it; its timezone is the one it is read in.

    A zone named inside a calendar string ("Mon 09:00 Europe/Paris") replaces
    `timezone`. Raises ScheduleError (with `.span` narrowed to the fault when
    `span` covers the schedule as written).
    """
    try:
        zone = get_zone(timezone)
        spec = compile_spec(kind, text)
        if spec.timezone:
            zone = get_zone(spec.timezone)
            timezone = spec.timezone
        if kind == "at":
            _check_at_exists(text, zone, timezone)
    except ScheduleError as err:
        err.span = narrow_span(span, kind, text, err.where)
        raise
    return Schedule(kind=kind, text=text, timezone=timezone, span=span)


def _check_at_exists(text: str, zone, zone_name: str) -> None:
    wall = at_datetime(text)
    a, b = wall.replace(tzinfo=zone), wall.replace(tzinfo=zone, fold=1)
    if a.utcoffset() != b.utcoffset() and a.utcoffset() < b.utcoffset():  # type: ignore[operator]
        raise ScheduleError(
            "E307",
            f'at("{text}") does not exist in {zone_name}: the clocks skip that hour '
            "(daylight saving time starts)",
            'pick a time outside the skipped hour, or use timezone = "UTC"',
            where=(0, len(text)),
        )


def narrow_span(
    span: Span | None, kind: str, text: str, where: tuple[int, int] | None
) -> Span | None:
    """The part of `span` that `where` (offset, length in `text`) points at.

    Works when `span` covers the schedule exactly as written (the `source` form,
    or just the quoted text) on one line; otherwise returns `span` unchanged.
    """
    if span is None or where is None or span.end_line != span.line:
        return span
    width = span.end_column - span.column
    source = Schedule(kind, text, "UTC").source
    if width == len(source):
        lead = source.index(text) if text else 0
    elif width == len(text) + 2:
        lead = 1
    elif width == len(text):
        lead = 0
    else:
        return span
    offset, length = where
    column = span.column + lead + offset
    return Span(span.file, span.line, column, span.line, column + max(1, length))


def schedule_diagnostic(error: ScheduleError, task: str | None = None) -> Diagnostic:
    """The diagnostic for a schedule error; `task` is named in the message if given."""
    message = error.message
    if task and isinstance(error, Untranslatable):
        message = f"task `{task}`: {message}"
    return Diagnostic(code=error.code, message=message, span=error.span, help=error.help)


__all__ = [
    "KINDS",
    "Schedule",
    "ScheduleError",
    "ScheduleWarning",
    "Untranslatable",
    "narrow_span",
    "parse_schedule",
    "schedule_diagnostic",
    "schedule_warnings",
]
