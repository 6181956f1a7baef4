"""Hypothesis strategies for schedules of every source form, timezones and start times.

Generated text is valid by construction (systemd's and Vixie's rules); the few
draws flowc still rejects (e.g. a date that never exists) are filtered by tests.
Cron fields avoid one-value ranges like `5-5/7`, which croniter misreads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Santiago",  # midnight DST changes
    "Asia/Kolkata",  # +05:30, no DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30 / -02:30
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SHORTHANDS = (
    "minutely",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "semiannually",
    "yearly",
    "annually",
)

zones = st.sampled_from(ZONES)


@st.composite
def _component(draw, lo: int, hi: int, width: int = 2) -> tuple[str, bool]:
    """One systemd component; the flag says whether an open repeat overflows the field."""
    a = draw(st.integers(lo, hi))
    kind = draw(st.sampled_from(("one", "one", "range", "repeat", "range_repeat")))
    if kind == "range" and a < hi:
        return f"{a:0{width}d}..{draw(st.integers(a + 1, hi)):0{width}d}", False
    if kind == "repeat" and a < hi:
        step = draw(st.integers(1, hi - a))
        return f"{a:0{width}d}/{step}", (hi + 1 - a) % step != 0
    if kind == "range_repeat" and a < hi:
        b = draw(st.integers(a + 1, hi))
        return f"{a:0{width}d}..{b:0{width}d}/{draw(st.integers(1, 9))}", False
    return f"{a:0{width}d}", False


@st.composite
def _chain(draw, lo: int, hi: int, star: float, width: int = 2) -> tuple[str, bool]:
    if draw(st.floats(0, 1)) < star:
        return "*", False
    parts = draw(st.lists(_component(lo, hi, width), min_size=1, max_size=3))
    return ",".join(p for p, _ in parts), any(q for _, q in parts)


@st.composite
def calendar_texts(draw) -> tuple[str, bool]:
    """A systemd calendar string, and whether it might meet systemd 252's overflow
    quirk (an open repeat like `*:0/7` running past the end of its field)."""
    if draw(st.integers(0, 11)) == 0:
        return draw(st.sampled_from(SHORTHANDS)), False
    parts, quirk = [], False
    if draw(st.booleans()):
        days = []
        for _ in range(draw(st.integers(1, 2))):
            a = draw(st.integers(0, 6))
            b = draw(st.integers(a, 6))
            days.append(WEEKDAYS[a] if a == b else f"{WEEKDAYS[a]}..{WEEKDAYS[b]}")
        parts.append(",".join(days))
    if draw(st.integers(0, 9)) < 6:
        year = "*" if draw(st.integers(0, 4)) else draw(_chain(2026, 2031, 0.0, 4))[0]
        month, _ = draw(_chain(1, 12, 0.6))
        if draw(st.integers(0, 6)) == 0:
            day, _ = draw(_chain(1, 7, 0.0))
            sep = "~"
        else:
            day, q = draw(_chain(1, 31, 0.5))
            sep, quirk = "-", quirk or q
        parts.append(f"{year}-{month}{sep}{day}")
    hour, qh = draw(_chain(0, 23, 0.25))
    minute, qm = draw(_chain(0, 59, 0.1))
    time = f"{hour}:{minute}"
    quirk = quirk or qh or qm
    if draw(st.integers(0, 5)) == 0:
        second, qs = draw(_chain(0, 59, 0.2))
        time += f":{second}"
        quirk = quirk or qs
    parts.append(time)
    return " ".join(parts), quirk


@st.composite
def _cron_item(draw, lo: int, hi: int) -> str:
    a = draw(st.integers(lo, hi))
    kind = draw(st.sampled_from(("one", "one", "range", "star_step", "range_step")))
    if kind == "range" and a < hi:
        return f"{a}-{draw(st.integers(a + 1, hi))}"
    if kind == "star_step":
        return f"*/{draw(st.integers(1, hi - lo + 1))}"
    if kind == "range_step" and a < hi:
        return f"{a}-{draw(st.integers(a + 1, hi))}/{draw(st.integers(2, 9))}"
    return str(a)


@st.composite
def _cron_field(draw, lo: int, hi: int, star: float) -> str:
    if draw(st.floats(0, 1)) < star:
        return "*"
    return ",".join(draw(st.lists(_cron_item(lo, hi), min_size=1, max_size=3)))


@st.composite
def cron_texts(draw) -> str:
    if draw(st.integers(0, 14)) == 0:
        return draw(st.sampled_from(("@hourly", "@daily", "@weekly", "@monthly", "@yearly")))
    fields = [
        draw(_cron_field(0, 59, 0.15)),
        draw(_cron_field(0, 23, 0.35)),
        draw(_cron_field(1, 31, 0.6)),
        draw(st.one_of(_cron_field(1, 12, 0.7), st.sampled_from(("JAN-MAR", "jun,dec")))),
        draw(st.one_of(_cron_field(0, 7, 0.6), st.sampled_from(("MON-FRI", "sat,sun", "7")))),
    ]
    return " ".join(fields)


@st.composite
def every_texts(draw, whole_minutes: bool = True) -> str:
    unit = draw(st.sampled_from(("m", "m", "m", "h", "s", "d")))
    if unit == "m":
        return f"{draw(st.integers(1, 1440))}m"
    if unit == "h":
        return f"{draw(st.integers(1, 24))}h"
    if unit == "d":
        return "1d"
    if whole_minutes:
        return f"{60 * draw(st.integers(1, 240))}s"
    return f"{draw(st.integers(1, 3600))}s"


@st.composite
def at_texts(draw) -> str:
    when = datetime(2026, 1, 1) + timedelta(minutes=draw(st.integers(0, 3 * 365 * 1440)))
    return when.strftime("%Y-%m-%dT%H:%M")


@st.composite
def schedules(draw) -> tuple[str, str]:
    """(kind, text) of any source form."""
    kind = draw(st.sampled_from(("calendar", "cron", "every", "at")))
    if kind == "calendar":
        return kind, draw(calendar_texts())[0]
    if kind == "cron":
        return kind, draw(cron_texts())
    if kind == "every":
        return kind, draw(every_texts())
    return kind, draw(at_texts())


@cache
def transition_instants(zone: str) -> tuple[datetime, ...]:
    """The zone's offset changes in 2025-2034 (UTC, to the hour)."""
    tz = ZoneInfo(zone)
    out, t = [], datetime(2025, 1, 1, tzinfo=UTC)
    prev = t.astimezone(tz).utcoffset()
    while t.year < 2035:
        nxt = t + timedelta(hours=3)
        if nxt.astimezone(tz).utcoffset() != prev:
            while t.astimezone(tz).utcoffset() == prev:
                t += timedelta(minutes=15)
            out.append(t)
            prev = t.astimezone(tz).utcoffset()
        t = nxt if nxt > t else t
    return tuple(out)


@st.composite
def starts(draw, zone: str) -> datetime:
    """A start instant: anywhere in 2026-2028, or within a day of a DST change."""
    changes = [c for c in transition_instants(zone) if 2026 <= c.year <= 2028]
    if changes and draw(st.booleans()):
        base = draw(st.sampled_from(changes))
        return base + timedelta(minutes=draw(st.integers(-26 * 60, 26 * 60)))
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        seconds=draw(st.integers(0, 3 * 365 * 86400))
    )


def near_change(when: datetime, changes) -> bool:
    """Within 36 hours of one of the offset changes `changes` (where targets may differ)."""
    return any(abs(when - c) < timedelta(hours=36) for c in changes)


def schedule_and_start(drawn: tuple[str, str], tz: str, data):
    """The drawn schedule parsed in `tz` and a start to evaluate from, or None when flowc
    rightly rejects the draw (an at() in a DST gap, a date that never is).

    The start is never inside a repeated hour: systemd (and flowc) starting there stay
    in its second pass, while a scheduler that has been running fired in the first.
    """
    from hypothesis import assume

    from flowc.compiler.schedules import ScheduleError, parse_schedule

    kind, text = drawn
    try:
        schedule = parse_schedule(kind, text, tz)
    except ScheduleError as err:
        assume(err.code in ("E307", "E309"))
        return None
    start = data.draw(starts(tz)) if kind != "at" else datetime(2025, 12, 1, tzinfo=UTC)
    if start.astimezone(ZoneInfo(schedule.zone)).fold:
        start += timedelta(hours=3)
    return schedule, start
