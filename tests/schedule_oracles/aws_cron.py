"""A small, independent evaluator of AWS EventBridge Scheduler expressions.

Written from the EventBridge cron reference, not from flowc's translator:
`cron(minutes hours day-of-month month day-of-week year)` with `, - * / ?` and
`L`, `W`, `#`; weekdays 1-7 = SUN-SAT or names; exactly one day field is `?`;
and `at(yyyy-mm-ddThh:mm:ss)`. Daylight saving as documented: a local time that
does not exist is skipped, a repeated local time runs only once (the first).
It walks every local day of the window, so it is slow but obviously right.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DAYS = "SUN MON TUE WED THU FRI SAT".split()


class AwsCronError(ValueError):
    pass


def _number(token: str, names: list[str] | None, lo: int, hi: int) -> int:
    if names and token.upper() in names:
        value = names.index(token.upper()) + lo
    elif token.isdigit():
        value = int(token)
    else:
        raise AwsCronError(f"bad value {token!r}")
    if not lo <= value <= hi:
        raise AwsCronError(f"{value} outside {lo}-{hi}")
    return value


def _simple(field: str, lo: int, hi: int, names: list[str] | None = None) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        if "/" in part:
            base, step_s = part.split("/")
            step = int(step_s)
            if step < 1:
                raise AwsCronError("step < 1")
        else:
            base, step = part, 1
        if base == "*":
            a, b = lo, hi
        elif "-" in base:
            x, y = base.split("-")
            a, b = _number(x, names, lo, hi), _number(y, names, lo, hi)
        else:
            a = _number(base, names, lo, hi)
            b = hi if "/" in part else a
        if a > b:
            raise AwsCronError(f"reversed range {part}")
        values.update(range(a, b + 1, step))
    return values


@dataclass
class AwsCron:
    minutes: set[int]
    hours: set[int]
    dom: str
    months: set[int]
    dow: str
    years: set[int]

    @classmethod
    def parse(cls, expr: str) -> AwsCron:
        m = re.fullmatch(r"cron\((.*)\)", expr)
        if not m:
            raise AwsCronError(f"not a cron expression: {expr}")
        fields = m.group(1).split()
        if len(fields) != 6:
            raise AwsCronError("AWS cron has six fields")
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise AwsCronError("exactly one of day-of-month and day-of-week must be ?")
        return cls(
            minutes=_simple(minute, 0, 59),
            hours=_simple(hour, 0, 23),
            dom=dom,
            months=_simple(month, 1, 12, MONTHS),
            dow=dow,
            years=_simple(year, 1970, 2199),
        )

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months or d.year not in self.years:
            return False
        length = calendar.monthrange(d.year, d.month)[1]
        if self.dom != "?":
            return any(_dom_part(p, d, length) for p in self.dom.split(","))
        return any(_dow_part(p, d, length) for p in self.dow.split(","))


def _aws_weekday(d: date) -> int:
    return (d.weekday() + 1) % 7 + 1  # Monday=0 -> 2, Sunday=6 -> 1


def _dom_part(part: str, d: date, length: int) -> bool:
    if part == "L":
        return d.day == length
    if part == "LW":
        last = date(d.year, d.month, length)
        while last.weekday() > 4:
            last -= timedelta(days=1)
        return d == last
    if part.endswith("W"):
        target = int(part[:-1])
        if target > length:
            return False
        t = date(d.year, d.month, target)
        if t.weekday() == 5:
            t = t - timedelta(days=1) if target > 1 else t + timedelta(days=2)
        elif t.weekday() == 6:
            t = t + timedelta(days=1) if target < length else t - timedelta(days=2)
        return d == t
    return d.day in _simple(part, 1, 31)


def _dow_part(part: str, d: date, length: int) -> bool:
    if "#" in part:
        day_s, nth = part.split("#")
        return _aws_weekday(d) == _number(day_s, DAYS, 1, 7) and (d.day - 1) // 7 + 1 == int(nth)
    if part.endswith("L") and len(part) > 1:
        return _aws_weekday(d) == _number(part[:-1], DAYS, 1, 7) and d.day + 7 > length
    if part == "L":
        return _aws_weekday(d) == 7
    return _aws_weekday(d) in _simple(part, 1, 7, DAYS)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """AWS DST rule: skip a wall time that does not exist, first of a repeated one."""
    aware = wall.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(ZoneInfo("UTC")).astimezone(zone)
    if back.replace(tzinfo=None) != wall:
        return None
    return aware


def aws_fires(exprs: list[str], tz: str, start: datetime, end: datetime) -> set[datetime]:
    """Union of the fire instants (UTC) of `exprs` with start < t <= end."""
    zone = ZoneInfo(tz)
    out: set[datetime] = set()
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    for expr in exprs:
        at = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)", expr)
        if at:
            inst = _instant(datetime.fromisoformat(at.group(1)), zone)
            if inst is not None and start < inst <= end:
                out.add(inst.astimezone(UTC))
            continue
        spec = AwsCron.parse(expr)
        d = first
        while d <= last:
            if spec.day_matches(d):
                for h in sorted(spec.hours):
                    for m in sorted(spec.minutes):
                        inst = _instant(datetime(d.year, d.month, d.day, h, m), zone)
                        if inst is not None and start < inst <= end:
                            out.add(inst.astimezone(UTC))
            d += timedelta(days=1)
    return out
