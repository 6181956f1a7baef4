"""Compile a schedule's (kind, text) into the normalized `Spec`, once.

One parser module per source form (parse_calendar, parse_cron, parse_every);
this module dispatches, normalizes rules, rejects schedules that can never
fire, and caches the result per (kind, text).
"""

from __future__ import annotations

from functools import lru_cache

from flowc.compiler.schedules.errors import ScheduleError
from flowc.compiler.schedules.spec import KINDS, MAX_YEAR, MIN_YEAR, Rule, Spec

# Years tried when a rule does not restrict them: 28 consecutive years cover every
# (leap year, weekday of 1 January) combination of the Gregorian calendar in 1901-2099.
_PROBE_YEARS = range(2024, 2024 + 28)


@lru_cache(maxsize=4096)
def compile_spec(kind: str, text: str) -> Spec:
    if kind == "calendar":
        from flowc.compiler.schedules.parse_calendar import parse_calendar

        spec = parse_calendar(text)
    elif kind == "cron":
        from flowc.compiler.schedules.parse_cron import parse_cron

        spec = parse_cron(text)
    elif kind == "every":
        from flowc.compiler.schedules.parse_every import parse_every

        spec = parse_every(text)
    elif kind == "at":
        from flowc.compiler.schedules.parse_every import parse_at

        spec = parse_at(text)
    else:
        raise ScheduleError(
            "E311",
            f"unknown schedule kind `{kind}`",
            'write a calendar string, cron("..."), every N<unit> or at("...")',
        )
    rules = _dedupe(tuple(rule.normalized() for rule in spec.rules))
    if not any(_can_fire(rule) for rule in rules):
        raise ScheduleError(
            "E309",
            f"schedule `{_source(kind, text)}` never fires: no date matches it",
            "check the day and month (e.g. the 30th of February does not exist)",
        )
    return Spec(rules=rules, gap=spec.gap, overlap=spec.overlap, timezone=spec.timezone)


def _dedupe(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    seen: dict[Rule, None] = {}
    for rule in rules:
        seen.setdefault(rule, None)
    return tuple(seen)


def _can_fire(rule: Rule) -> bool:
    if rule.years is not None:
        years = sorted(y for y in rule.years if MIN_YEAR <= y <= MAX_YEAR)
    else:
        years = list(_PROBE_YEARS)
    return any(rule.days_in(y, m) for y in years for m in sorted(rule.months))


def _source(kind: str, text: str) -> str:
    if kind == "calendar":
        return f'"{text}"'
    if kind == "every":
        return f"every {text}"
    return f'{kind}("{text}")'


__all__ = ["KINDS", "compile_spec"]
