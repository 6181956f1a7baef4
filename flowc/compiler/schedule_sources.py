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
        if isinstance(item, s.ObjectValue):  # `{ schedule = ..., from = "...", until = "..." }`
            item = _entry_schedule(item, read)
            if item is None:
                continue
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


ENTRY_KEYS = ("schedule", "from", "until")


def _entry_schedule(entry: s.ObjectValue, read: Reader) -> s.Value | None:
    """The schedule of one entry with its own validity window (read by the checker)."""
    keys = {k.name: (k, v) for k, v in entry.pairs}
    for key, _ in keys.values():
        if key.name not in ENTRY_KEYS:
            read.error("E124", f"unknown key `{key.name}` in a schedule entry", key.span,
                       help=did_you_mean(key.name, ENTRY_KEYS)
                       or "an entry has `schedule`, and optionally `from` and `until`")
    if "schedule" not in keys:
        read.error("E124", "a schedule entry needs `schedule = ...`", entry.span,
                   help='write `{ schedule = "Mon 09:00", from = "2027-01-01" }`')
        return None
    value = keys["schedule"][1]
    if isinstance(value, s.ListValue | s.ObjectValue):
        read.error("E124", "an entry holds one schedule", value.span,
                   help="write one entry per schedule")
        return None
    return value


def parse_schedule_value(text: str, path: str = "<expr>") -> list[tuple[str, str, Span]]:
    """Parse EXPR as written after `schedule =`; raises CompileError with diagnostics."""
    value = parse_value_text(text, path)
    diagnostics: list[Diagnostic] = []
    sources = schedule_sources(value, Reader(diagnostics))
    if diagnostics:
        raise CompileError(diagnostics)
    return sources
