"""The schedule model: parsing every source form, its errors, and evaluation rules.

Calendar and cron meanings are checked against systemd-analyze and croniter in
their own files; here: `every`, `at`, the errors (one per code), the API
contract (strictly after, aware results, naive means UTC, explicit zones), the
DST policy of calendar schedules, and spans pointing at the fault.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from flowc.compiler.schedules import (
    ScheduleError,
    parse_schedule,
    schedule_diagnostic,
)
from flowc.compiler.schedules.model import Schedule
from flowc.diagnostics import Span


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(kind: str, text: str, tz: str, start: datetime, n: int) -> list[str]:
    return [f.isoformat() for f in parse_schedule(kind, text, tz).next_fires(start, n)]


# --- every --------------------------------------------------------------------------


def test_every_90m_is_clock_aligned_within_the_day():
    assert fires("every", "90m", "UTC", utc(2026, 1, 1, 21), 4) == [
        "2026-01-01T22:30:00+00:00",
        "2026-01-02T00:00:00+00:00",
        "2026-01-02T01:30:00+00:00",
        "2026-01-02T03:00:00+00:00",
    ]


def test_every_7m_restarts_at_midnight():
    out = fires("every", "7m", "Europe/Berlin", utc(2026, 1, 1, 22, 50), 3)
    assert out == [
        "2026-01-01T23:55:00+01:00",
        "2026-01-02T00:00:00+01:00",
        "2026-01-02T00:07:00+01:00",
    ]


def test_every_accepts_seconds_hours_days_and_sums():
    assert fires("every", "45s", "UTC", utc(2026, 1, 1), 2) == [
        "2026-01-01T00:00:45+00:00",
        "2026-01-01T00:01:30+00:00",
    ]
    assert fires("every", "1h30m", "UTC", utc(2026, 1, 1), 1) == ["2026-01-01T01:30:00+00:00"]
    assert fires("every", "1d", "UTC", utc(2026, 1, 1, 1), 1) == ["2026-01-02T00:00:00+00:00"]
    assert fires("every", "24h", "UTC", utc(2026, 1, 1, 1), 1) == ["2026-01-02T00:00:00+00:00"]


# --- at -----------------------------------------------------------------------------


def test_at_fires_once_in_the_task_timezone():
    s = parse_schedule("at", "2026-12-24T18:00", "Europe/Berlin")
    assert [f.isoformat() for f in s.next_fires(utc(2026, 1, 1), 5)] == [
        "2026-12-24T18:00:00+01:00"
    ]
    assert s.next_fires(utc(2026, 12, 24, 17), 1) == []


def test_at_in_a_repeated_hour_is_the_first_occurrence():
    assert fires("at", "2026-10-25T02:30", "Europe/Berlin", utc(2026, 1, 1), 2) == [
        "2026-10-25T02:30:00+02:00"
    ]


# --- calendar DST policy (systemd's) -------------------------------------------------


def test_calendar_skips_a_missing_time_and_fires_a_repeated_time_once():
    assert fires("calendar", "*-*-* 02:30", "Europe/Berlin", utc(2026, 3, 28, 12), 2) == [
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    assert fires("calendar", "*-*-* 02:30", "Europe/Berlin", utc(2026, 10, 24, 12), 2) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_a_search_that_starts_in_the_repeated_hour_stays_in_it():
    start = datetime(2026, 10, 25, 2, 10, tzinfo=ZoneInfo("Europe/Berlin"), fold=1)
    out = fires("calendar", "*:0/20", "Europe/Berlin", start, 3)
    assert out == [
        "2026-10-25T02:20:00+01:00",
        "2026-10-25T02:40:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


# --- the API contract ----------------------------------------------------------------


def test_next_fires_is_strictly_after_and_aware_in_the_schedule_zone():
    s = parse_schedule("calendar", "*-*-* 09:00", "America/New_York")
    first = s.next_fires(datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("America/New_York")), 1)[0]
    assert first.isoformat() == "2026-01-06T09:00:00-05:00"
    assert first.tzinfo is not None and str(first.tzinfo) == "America/New_York"


def test_naive_after_means_utc():
    s = parse_schedule("calendar", "hourly", "Asia/Kolkata")
    assert s.next_fires(datetime(2026, 1, 1, 0, 0), 1) == s.next_fires(utc(2026, 1, 1), 1)


def test_fires_between_is_half_open():
    s = parse_schedule("cron", "0 * * * *", "UTC")
    got = s.fires_between(utc(2026, 1, 1, 0), utc(2026, 1, 1, 3))
    assert [f.hour for f in got] == [1, 2, 3]


def test_a_month_of_minutes_is_every_minute_once():
    s = parse_schedule("cron", "* * * * *", "Europe/Berlin")
    got = s.fires_between(utc(2026, 3, 1), utc(2026, 4, 1))
    assert len(got) == 31 * 1440
    stamps = [f.timestamp() for f in got]  # instants: wall-clock arithmetic ignores DST
    assert all(b - a == 60 for a, b in zip(stamps, stamps[1:], strict=False))


def test_a_zone_in_the_calendar_string_wins():
    s = parse_schedule("calendar", "Mon 09:00 Europe/Paris", "UTC")
    assert s.timezone == "Europe/Paris" and s.zone == "Europe/Paris"
    assert s.next_fires(utc(2026, 3, 1), 1)[0].isoformat() == "2026-03-02T09:00:00+01:00"


def test_schedule_source_and_json():
    s = parse_schedule("every", "90m", "UTC")
    assert s.source == "every 90m"
    assert s.to_json() == {"kind": "every", "text": "90m", "timezone": "UTC", "source": "every 90m"}
    assert parse_schedule("cron", "0 9 * * 1", "UTC").source == 'cron("0 9 * * 1")'
    assert Schedule("calendar", "daily", "UTC") == Schedule(
        "calendar", "daily", "UTC", Span("f", 1, 1)
    )


def test_schedules_past_2199_do_not_fire():
    assert fires("calendar", "2199-12-31 23:00", "UTC", utc(2199, 12, 31), 2) == [
        "2199-12-31T23:00:00+00:00"
    ]


# --- errors: one test per code, with a caret on the fault ------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "code"),
    [
        ("calendar", "Mon..Fry 09:00", "E300"),
        ("calendar", "*-*-* 10", "E300"),
        ("calendar", "*/2:00", "E300"),
        ("calendar", "", "E300"),
        ("calendar", "*-*-* 24:00", "E301"),
        ("calendar", "*-*-* 20/5:00", "E301"),
        ("calendar", "*-*~29", "E301"),
        ("calendar", "1969-01-01", "E301"),
        ("calendar", "*:*:53..53", "E301"),
        ("cron", "0 9 * *", "E302"),
        ("cron", "0 9 * * 8", "E303"),
        ("cron", "0 0 L * *", "E304"),
        ("every", "90", "E305"),
        ("every", "0m", "E305"),
        ("every", "25h", "E305"),
        ("at", "2026-02-30T10:00", "E306"),
        ("at", "2026-12-24T18:00+01:00", "E306"),
        ("at", "2026-03-29T02:30", "E307"),
        ("calendar", "*-02-30", "E309"),
        ("calendar", "*:*:10.5", "E310"),
        ("hourly", "x", "E311"),
    ],
)
def test_bad_schedules_are_diagnostics(kind, text, code):
    span = Span("app.flow", 4, 14, 4, 14 + len(Schedule(kind, text, "UTC").source))
    with pytest.raises(ScheduleError) as err:
        parse_schedule(kind, text, "Europe/Berlin", span)
    assert err.value.code == code, err.value.message
    assert err.value.help
    d = schedule_diagnostic(err.value)
    assert d.code == code and d.span is not None and d.span.line == 4


def test_unknown_timezone_is_a_diagnostic():
    with pytest.raises(ScheduleError) as err:
        parse_schedule("calendar", "daily", "Mars/Base")
    assert err.value.code == "E308"


def test_the_caret_points_at_the_fault_inside_the_schedule():
    source = 'cron("0 9 * * 8")'
    span = Span("app.flow", 2, 14, 2, 14 + len(source))
    with pytest.raises(ScheduleError) as err:
        parse_schedule("cron", "0 9 * * 8", "UTC", span)
    # text starts after `cron("`: column 14 + 6; the day-of-week field is at offset 8
    assert err.value.span == Span("app.flow", 2, 28, 2, 29)
    with pytest.raises(ScheduleError) as err:
        parse_schedule("calendar", "Mon..Fry 09:00", "UTC", Span("f", 1, 12, 1, 28))
    assert (err.value.span.column, err.value.span.end_column) == (18, 21)
