"""Parse `every N<unit>` and `at("YYYY-MM-DDTHH:MM[:SS]")` into the schedule model.

`every` is clock-aligned within the local day: it fires at the local times t
(seconds since midnight) with t % N == 0, so `every 90m` fires 00:00, 01:30,
..., 22:30 and `every 7m` fires 00:00 ... 23:55 then 00:00 again. N is at most a
day. Units: s, m, h, d, and sums of them (`1h30m`). The set of times of day is
stored as the fewest rules (products of hours x minutes x seconds) that group
the hours with identical minute/second patterns.

`at` is one local time in the task's timezone. Both use systemd's DST policy.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

from flowc.compiler.schedules.errors import ScheduleError
from flowc.compiler.schedules.spec import MAX_YEAR, MIN_YEAR, Rule, Spec

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DAY = 86400
_DURATION = re.compile(r"^(?:[0-9]+[smhd])+$")
_PART = re.compile(r"([0-9]+)([smhd])")
_AT = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?$")


def parse_every(text: str) -> Spec:
    body = text.strip().replace(" ", "")
    if not _DURATION.match(body):
        raise ScheduleError(
            "E305",
            f"invalid interval `every {text}`",
            "write a number and a unit: `every 90m`, `every 2h`, `every 45s`, `every 1d`",
            where=(0, len(text)),
        )
    seconds = sum(int(n) * UNITS[u] for n, u in _PART.findall(body))
    if seconds == 0:
        raise ScheduleError(
            "E305", "`every 0` never fires", "use an interval of at least 1s", where=(0, len(text))
        )
    if seconds > DAY:
        raise ScheduleError(
            "E305",
            f"`every {text}` is longer than a day; `every` is clock-aligned within each day",
            'for every other day use a calendar string such as "*-*-1/2 00:00"',
            where=(0, len(text)),
        )
    return Spec(rules=times_of_day_rules(range(0, DAY, seconds)))


def times_of_day_rules(times) -> tuple[Rule, ...]:
    """Few rules (hours x minutes x seconds products) whose union is exactly `times`."""
    by_hour: dict[int, set[int]] = defaultdict(set)
    for t in times:
        by_hour[t // 3600].add(t % 3600)
    hour_groups: dict[frozenset[int], set[int]] = defaultdict(set)
    for hour, in_hour in by_hour.items():
        hour_groups[frozenset(in_hour)].add(hour)
    rules = []
    for in_hour, hours in sorted(hour_groups.items(), key=lambda kv: min(kv[1])):
        by_minute: dict[int, set[int]] = defaultdict(set)
        for t in in_hour:
            by_minute[t // 60].add(t % 60)
        minute_groups: dict[frozenset[int], set[int]] = defaultdict(set)
        for minute, secs in by_minute.items():
            minute_groups[frozenset(secs)].add(minute)
        for secs, minutes in sorted(minute_groups.items(), key=lambda kv: min(kv[1])):
            rules.append(Rule(hours=frozenset(hours), minutes=frozenset(minutes), seconds=secs))
    return tuple(rules)


def parse_at(text: str) -> Spec:
    match = _AT.match(text.strip())
    when = None
    if match:
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
        try:
            when = datetime(y, mo, d, h, mi, s)
        except ValueError:
            when = None
    if when is None:
        raise ScheduleError(
            "E306",
            f'invalid time in at("{text}")',
            'write a local date and time: at("2026-12-24T18:00") (no offset: the task '
            "timezone applies)",
            where=(0, len(text)),
        )
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        raise ScheduleError(
            "E306",
            f'at("{text}") is outside {MIN_YEAR}..{MAX_YEAR}',
            "pick a date between 1970 and 2199",
            where=(0, 4),
        )
    rule = Rule(
        years=frozenset({when.year}),
        months=frozenset({when.month}),
        days=frozenset({when.day}),
        hours=frozenset({when.hour}),
        minutes=frozenset({when.minute}),
        seconds=frozenset({when.second}),
    )
    return Spec(rules=(rule,))


def at_datetime(text: str) -> datetime:
    """The naive local datetime of a valid at() text."""
    rule = parse_at(text).rules[0]
    (y,), (mo,), (d,) = rule.years, rule.months, rule.days  # type: ignore[misc]
    (h,), (mi,), (s,) = rule.hours, rule.minutes, rule.seconds
    return datetime(y, mo, d, h, mi, s)
