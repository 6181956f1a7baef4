"""Lower a schedule's rules to `Piece`s a cron dialect can say, shared by every target.

A `Dialect` lists what a target's cron can express beyond five Vixie fields
(a year field, `L` for the last day, `#`/`L` for the n-th or last weekday).
Lowering checks each rule against it, raising Untranslatable with the reason,
splits what needs splitting (days counted from the month's end become plain
days per month length), and merges pieces that differ in one field, so the
list is short and its union is exactly the schedule's set of local times.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from flowc.compiler.schedules.errors import Untranslatable
from flowc.compiler.schedules.model import Schedule
from flowc.compiler.schedules.spec import ZERO, Rule

LONG_MONTHS = frozenset({1, 3, 5, 7, 8, 10, 12})
SHORT_MONTHS = frozenset({4, 6, 9, 11})
FEBRUARY = frozenset({2})
WEEK_BLOCKS = {k: frozenset(range(7 * k - 6, min(7 * k, 31) + 1)) for k in range(1, 6)}
LAST_WEEK = frozenset(range(1, 8))  # days 1..7 counted from the end: the last seven days
LAST = -1  # Piece.nth week for "the last such weekday of the month"


@dataclass(frozen=True)
class Dialect:
    target: str  # "aws", "gcp", "k8s"
    label: str  # how messages name the target's scheduler
    years: bool = False  # a year field
    last_day: bool = False  # `L` in day-of-month
    nth_weekday: bool = False  # `#` (n-th weekday) and `NL` (last weekday) in day-of-week


@dataclass(frozen=True)
class Piece:
    """One cron expression's worth of local times (target-neutral)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    days: frozenset[int] | None = None  # plain days of the month
    weekdays: frozenset[int] | None = None  # 0 = Monday
    years: frozenset[int] | None = None
    last_day: bool = False  # the last day of the month
    nth: tuple[int, int] | None = None  # (weekday, week 1..5 or LAST)
    either: bool = False  # days OR weekdays (unix cron with both fields restricted)


MERGEABLE = ("minutes", "hours", "months", "years", "days", "weekdays")


def lower(schedule: Schedule, dialect: Dialect) -> list[Piece]:
    pieces: list[Piece] = []
    for rule in schedule.spec.rules:
        _check_time(schedule, rule, dialect)
        if rule.years is not None and not dialect.years:
            raise Untranslatable(
                "E323",
                f"{schedule.source} only fires in certain years, and {dialect.label} has no "
                f"year field (target {dialect.target})",
                "drop the year from the date, or run this task on aws only (`targets = [aws]`)",
            )
        pieces.extend(_day_pieces(schedule, rule, dialect))
    return merge(pieces)


def _check_time(schedule: Schedule, rule: Rule, dialect: Dialect) -> None:
    if rule.seconds != ZERO:
        secs = ", ".join(str(s) for s in sorted(rule.seconds)[:4])
        raise Untranslatable(
            "E321",
            f"{schedule.source} fires at second {secs}{'...' if len(rule.seconds) > 4 else ''} "
            f"of a minute, and {dialect.label} fires on whole minutes only (target "
            f"{dialect.target})",
            "use whole minutes: `every 1m`, `every 90m`, or seconds `:00` in a calendar string",
        )


def _day_pieces(schedule: Schedule, rule: Rule, dialect: Dialect) -> list[Piece]:
    base = Piece(minutes=rule.minutes, hours=rule.hours, months=rule.months, years=rule.years)
    days, weekdays = rule.days, rule.weekdays
    if days is None:
        return [replace(base, weekdays=weekdays)]
    if weekdays is not None:
        return _weekday_and_day(schedule, rule, base, dialect)
    if not rule.from_end:
        return [replace(base, days=days)]
    if dialect.last_day and days == frozenset({1}):
        return [replace(base, last_day=True)]
    out = []
    for months, length in ((LONG_MONTHS, 31), (SHORT_MONTHS, 30), (FEBRUARY, 0)):
        chosen = rule.months & months
        if not chosen:
            continue
        if not length:
            hint = "; `~01` alone (the last day) works there" if dialect.last_day else ""
            raise Untranslatable(
                "E324",
                f"{schedule.source} counts days back from the end of February, which moves "
                f"with leap years, and {dialect.label} cannot say that (target "
                f"{dialect.target}){hint}",
                "leave February out of the months, or run this task on aws with `~01`",
            )
        out.append(replace(base, months=chosen, days=frozenset(length - n + 1 for n in days)))
    return out


def _weekday_and_day(schedule: Schedule, rule: Rule, base: Piece, dialect: Dialect) -> list[Piece]:
    days, weekdays = rule.days or frozenset(), rule.weekdays or frozenset()
    if not dialect.nth_weekday:
        raise Untranslatable(
            "E322",
            f"{schedule.source} needs a weekday AND a day of the month, and {dialect.label} "
            f"fires when either matches (target {dialect.target})",
            "run this task on aws only (`targets = [aws]`), whose cron says n-th and last "
            "weekdays, or schedule the weekday and check the date in the task",
        )
    if rule.from_end:
        weeks = [LAST] if days == LAST_WEEK else None
    else:
        weeks = [k for k, block in WEEK_BLOCKS.items() if block <= days]
        if frozenset().union(*(WEEK_BLOCKS[k] for k in weeks)) != days:
            weeks = None
    if weeks is None:
        raise Untranslatable(
            "E325",
            f"{schedule.source} needs a weekday AND a day of the month, and {dialect.label} can "
            f"only say the n-th or the last weekday of a month (target {dialect.target})",
            "use days 01..07, 08..14, 15..21, 22..28 (first to fourth weekday), 29..31, or "
            "`~07/1` (the last weekday)",
        )
    return [replace(base, nth=(w, k)) for w in sorted(weekdays) for k in weeks]


def merge(pieces: list[Piece]) -> list[Piece]:
    """Union pieces that differ in one mergeable field until none do (order kept)."""
    out = list(dict.fromkeys(pieces))
    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                merged = _merge_two(out[i], out[j])
                if merged is not None:
                    out[i] = merged
                    del out[j]
                    changed = True
                    break
            if changed:
                break
    return out


def _merge_two(a: Piece, b: Piece) -> Piece | None:
    diff = [f.name for f in fields(Piece) if getattr(a, f.name) != getattr(b, f.name)]
    if len(diff) != 1 or diff[0] not in MERGEABLE:
        return None
    name = diff[0]
    x, y = getattr(a, name), getattr(b, name)
    # (X x rest) | (Y x rest) == (X | Y) x rest, also when days and weekdays are
    # ANDed or ORed ("either"); None means any value and absorbs the other.
    if x is None or y is None:
        return a if x is None else b
    return replace(a, **{name: x | y})


def merge_either(pieces: list[Piece]) -> list[Piece]:
    """Unix cron: a days-only and a weekdays-only piece with the same times are one
    expression, since five-field cron ORs two restricted day fields."""
    out = list(pieces)
    i = 0
    while i < len(out):
        a = out[i]
        partner = None
        if a.days is not None and a.weekdays is None and not a.either:
            for j in range(len(out)):
                b = out[j]
                if (
                    b.days is None
                    and b.weekdays is not None
                    and not b.either
                    and replace(b, weekdays=None, days=a.days) == a
                ):
                    partner = j
                    break
        if partner is not None:
            out[i] = replace(a, weekdays=out[partner].weekdays, either=True)
            del out[partner]
            if partner < i:
                i -= 1
        i += 1
    return out
