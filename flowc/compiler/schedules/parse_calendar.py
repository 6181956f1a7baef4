"""Parse systemd calendar expressions (OnCalendar=) into the schedule model.

Follows systemd's calendarspec.c (v252, the reference is `systemd-analyze
calendar`): `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [TIMEZONE]`.
Weekdays are names (Mon, Monday; any case) in lists (`Sat,Sun`) and ranges
(`Mon..Fri`, legacy `Mon-Fri`). Each number field is `*` or a comma list of
`A`, `A..B`, `A/STEP` and `A..B/STEP`; `~` before the day counts from the end
of the month (`*-*~01` is the last day, `*-*~07/1` the last seven days).
Two-digit years mean 20xx below 70 and 19xx from 70; missing time is 00:00:00,
missing seconds are 0. Shorthands: minutely hourly daily weekly monthly
quarterly semiannually yearly annually (and systemd's aliases); `@EPOCH` is one
instant in UTC. A trailing ` UTC` or IANA zone name overrides the task's zone.

Not supported (rejected with a diagnostic): fractional seconds, and the local
zone abbreviations (`CET`/`CEST`) systemd accepts only for its own local zone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flowc.compiler.schedules.errors import ScheduleError
from flowc.compiler.schedules.spec import (
    ALL_HOURS,
    ALL_MINUTES,
    ALL_MONTHS,
    ALL_SECONDS,
    MAX_YEAR,
    MIN_YEAR,
    ZERO,
    Rule,
    Spec,
)
from flowc.compiler.schedules.zones import is_zone

SYNTAX_HELP = (
    "systemd calendar syntax is `[WEEKDAYS] [[YYYY-]MM-DD] [HH:MM[:SS]] [TIMEZONE]`, "
    'e.g. "Mon..Fri 09:00" or "*-*-01 06:00"; `systemd-analyze calendar EXPR` checks one'
)
_INT_MAX = 2**31 - 1

_DAILY = {"hours": ZERO, "minutes": ZERO, "seconds": ZERO}
SHORTHANDS: dict[str, Rule] = {
    "minutely": Rule(seconds=ZERO),
    "hourly": Rule(minutes=ZERO, seconds=ZERO),
    "daily": Rule(**_DAILY),
    "weekly": Rule(weekdays=frozenset({0}), **_DAILY),
    "monthly": Rule(days=frozenset({1}), **_DAILY),
    "quarterly": Rule(months=frozenset({1, 4, 7, 10}), days=frozenset({1}), **_DAILY),
}
for _name in ("semiannually", "semi-annually", "biannually", "bi-annually"):
    SHORTHANDS[_name] = Rule(months=frozenset({1, 7}), days=frozenset({1}), **_DAILY)
for _name in ("yearly", "annually", "anually"):
    SHORTHANDS[_name] = Rule(months=frozenset({1}), days=frozenset({1}), **_DAILY)

_WEEKDAYS = (
    ("monday", 0),
    ("mon", 0),
    ("tuesday", 1),
    ("tue", 1),
    ("wednesday", 2),
    ("wed", 2),
    ("thursday", 3),
    ("thu", 3),
    ("friday", 4),
    ("fri", 4),
    ("saturday", 5),
    ("sat", 5),
    ("sunday", 6),
    ("sun", 6),
)

# A component: (start, stop or None, repeat); repeat 0 means a single value.
Component = tuple[int, int | None, int]
Chain = list[tuple[Component, int, int]] | None  # components with (offset, length); None = *


class _Cursor:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.text[i] if i < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def error(self, detail: str, help: str | None = SYNTAX_HELP, length: int = 1) -> ScheduleError:
        return ScheduleError(
            "E300",
            f'invalid calendar expression "{self.text}": {detail}',
            help,
            where=(min(self.pos, max(len(self.text) - 1, 0)), length),
        )


def parse_calendar(text: str) -> Spec:
    body, zone = _split_timezone(text)
    if body.lower() in SHORTHANDS:
        return Spec(rules=(SHORTHANDS[body.lower()],), timezone=zone)
    if not body:
        raise ScheduleError("E300", "empty calendar expression", SYNTAX_HELP)
    cur = _Cursor(body)
    weekdays = _parse_weekdays(cur)
    if cur.peek() == "@":
        return _parse_epoch(cur, weekdays)
    date = _parse_date(cur)
    hours, minutes, seconds = _parse_time(cur)
    years, months, days, from_end = date
    rule = Rule(
        months=months,
        days=days,
        weekdays=weekdays,
        hours=hours,
        minutes=minutes,
        seconds=seconds,
        years=years,
        from_end=from_end,
    )
    return Spec(rules=(rule,), timezone=zone)


def _split_timezone(text: str) -> tuple[str, str | None]:
    if text.lower().endswith(" utc"):
        return text[:-4], "UTC"
    space = text.rfind(" ")
    if space >= 0 and is_zone(text[space + 1 :]):
        return text[:space], text[space + 1 :]
    return text, None


def _parse_weekdays(cur: _Cursor) -> frozenset[int] | None:
    bits: set[int] = set()
    first = True
    low: int | None = None
    while True:
        rest = cur.text[cur.pos :].lower()
        match = next(((name, nr) for name, nr in _WEEKDAYS if rest.startswith(name)), None)
        if match is None:
            if first:
                return None
            raise cur.error("expected a weekday name", _WEEKDAY_HELP, length=3)
        name, nr = match
        after = cur.peek(len(name))
        if after not in ("", "-", ".", ",", " "):
            raise cur.error("unknown weekday", _WEEKDAY_HELP, length=len(name) + 1)
        if low is not None:
            if low > nr:
                raise cur.error(
                    "weekday range runs backwards", "write ranges from Monday towards Sunday"
                )
            bits.update(range(low + 1, nr))
        bits.add(nr)
        cur.pos += len(name)
        if cur.at_end():
            return frozenset(bits)
        if cur.peek() == " ":
            cur.skip_spaces()
            return frozenset(bits)
        if cur.peek() == ".":
            if low is not None or cur.peek(1) != ".":
                raise cur.error("expected `..` in a weekday range", _WEEKDAY_HELP)
            low = nr
            cur.pos += 2
        elif cur.peek() == "-":
            if low is not None:
                raise cur.error("expected `,` after a weekday range", _WEEKDAY_HELP)
            low = nr
            cur.pos += 1
        elif cur.peek() == ",":
            low = None
            cur.pos += 1
        if cur.peek() in ("", " "):
            if low is not None:
                raise cur.error("weekday range has no end", _WEEKDAY_HELP)
            cur.skip_spaces()
            return frozenset(bits)
        first = False


_WEEKDAY_HELP = "weekdays are Mon Tue Wed Thu Fri Sat Sun (or full names): `Mon..Fri`, `Sat,Sun`"


def _parse_epoch(cur: _Cursor, weekdays: frozenset[int] | None) -> Spec:
    cur.pos += 1
    start = cur.pos
    while cur.peek().isdigit():
        cur.pos += 1
    if cur.pos == start or not cur.at_end():
        raise cur.error("`@` must be followed by seconds since 1970 and nothing else")
    seconds = int(cur.text[start:])
    # Checked before converting: a huge number overflows the C time functions (OSError,
    # ValueError "year 10000 is out of range") instead of giving a date.
    if seconds >= int(datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC).timestamp()):
        raise cur.error(f"`@` time is after {MAX_YEAR}")
    when = datetime.fromtimestamp(seconds, UTC)
    rule = Rule(
        years=frozenset({when.year}),
        months=frozenset({when.month}),
        days=frozenset({when.day}),
        weekdays=weekdays,
        hours=frozenset({when.hour}),
        minutes=frozenset({when.minute}),
        seconds=frozenset({when.second}),
    )
    return Spec(rules=(rule,), timezone="UTC")


def _parse_date(cur: _Cursor) -> tuple:
    """(years, months, days, from_end); the whole calendar if no date is written."""
    if cur.at_end():
        return None, ALL_MONTHS, None, False
    save = cur.pos
    first = _parse_chain(cur)
    if cur.peek() in ("", ":"):
        cur.pos = save  # it was the hour
        return None, ALL_MONTHS, None, False
    from_end = cur.peek() == "~"
    if cur.peek() not in ("-", "~"):
        raise cur.error("expected `-` between date parts")
    cur.pos += 1
    second = _parse_chain(cur)
    if cur.peek() in ("", " "):
        cur.skip_spaces()
        return None, _values(first, 1, 12, "month"), _days(second, from_end), from_end
    if from_end:
        raise cur.error("`~` may only come before the day")
    if cur.peek() not in ("-", "~"):
        raise cur.error("expected `-` between date parts")
    from_end = cur.peek() == "~"
    cur.pos += 1
    third = _parse_chain(cur)
    if cur.peek() not in ("", " "):
        raise cur.error("expected a space after the date")
    cur.skip_spaces()
    years = _years(first)
    return years, _values(second, 1, 12, "month"), _days(third, from_end), from_end


def _parse_time(cur: _Cursor) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
    if cur.at_end():
        return ZERO, ZERO, ZERO
    hours = _parse_chain(cur)
    if cur.peek() != ":":
        raise cur.error("expected `:` after the hour" if cur.peek() else "time needs HH:MM")
    cur.pos += 1
    minutes = _parse_chain(cur)
    hour_set = _values(hours, 0, 23, "hour") if hours is not None else ALL_HOURS
    minute_set = _values(minutes, 0, 59, "minute") if minutes is not None else ALL_MINUTES
    if cur.at_end():
        return hour_set, minute_set, ZERO
    if cur.peek() != ":":
        raise cur.error("expected `:` before the seconds")
    cur.pos += 1
    seconds = _parse_chain(cur, seconds=True)
    if not cur.at_end():
        raise cur.error("unexpected text after the time")
    second_set = _values(seconds, 0, 59, "second") if seconds is not None else ALL_SECONDS
    return hour_set, minute_set, second_set


def _parse_chain(cur: _Cursor, seconds: bool = False) -> Chain:
    if cur.peek() == "*":
        cur.pos += 1
        if cur.peek() == "/":
            raise cur.error(
                "`*/STEP` is cron syntax",
                "systemd writes steps as START/STEP, e.g. `00/2:00` or `*:0/15`",
            )
        return None
    chain = []
    while True:
        begin = cur.pos
        start = _number(cur, seconds)
        stop, repeat = None, 0
        if cur.peek() == "." and cur.peek(1) == ".":
            cur.pos += 2
            stop, repeat = _number(cur, seconds), 1
        if cur.peek() == "/":
            cur.pos += 1
            repeat = _number(cur, seconds)
            if repeat == 0:
                raise cur.error("a repetition must be at least 1", length=1)
        elif seconds and stop is not None and stop <= start:
            # systemd refuses a seconds range shorter than its 1s default step
            raise ScheduleError(
                "E301",
                f"second range {start}..{stop} is empty",
                f"write a single second (`{start}`) or a longer range",
                where=(begin, cur.pos - begin),
            )
        if cur.peek() not in ("", " ", ",", "-", "~", ":"):
            raise cur.error(f"unexpected `{cur.peek()}`")
        chain.append(((start, stop, repeat), begin, cur.pos - begin))
        if cur.peek() != ",":
            return chain
        cur.pos += 1


def _number(cur: _Cursor, seconds: bool) -> int:
    begin = cur.pos
    while cur.peek().isdigit():
        cur.pos += 1
    if cur.pos == begin:
        raise cur.error("expected a number or `*`" if cur.peek() else "expression ends early")
    value = int(cur.text[begin : cur.pos])
    if seconds and cur.peek() == "." and cur.peek(1) != ".":
        cur.pos += 1
        frac = cur.pos
        while cur.peek().isdigit():
            cur.pos += 1
        digits = cur.text[frac : cur.pos]
        if not 1 <= len(digits) <= 6:
            raise cur.error("expected up to six digits after the decimal point")
        if int(digits):
            raise ScheduleError(
                "E310",
                f"fractional seconds ({cur.text[begin : cur.pos]}) are not supported",
                "schedules have one-second resolution; write whole seconds",
                where=(begin, cur.pos - begin),
            )
    if value > _INT_MAX:
        raise cur.error("number too large", length=cur.pos - begin)
    return value


def _years(chain: Chain) -> frozenset[int] | None:
    if chain is None:
        return None
    fixed = []
    for (start, stop, repeat), offset, length in chain:
        fixed.append(
            ((_fix_year(start), None if stop is None else _fix_year(stop), repeat), offset, length)
        )
    return _values(fixed, MIN_YEAR, MAX_YEAR, "year")


def _fix_year(year: int) -> int:
    if 0 <= year < 70:
        return year + 2000
    if 70 <= year < 100:
        return year + 1900
    return year


def _days(chain: Chain, from_end: bool) -> frozenset[int] | None:
    if chain is None:
        return None
    return _values(chain, 1, 31, "day", from_end=from_end)


def _values(chain: Chain, lo: int, hi: int, what: str, from_end: bool = False) -> frozenset[int]:
    """The set a chain denotes, with systemd's normalization and validity rules."""
    if chain is None:
        return frozenset(range(lo, hi + 1))
    top = 28 if from_end else hi  # systemd: at most 28 days back from the end
    out: set[int] = set()
    for (start, stop, repeat), offset, length in chain:

        def bad(detail: str, offset: int = offset, length: int = length) -> ScheduleError:
            return ScheduleError(
                "E301",
                f"{what} {detail}",
                _range_help(what, lo, top, from_end),
                where=(offset, length),
            )

        if stop is not None:
            if stop < start:
                raise bad("range runs backwards")
            if repeat and stop > start:
                stop -= (stop - start) % repeat
            if stop == start:
                stop, repeat = None, 0
        if not lo <= start <= top or (stop is not None and stop > top):
            raise bad(f"out of range {lo}..{top}")
        if stop is not None:
            out.update(range(start, stop + 1, repeat))
        elif repeat and from_end:
            if start - repeat < lo:
                raise bad(f"repetition /{repeat} from ~{start} passes the end of the month")
            out.update(range(start, lo - 1, -repeat))
        elif repeat:
            if start + repeat > top:
                raise bad(f"repetition {start}/{repeat} never repeats within {lo}..{top}")
            out.update(range(start, hi + 1, repeat))
        else:
            out.add(start)
    return frozenset(out)


def _range_help(what: str, lo: int, hi: int, from_end: bool) -> str:
    if from_end:
        return "`~N` counts back from the last day of the month (1..28); e.g. `*-*~01`"
    return f"a {what} is {lo}..{hi}; steps are START/STEP and must repeat at least once"
