"""Read an EventBridge Scheduler expression back into the schedule model.

The inverse of translate/aws.py, written from EventBridge's cron reference rather than
from the translator: `cron(minutes hours day-of-month month day-of-week year)` with
`, - * /` in every field, `?` in exactly one day field, `L` (last day) in day-of-month,
weekdays 1-7 = SUN-SAT or their names, `D#N` (the N-th weekday D), `DL` (the last
weekday D) and `L` alone (Saturday, the last day of the week); and the one-time
`at(yyyy-mm-ddThh:mm:ss)`. `W` (nearest weekday) and `rate(...)` (counted from the
moment of deployment) have no fixed place in a calendar, and flowc never emits them:
they raise UnreadableExpression.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from flowc.compiler.schedules.spec import ZERO, Rule

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # AWS 1..7
LAST_SEVEN = frozenset(range(1, 8))  # days counted from the end: the last week of the month
_CRON = re.compile(r"cron\((.*)\)")
_AT = re.compile(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)")


class UnreadableExpression(ValueError):
    """A target expression flowc cannot place in a calendar (it never emits such)."""


def read_aws(expression: str) -> tuple[Rule, ...]:
    """The local times an EventBridge Scheduler expression fires at, as model rules."""
    text = expression.strip()
    at = _AT.fullmatch(text)
    if at:
        when = datetime.fromisoformat(at.group(1))
        return (Rule(years=frozenset({when.year}), months=frozenset({when.month}),
                     days=frozenset({when.day}), hours=frozenset({when.hour}),
                     minutes=frozenset({when.minute}), seconds=frozenset({when.second})),)
    cron = _CRON.fullmatch(text)
    if cron is None:
        raise UnreadableExpression(f"`{expression}` is neither cron(...) nor at(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise UnreadableExpression(f"`{expression}` has {len(fields)} fields, AWS cron has 6")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise UnreadableExpression(f"`{expression}`: exactly one day field must be `?`")
    base = Rule(
        minutes=values(minute, 0, 59),
        hours=values(hour, 0, 23),
        months=values(month, 1, 12, MONTHS),
        years=None if year == "*" else values(year, 1970, 2199),
        seconds=ZERO,
    )
    return _day_rules(base, dom, dow, expression)


def _day_rules(base: Rule, dom: str, dow: str, expression: str) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    plain: list[str] = []
    if dom != "?":
        for part in dom.split(","):
            if part == "L":
                rules.append(_with(base, days=frozenset({1}), from_end=True))
            elif "W" in part or "L" in part:
                raise UnreadableExpression(
                    f"`{expression}`: `{part}` (nearest weekday) is not evaluated by flowc")
            else:
                plain.append(part)
        if plain:
            days = values(",".join(plain), 1, 31)
            rules.insert(0, _with(base, days=None if days == frozenset(range(1, 32)) else days))
        return tuple(rules)
    for part in dow.split(","):
        if "#" in part:
            day, _, nth = part.partition("#")
            week = _number(nth, 1, 5)
            block = frozenset(range(7 * week - 6, min(7 * week, 31) + 1))
            rules.append(_with(base, days=block, weekdays=frozenset({weekday(day)})))
        elif part == "L":
            plain.append("SAT")
        elif part.endswith("L"):
            rules.append(_with(base, days=LAST_SEVEN, from_end=True,
                               weekdays=frozenset({weekday(part[:-1])})))
        else:
            plain.append(part)
    if plain:
        weekdays = frozenset(_model_weekday(n) for n in values(",".join(plain), 1, 7, DAYS))
        rules.insert(0, _with(base, weekdays=weekdays))
    return tuple(rules)


def _with(base: Rule, **changes) -> Rule:
    return replace(base, **changes)


def _model_weekday(aws: int) -> int:
    """AWS day-of-week (1 = Sunday) to the model's (0 = Monday)."""
    return (aws + 5) % 7


def weekday(token: str) -> int:
    return _model_weekday(_number(token, 1, 7, DAYS))


def values(field: str, lo: int, hi: int, names: tuple[str, ...] = ()) -> frozenset[int]:
    """The set a field lists: `*`, `N`, `A-B`, `*/S`, `A/S` (A to the end), `A-B/S`."""
    out: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = _number(step_text, 1, hi - lo + 1) if step_text else 1
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _number(a, lo, hi, names), _number(b, lo, hi, names)
        else:
            first = _number(base, lo, hi, names)
            last = hi if step_text else first
        if first > last:
            raise UnreadableExpression(f"range `{part}` runs backwards")
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _number(token: str, lo: int, hi: int, names: tuple[str, ...] = ()) -> int:
    upper = token.upper()
    if upper in names:
        value = names.index(upper) + lo
    elif token.isdigit():
        value = int(token)
    else:
        raise UnreadableExpression(f"`{token}` is not a number or a name")
    if not lo <= value <= hi:
        raise UnreadableExpression(f"{value} is outside {lo}-{hi}")
    return value
