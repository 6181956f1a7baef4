"""cron("...") schedules fire exactly when croniter (the reference cron evaluator) says.

Vixie semantics: names, 7 = Sunday, lists/ranges/steps, macros, and the day rule
(a restricted day-of-month OR a restricted weekday). Daylight saving as croniter
does it: a time in a gap fires when the clock lands after it if the hour is
restricted, a repeated time fires twice; checked across real DST changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flowc.compiler.schedules import ScheduleError, parse_schedule
from tests.schedule_oracles.strategies import cron_texts, starts, transition_instants, zones
from tests.schedule_oracles.unix_cron import unix_fires


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def flowc_fires(text: str, tz: str, start: datetime, n: int) -> list[datetime]:
    return [f.astimezone(UTC) for f in parse_schedule("cron", text, tz).next_fires(start, n)]


def croniter_fires(text: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    return sorted(unix_fires([text], tz, start, end))


TABLE = [
    ("0 9 * * 1-5", "Europe/Berlin", utc(2026, 3, 1)),
    ("0 9 * * MON-FRI", "UTC", utc(2026, 3, 1)),
    ("*/15 * * * *", "America/New_York", utc(2026, 3, 8, 5)),
    ("0 0 1,15 * 1", "UTC", utc(2026, 1, 1)),  # day OR weekday
    ("0 0 */2 * 1", "UTC", utc(2026, 1, 1)),  # `*/2` is restricted: OR
    ("0 0 * * 7", "UTC", utc(2026, 1, 1)),  # 7 is Sunday
    ("0 0 * * 5-7", "UTC", utc(2026, 1, 1)),
    ("30 4 1-7 * *", "Asia/Kolkata", utc(2026, 1, 1)),
    ("0 12 * JAN,jul *", "UTC", utc(2026, 1, 1)),
    ("5-59/20 */3 * * *", "Pacific/Chatham", utc(2026, 4, 4)),
    ("@hourly", "UTC", utc(2026, 1, 1)),
    ("@daily", "America/Santiago", utc(2026, 9, 4)),
    ("@weekly", "UTC", utc(2026, 1, 1)),
    ("@monthly", "UTC", utc(2026, 1, 1)),
    ("@yearly", "UTC", utc(2026, 1, 1)),
    ("0 0 29 2 *", "UTC", utc(2026, 1, 1)),
    ("0 0 31 * *", "UTC", utc(2026, 1, 1)),
    # daylight saving time
    ("30 2 * * *", "Europe/Berlin", utc(2026, 3, 27)),  # gap: fires at 03:00
    ("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24)),  # repeated: fires twice
    ("*/20 * * * *", "Europe/Berlin", utc(2026, 3, 29, 0)),  # gap, hour `*`: skipped
    ("*/20 * * * *", "Europe/Berlin", utc(2026, 10, 25, 0, 50)),  # both passes
    ("15,45 2 * * *", "America/New_York", utc(2026, 3, 7)),
    ("0 0 * * *", "America/Santiago", utc(2026, 9, 4)),  # midnight does not exist
    ("0 2 * * *", "Australia/Lord_Howe", utc(2026, 10, 2)),  # 30-minute gap
]


@pytest.mark.parametrize(("text", "tz", "start"), TABLE, ids=[f"{r[0]}@{r[1]}" for r in TABLE])
def test_cron_fires_match_croniter(text, tz, start):
    ours = flowc_fires(text, tz, start, 30)
    assert ours == croniter_fires(text, tz, start, ours[-1])


def test_day_of_month_or_weekday_is_vixie_or():
    fires = flowc_fires("0 0 13 * 5", "UTC", utc(2026, 4, 1), 6)  # Fridays and the 13th
    assert [f.date().isoformat() for f in fires] == [
        "2026-04-03",
        "2026-04-10",
        "2026-04-13",
        "2026-04-17",
        "2026-04-24",
        "2026-05-01",
    ]
    fires = flowc_fires("0 0 1 * 3", "UTC", utc(2026, 3, 28), 4)
    assert [f.date().isoformat() for f in fires] == [
        "2026-04-01",
        "2026-04-08",
        "2026-04-15",
        "2026-04-22",
    ]
    fires = flowc_fires("0 0 * * 3", "UTC", utc(2026, 3, 28), 2)  # dom `*`: weekday only
    assert [f.date().isoformat() for f in fires] == ["2026-04-01", "2026-04-08"]


def test_gap_and_repeated_hour_policy():
    gap = flowc_fires("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12), 2)
    assert [f.isoformat() for f in gap] == [
        "2026-03-29T01:00:00+00:00",  # 03:00 CEST
        "2026-03-30T00:30:00+00:00",
    ]
    repeated = flowc_fires("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12), 2)
    assert [f.isoformat() for f in repeated] == [
        "2026-10-25T00:30:00+00:00",
        "2026-10-25T01:30:00+00:00",
    ]
    skipped = flowc_fires("30 * * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 45), 2)
    assert [f.isoformat() for f in skipped] == [
        "2026-03-29T01:30:00+00:00",  # 03:30 CEST
        "2026-03-29T02:30:00+00:00",
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("0 9 * *", "E302"),
        ("0 0 9 * * 1-5", "E302"),
        ("0 9 * * mon-fry", "E302"),
        ("0 9,x * * *", "E302"),
        ("60 9 * * *", "E303"),
        ("0 24 * * *", "E303"),
        ("0 0 0 * *", "E303"),
        ("0 0 * 13 *", "E303"),
        ("0 0 * * 8", "E303"),
        ("0 0 5-1 * *", "E303"),
        ("*/0 * * * *", "E303"),
        ("0 0 L * *", "E304"),
        ("0 0 15W * *", "E304"),
        ("0 0 * * 5#2", "E304"),
        ("0 0 * * 5L", "E304"),
        ("@reboot", "E304"),
        ("0 0 30 2 *", "E309"),
    ],
)
def test_invalid_cron_is_a_diagnostic(text, code):
    with pytest.raises(ScheduleError) as err:
        parse_schedule("cron", text, "UTC")
    assert err.value.code == code
    assert err.value.help


def _lord_howe_overlap(when: datetime, tz: str) -> bool:
    """croniter misses the second pass of Lord Howe's 30-minute repeated half hour."""
    return tz == "Australia/Lord_Howe" and any(
        abs(when - change) < timedelta(hours=2) for change in transition_instants(tz)
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=cron_texts(), tz=zones, data=st.data())
def test_generated_crons_match_croniter(text, tz, data):
    rules = parse_schedule("cron", text, tz).spec.rules
    # Both day fields restricted, one of them to every day (`0-6`, `1-31`): the day rule
    # then says "every day", which croniter (and Vixie's `*/N` reading) disagree on.
    assume(not (len(rules) == 2 and any(r.days is None and r.weekdays is None for r in rules)))
    start = data.draw(starts(tz))
    ours = flowc_fires(text, tz, start, 60)
    theirs = croniter_fires(text, tz, start, ours[-1])
    if ours != theirs:
        diff = set(ours) ^ set(theirs)
        assert all(_lord_howe_overlap(t, tz) for t in diff), sorted(diff)[:4]
