"""The one normalized, exact schedule model every source form compiles to.

A schedule is a set of local wall-clock times in an IANA timezone. It is stored
like systemd's calendarspec, as a union of `Rule`s; each rule is a product of
sets (years x months x days x hours x minutes x seconds) filtered by weekday.
Within one rule day-of-month and weekday are ANDed (systemd's rule); Vixie
cron's OR of a restricted day-of-month and a restricted weekday is two rules.
`every 90m` is two rules (even hours at :00, odd hours at :30), and so on.

How local wall times become instants around daylight-saving changes is the
`Spec`'s `gap` and `overlap` policy (see flowc.compiler.schedules.evaluate).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

KINDS = ("calendar", "cron", "every", "at")
MIN_YEAR = 1970
MAX_YEAR = 2199  # systemd's limit; also the end of AWS's year field

ALL_SECONDS = frozenset(range(60))
ALL_MINUTES = frozenset(range(60))
ALL_HOURS = frozenset(range(24))
ALL_MONTHS = frozenset(range(1, 13))
ALL_DAYS = frozenset(range(1, 32))
ALL_WEEKDAYS = frozenset(range(7))  # 0 = Monday ... 6 = Sunday (Python's weekday())
ZERO = frozenset({0})

GAP_SKIP = "skip"  # a local time that does not exist does not fire (systemd)
GAP_SHIFT = "shift"  # ... fires once when the clock lands after the gap (cron)
OVERLAP_FIRST = "first"  # a repeated local time fires once, the first time (systemd)
OVERLAP_BOTH = "both"  # ... fires at both instants (cron)


def _max_month_length(months: frozenset[int]) -> int:
    return max((calendar.monthrange(2000, m)[1] for m in months), default=0)


@dataclass(frozen=True)
class Rule:
    """Local times whose every field is in these sets (None: any value).

    `days` are days of the month; with `from_end` they count back from the last
    day (1 = the last day, systemd's `~`). `weekdays` use 0 = Monday.
    """

    months: frozenset[int] = ALL_MONTHS
    days: frozenset[int] | None = None
    weekdays: frozenset[int] | None = None
    hours: frozenset[int] = ALL_HOURS
    minutes: frozenset[int] = ALL_MINUTES
    seconds: frozenset[int] = ZERO
    years: frozenset[int] | None = None
    from_end: bool = False

    def normalized(self) -> Rule:
        """The same set with full fields written as None (one canonical form)."""
        days, weekdays, years, from_end = self.days, self.weekdays, self.years, self.from_end
        if weekdays is not None and weekdays >= ALL_WEEKDAYS:
            weekdays = None
        if years is not None and years >= frozenset(range(MIN_YEAR, MAX_YEAR + 1)):
            years = None
        if days is not None and days >= frozenset(range(1, _max_month_length(self.months) + 1)):
            days = None
        if days is None:
            from_end = False
        return replace(self, days=days, weekdays=weekdays, years=years, from_end=from_end)

    @cached_property
    def times(self) -> tuple[int, ...]:
        """Seconds since local midnight at which this rule fires, ascending."""
        return tuple(
            sorted(
                h * 3600 + m * 60 + s
                for h in self.hours
                for m in self.minutes
                for s in self.seconds
            )
        )

    def days_in(self, year: int, month: int) -> list[int]:
        """Days of this month on which the rule fires (ascending)."""
        if month not in self.months or (self.years is not None and year not in self.years):
            return []
        first_weekday, length = calendar.monthrange(year, month)
        if self.days is None:
            days = range(1, length + 1)
        elif self.from_end:
            days = sorted(length - n + 1 for n in self.days if n <= length)
        else:
            days = sorted(d for d in self.days if d <= length)
        if self.weekdays is None:
            return list(days)
        return [d for d in days if (first_weekday + d - 1) % 7 in self.weekdays]

    def matches(self, wall: datetime) -> bool:
        """Does this rule fire at this local wall time (microseconds ignored)?"""
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.day in self.days_in(wall.year, wall.month)
        )


@dataclass(frozen=True)
class Spec:
    """A compiled schedule: the union of `rules`, read in `timezone` if given.

    `timezone` is a zone named inside the expression itself (systemd allows
    `"Mon 09:00 Europe/Paris"`); it overrides the task's timezone.
    """

    rules: tuple[Rule, ...]
    gap: str = GAP_SKIP
    overlap: str = OVERLAP_FIRST
    timezone: str | None = None

    def matches(self, wall: datetime) -> bool:
        return any(rule.matches(wall) for rule in self.rules)
