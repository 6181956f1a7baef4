"""AWS EventBridge Scheduler: `cron(min hour dom month dow year)` and `at(...)`.

Exactly one day field is `?`; weekdays are SUN=1..SAT=7 (written as names);
`L` in day-of-month is the last day, `D#N` the N-th weekday D and `DL` the last
one. A restricted day-of-month together with restricted weekdays (Vixie's OR)
becomes two expressions. `every` is always cron, never rate() (which counts
from deployment).
"""

from __future__ import annotations

from flowc.compiler.schedules.model import Schedule
from flowc.compiler.schedules.parse_every import at_datetime
from flowc.compiler.schedules.translate.fields import NO_STEP, STEP_START, cron_field
from flowc.compiler.schedules.translate.lower import LAST, Dialect, Piece, lower

DIALECT = Dialect(
    target="aws",
    label="EventBridge Scheduler's cron",
    years=True,
    last_day=True,
    nth_weekday=True,
)
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # AWS 1..7


def aws_weekday(weekday: int) -> int:
    """Model weekday (0 = Monday) to AWS day-of-week number (1 = Sunday)."""
    return (weekday + 1) % 7 + 1


def translate(schedule: Schedule) -> list[str]:
    if schedule.kind == "at":
        return [f"at({at_datetime(schedule.text).isoformat(timespec='seconds')})"]
    return [expression(p) for p in lower(schedule, DIALECT)]


def expression(p: Piece) -> str:
    if p.last_day:
        dom, dow = "L", "?"
    elif p.nth is not None:
        weekday, week = p.nth
        dom, dow = "?", f"{aws_weekday(weekday)}{'L' if week == LAST else f'#{week}'}"
    elif p.weekdays is not None:
        dom = "?"
        dow = cron_field(
            (aws_weekday(w) for w in p.weekdays),
            1,
            7,
            step=NO_STEP,
            name=lambda n: DAY_NAMES[n - 1],
        )
    else:
        dom = "*" if p.days is None else cron_field(p.days, 1, 31, step=STEP_START)
        dow = "?"
    year = "*" if p.years is None else cron_field(p.years, 1970, 2199, step=STEP_START)
    fields = (
        cron_field(p.minutes, 0, 59, step=STEP_START),
        cron_field(p.hours, 0, 23, step=STEP_START),
        dom,
        cron_field(p.months, 1, 12, step=STEP_START),
        dow,
        year,
    )
    return f"cron({' '.join(fields)})"
