"""Parse five-field Vixie cron (`cron("m h dom mon dow")`) into the schedule model.

Fields: minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC,
day of week 0-7 or SUN-SAT (0 and 7 are Sunday). Each field is a comma list of
`*`, `N`, `A-B`, `*/S`, `A-B/S` and `A/S` (A to the end, as croniter and the
Kubernetes controller read it); `?` means `*` in the two day fields. Macros:
@yearly @annually @monthly @weekly @daily @midnight @hourly.

Day rule (Vixie, POSIX): when both day fields are restricted a day matches if
either does; if one of them is `*` only the other counts. "Restricted" means
anything but a bare `*` (or `?`), as croniter decides it; historic Vixie also
treats `*/2` as unrestricted, a difference flowc never emits.

DST (as croniter, the reference cron evaluator, does): a local time in a gap
fires when the clock lands after the gap if the hour field is restricted, and
is skipped if the hour is `*`; a repeated local time fires at both instants.
"""

from __future__ import annotations

import re

from flowc.compiler.schedules.errors import ScheduleError
from flowc.compiler.schedules.spec import (
    GAP_SHIFT,
    GAP_SKIP,
    OVERLAP_BOTH,
    ZERO,
    Rule,
    Spec,
)

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = {
    name: i
    for i, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
DOWS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}

# (name, low, high, names)
FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DOWS),
)
HELP = 'five fields "minute hour day-of-month month day-of-week", e.g. cron("*/15 9-17 * * 1-5")'
_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")


def parse_cron(text: str) -> Spec:
    body = text.strip()
    if body.startswith("@"):
        macro = MACROS.get(body.lower())
        if macro is None:
            raise ScheduleError(
                "E304",
                f"cron macro `{body}` is not supported",
                "use one of " + " ".join(MACROS) + " (a scheduler has no @reboot)",
                where=(text.index("@"), len(body)),
            )
        body = macro
    fields = body.split()
    if len(fields) != 5:
        extra = " (seconds or a year are not five-field cron)" if len(fields) in (6, 7) else ""
        raise ScheduleError(
            "E302",
            f'cron("{text}") has {len(fields)} fields, expected 5{extra}',
            HELP if not extra else HELP + '; for seconds use a calendar string like "*:*:0/30"',
            where=(0, len(text)),
        )
    offsets = _offsets(text, fields)
    sets = [
        _field(field, offset, *spec)
        for field, offset, spec in zip(fields, offsets, FIELDS, strict=True)
    ]
    minutes, hours, doms, months, dows = sets
    weekdays = frozenset((d - 1) % 7 for d in dows)  # cron 0/7 = Sunday -> model 6
    dom_star = fields[2] in ("*", "?")
    dow_star = fields[4] in ("*", "?")
    common = {"months": months, "hours": hours, "minutes": minutes, "seconds": ZERO}
    if not dom_star and not dow_star:
        rules = (Rule(days=doms, **common), Rule(weekdays=weekdays, **common))
    else:
        rules = (
            Rule(
                days=None if dom_star else doms,
                weekdays=None if dow_star else weekdays,
                **common,
            ),
        )
    gap = GAP_SKIP if len(hours) == 24 else GAP_SHIFT
    return Spec(rules=rules, gap=gap, overlap=OVERLAP_BOTH)


def _offsets(text: str, fields: list[str]) -> list[int]:
    out, pos = [], 0
    for field in fields:
        pos = text.find(field, pos)
        out.append(max(pos, 0))
        pos += len(field)
    return out


def _field(field: str, offset: int, name: str, lo: int, hi: int, names: dict) -> frozenset[int]:
    if field == "?" and name.startswith("day"):
        return frozenset(range(lo, hi + 1))
    values: set[int] = set()
    pos = 0
    for item in field.split(","):
        where = (offset + pos, max(len(item), 1))
        pos += len(item) + 1
        values |= _item(item.lower(), where, name, lo, hi, names)
    return frozenset(values)


def _item(item: str, where, name: str, lo: int, hi: int, names: dict) -> set[int]:
    if any(ch in item for ch in "lw#"):
        if not (set(item) - set("lw#0123456789")) or "#" in item:
            raise ScheduleError(
                "E304",
                f"`{item.upper()}` in the {name} field is not five-field Vixie cron",
                'for "last day" or "first Monday" use a calendar string: "*-*~01 00:00", '
                '"Mon *-*-01..07 09:00"',
                where=where,
            )
    match = _ITEM.match(item)
    if not item or match is None:
        raise ScheduleError(
            "E302", f"invalid {name} `{item}` in cron expression", HELP, where=where
        )
    star, first, last, step = match.groups()
    if star:
        start, stop = lo, hi
    else:
        start = _value(first, where, name, lo, hi, names)
        stop = _value(last, where, name, lo, hi, names) if last else (hi if step else start)
    if start > stop:
        raise ScheduleError(
            "E303",
            f"{name} range `{item}` runs backwards",
            f"write the smaller value first; a {name} is {lo}-{hi}",
            where=where,
        )
    inc = int(step) if step else 1
    if inc == 0:
        raise ScheduleError(
            "E303", f"step 0 in {name} `{item}`", "a step is at least 1", where=where
        )
    return set(range(start, stop + 1, inc))


def _value(token: str, where, name: str, lo: int, hi: int, names: dict) -> int:
    if token.isdigit():
        value = int(token)
    elif token in names:
        value = names[token]
    else:
        raise ScheduleError(
            "E302", f"invalid {name} `{token}` in cron expression", HELP, where=where
        )
    if not lo <= value <= hi:
        raise ScheduleError("E303", f"{name} {value} is out of range {lo}-{hi}", HELP, where=where)
    return value
