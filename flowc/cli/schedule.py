"""`flowc schedule EXPR [--tz TZ] [--from ISO] [--next N] [--target aws|gcp|k8s]` (SPEC §2).

EXPR is a schedule written as after `schedule =` in a .flow file: '"Mon..Fri
09:00"', 'cron("0 9 * * 1-5")', 'every 90m', 'at("2026-12-24T18:00")' or a list
'["Mon 09:00", "Fri 17:00"]'. Prints the next N fire times strictly after
--from (default: now), ISO 8601 with offset, one a line; with --target then one
`expr: ...` line per target expression. With --calendar [--month YYYY-MM] it prints
the month grid instead (and, with --target, the target's grid with the days that
differ marked; flowc/report/terminal.py). Errors are SPEC diagnostics, exit 1.
It uses the same code as `flowc compile` (flowc.compiler.schedules).
"""

from __future__ import annotations

import heapq
import re
import shutil
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from flowc.cli.app import app
from flowc.diagnostics import (
    CompileError,
    Diagnostic,
    SourceCache,
    Span,
    has_errors,
    render_text,
)

EXPR_PATH = "<expr>"


@app.command("schedule")
def schedule_command(
    expr: Annotated[str, typer.Argument(help="A schedule as written after `schedule =`.")],
    tz: Annotated[str, typer.Option("--tz", help="IANA timezone the schedule is read in.")] = "UTC",
    start: Annotated[
        str | None,
        typer.Option("--from", help="ISO time to count from (default: now); naive means --tz."),
    ] = None,
    count: Annotated[int, typer.Option("--next", help="How many fire times to print.")] = 10,
    target: Annotated[
        str | None, typer.Option("--target", help="Also print the expressions for this target "
                                 "(aws, gcp, k8s...).")
    ] = None,
    calendar: Annotated[
        bool, typer.Option("--calendar", help="Print a month grid of fire times instead.")
    ] = False,
    month: Annotated[
        str | None,
        typer.Option("--month", metavar="YYYY-MM",
                     help="Month of --calendar (default: the month of --from, else this one)."),
    ] = None,
) -> None:
    """Print the next fire times of one schedule (and its expressions for a target)."""
    from flowc.compiler.schedules import ScheduleError, parse_schedule, schedule_diagnostic
    from flowc.targets import registry

    sources = SourceCache({EXPR_PATH: expr})
    diagnostics: list[Diagnostic] = []

    def fail(found: list[Diagnostic]) -> None:
        sys.stderr.write(render_text(found, sources))
        raise typer.Exit(1)

    if target is not None and target not in registry.names():
        fail([_usage("E312", f"unknown target `{target}`",
                     "use --target " + ", ".join(registry.names()))])
    if count < 0:
        fail([_usage("E312", f"--next {count} is negative", "give a count like --next 5")])
    try:
        items = _parse_value(expr)
    except CompileError as err:
        fail(err.diagnostics)
    schedules = []
    for kind, text, span in items:
        try:
            schedules.append(parse_schedule(kind, text, tz, span))
        except ScheduleError as err:
            diagnostics.append(schedule_diagnostic(err))
    if has_errors(diagnostics):
        fail(diagnostics)
    after = _parse_from(start, tz, fail)
    chosen_month = _parse_month(month, after, tz, fail) if calendar else None

    lines: list[str] = []
    if target is not None:
        for schedule in schedules:
            try:
                lines.extend(f"expr: {e}" for e in registry.get(target).translate(schedule))
            except ScheduleError as err:
                diagnostics.append(schedule_diagnostic(err))
                continue
            diagnostics.extend(
                Diagnostic(w.code, w.message, schedule.span, w.help)
                for w in registry.get(target).schedule_warnings(schedule, start=after)
            )
        if has_errors(diagnostics):
            fail(diagnostics)
    if chosen_month is not None:
        _print_calendars(schedules, target, chosen_month, tz)
        if diagnostics:
            sys.stderr.write(render_text(diagnostics, sources))
        if lines:
            typer.echo("\n".join(lines))
        return
    # Compare instants, not wall times: two fires at 02:30 in a repeated hour differ.
    fires = heapq.merge(*(s.next_fires(after, count) for s in schedules), key=_instant)
    out: list[str] = []
    last = None
    for fire in fires:
        if len(out) >= count:
            break
        if _instant(fire) != last:
            out.append(fire.isoformat())
        last = _instant(fire)
    if diagnostics:
        sys.stderr.write(render_text(diagnostics, sources))
    if out or lines:
        typer.echo("\n".join(out + lines))


def _parse_month(value: str | None, after: datetime, zone: str, fail):
    from flowc.compiler.schedules.zones import get_zone
    from flowc.cost.runs import Month

    if value is None:
        local = after.astimezone(get_zone(zone))
        return Month(local.year, local.month)
    match = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        fail([_usage("E312", f"--month `{value}` is not a month",
                     "write the month as YYYY-MM, e.g. --month 2027-03")])
    return Month(int(match.group(1)), int(match.group(2)))


def _print_calendars(schedules, target: str | None, month, zone: str) -> None:
    """The month grid of the schedules and, with --target, of the target's expressions."""
    from rich.console import Console

    from flowc.compiler.schedules.emitted import Emitted
    from flowc.compiler.schedules.zones import get_zone
    from flowc.report.calendar import source_calendar, target_calendar
    from flowc.report.terminal import month_table
    from flowc.targets import registry

    shown = schedules[0].zone if len({s.zone for s in schedules}) == 1 else zone
    today = datetime.now(get_zone(shown)).date()
    source = source_calendar("source", schedules, month, shown, today)
    # A pipe gets a width that fits a DST day's "-02:30 CEST" on one line (as `flowc cost`).
    console = Console(highlight=False, width=shutil.get_terminal_size((110, 24)).columns)
    console.print(month_table(source))
    if target is not None:
        dialect = registry.get(target)
        emitted = [Emitted(target, tuple(dialect.translate(s)), s.zone) for s in schedules]
        console.print(month_table(target_calendar(target, emitted, month, shown, source, today)))


def _instant(when: datetime) -> float:
    return when.timestamp()


def _usage(code: str, message: str, help: str) -> Diagnostic:
    return Diagnostic(code=code, message=message, help=help)


def _parse_from(value: str | None, zone: str, fail) -> datetime:
    from flowc.compiler.schedules.spec import MAX_YEAR, MIN_YEAR
    from flowc.compiler.schedules.zones import get_zone

    if value is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        fail(
            [
                _usage(
                    "E312",
                    f"--from `{value}` is not an ISO 8601 time",
                    "write e.g. --from 2026-03-01T00:00 or --from 2026-03-01T00:00:00+01:00",
                )
            ]
        )
    if when.tzinfo is None:
        when = when.replace(tzinfo=get_zone(zone))
    if not MIN_YEAR <= when.year <= MAX_YEAR:  # schedules live in 1970..2199
        fail([_usage("E312", f"--from `{value}` is outside {MIN_YEAR}..{MAX_YEAR}",
                     f"give a time between {MIN_YEAR} and {MAX_YEAR}")])
    return when


def _parse_value(text: str) -> list[tuple[str, str, Span]]:
    """(kind, text, span) per schedule, parsed as the .flow grammar parses `schedule =`."""
    from flowc.compiler.schedule_sources import parse_schedule_value

    return list(parse_schedule_value(text, path=EXPR_PATH))
