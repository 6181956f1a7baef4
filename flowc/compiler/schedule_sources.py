"""Which schedules a `schedule = ...` value names, as (kind, text, span) triples.

Shared by the checker and by `flowc schedule EXPR`, so both accept exactly the same forms.
"""

from __future__ import annotations

from flowc.compiler.values import Reader, did_you_mean
from flowc.diagnostics import CompileError, Diagnostic, Span
from flowc.grammar import syntax as s
from flowc.grammar.parser import parse_value_text

# systemd's shorthands, accepted unquoted too (`schedule = daily`).
CALENDAR_SHORTHANDS = ("minutely", "hourly", "daily", "weekly", "monthly", "quarterly",
                       "semiannually", "yearly", "annually")
SCHEDULE_FORMS = ('"Mon..Fri 09:00"', 'cron("*/15 * * * *")', "every 90m",
                  'at("2026-12-24T18:00")')


def schedule_sources(value: s.Value, read: Reader) -> list[tuple[str, str, object]]:
    """The (kind, text, span) of each schedule a `schedule =` value names."""
    items = value.items if isinstance(value, s.ListValue) else (value,)
    if isinstance(value, s.ListValue) and not items:
        read.error("E124", "`schedule` is an empty list", value.span,
                   help="give at least one schedule, e.g. `schedule = \"daily\"`")
    out = []
    for item in items:
        if isinstance(item, s.Str):
            out.append(("calendar", item.value, item.span))
        elif isinstance(item, s.Ident) and item.name in CALENDAR_SHORTHANDS:
            out.append(("calendar", item.name, item.span))  # `schedule = daily`
        elif isinstance(item, s.Every):
            out.append(("every", item.interval.raw, item.span))
        elif isinstance(item, s.Call) and item.name.name in ("cron", "at"):
            if len(item.args) != 1 or not isinstance(item.args[0], s.Str):
                example = SCHEDULE_FORMS[1] if item.name.name == "cron" else SCHEDULE_FORMS[3]
                read.error("E124", f"`{item.name.name}(...)` takes one string", item.span,
                           help=f"write it like `{example}`")
                continue
            out.append((item.name.name, item.args[0].value, item.span))
        elif isinstance(item, s.Call):
            read.error("E124", f"unknown schedule function `{item.name.name}`", item.name.span,
                       help=did_you_mean(item.name.name, ("cron", "at"))
                       or "schedule functions are `cron(...)` and `at(...)`")
        else:
            read.error("E124", f"{s.kind_of(item)} is not a schedule", item.span,
                       help="write one of " + ", ".join(f"`{f}`" for f in SCHEDULE_FORMS))
    return out


def parse_schedule_value(text: str, path: str = "<expr>") -> list[tuple[str, str, Span]]:
    """Parse EXPR as written after `schedule =`; raises CompileError with diagnostics."""
    value = parse_value_text(text, path)
    diagnostics: list[Diagnostic] = []
    sources = schedule_sources(value, Reader(diagnostics))
    if diagnostics:
        raise CompileError(diagnostics)
    return sources
