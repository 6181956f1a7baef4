"""Calendar schedules fire exactly when `systemd-analyze calendar` says they do.

A table of tricky expressions (weekday ranges, `~` last days, leap days, steps,
shorthands, explicit zones, DST gaps and repeated hours in several zones) and a
hypothesis property over generated expressions, both against the real
systemd-analyze on this machine (systemd 252).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flowc.compiler.schedules import ScheduleError, parse_schedule
from tests.schedule_oracles.strategies import calendar_texts, starts, transition_instants, zones
from tests.schedule_oracles.systemd import SystemdFailed, SystemdRejects, systemd_fires

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is the reference for calendar strings and is not installed",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def flowc_fires(expr: str, tz: str, base: datetime, n: int) -> list[datetime]:
    schedule = parse_schedule("calendar", expr, tz)
    return [f.astimezone(UTC) for f in schedule.next_fires(base, n)]


TABLE = [
    # (expression, zone, base, iterations)
    ("Mon..Fri 09:00", "Europe/Berlin", utc(2026, 3, 26), 10),
    ("Sat,Sun 10:00", "America/New_York", utc(2026, 3, 1), 8),
    ("Mon,Wed..Fri 17:30", "Asia/Kolkata", utc(2026, 1, 1), 10),
    ("*-*-01 06:00", "America/New_York", utc(2026, 1, 15), 12),
    ("*-*-1,15 12:00", "UTC", utc(2026, 1, 1), 12),
    ("*-*-* 00/2:30", "Europe/Berlin", utc(2026, 10, 24, 20), 20),
    ("9..17:00", "Europe/Berlin", utc(2026, 3, 28, 12), 20),
    ("Mon..Fri 9..17:0/15", "America/New_York", utc(2026, 3, 6, 20), 40),
    ("*:*:0/15", "UTC", utc(2026, 1, 1, 23, 59), 12),
    ("Mon *-*-01..07", "UTC", utc(2026, 1, 1), 12),
    ("Fri *-*-13", "UTC", utc(2026, 1, 1), 6),
    ("*-*~01", "UTC", utc(2027, 11, 1), 8),
    ("*-02~03", "UTC", utc(2026, 1, 1), 5),
    ("*-*~07/1", "UTC", utc(2026, 1, 20), 10),
    ("Mon *-05~07/1", "UTC", utc(2026, 1, 1), 4),
    ("*-*~1..7/3 08:00", "UTC", utc(2026, 1, 1), 9),
    ("*-02-29 12:00", "UTC", utc(2026, 1, 1), 3),
    ("2027..2028-*-01 00:00", "UTC", utc(2026, 6, 1), 6),
    ("26-12-24 18:00", "Europe/Berlin", utc(2026, 1, 1), 2),
    ("*-2/3-01", "UTC", utc(2026, 1, 1), 6),
    ("minutely", "UTC", utc(2026, 1, 1), 5),
    ("hourly", "Australia/Lord_Howe", utc(2026, 10, 3, 12), 8),
    ("daily", "America/Santiago", utc(2026, 9, 4), 4),
    ("weekly", "Europe/Berlin", utc(2026, 3, 1), 4),
    ("monthly", "Pacific/Chatham", utc(2026, 1, 1), 4),
    ("quarterly", "UTC", utc(2026, 1, 1), 5),
    ("semiannually", "UTC", utc(2026, 1, 1), 3),
    ("yearly", "America/St_Johns", utc(2026, 1, 1), 3),
    ("annually", "UTC", utc(2026, 1, 1), 2),
    # daylight saving time: gaps are skipped, a repeated hour fires once
    ("*-*-* 02:30", "Europe/Berlin", utc(2026, 3, 27), 4),
    ("*-*-* 02:30", "Europe/Berlin", utc(2026, 10, 24), 4),
    ("*-*-* 02:30", "America/New_York", utc(2026, 3, 7), 4),
    ("*-*-* 01:30", "America/New_York", utc(2026, 10, 31), 4),
    ("*:0/20", "Europe/Berlin", utc(2026, 10, 24, 23), 12),
    ("*:0/20", "Europe/Berlin", utc(2026, 10, 25, 1, 10), 6),  # starts in the repeated hour
    ("*:0/20", "Europe/Berlin", utc(2026, 3, 29, 0), 8),
    ("*-*-* 02:00", "Australia/Lord_Howe", utc(2026, 10, 3), 3),
    ("*-*-* 01:45", "Australia/Lord_Howe", utc(2026, 4, 4, 12), 4),
    ("*-*-* 00:00", "America/Santiago", utc(2026, 9, 5), 3),
    ("*-*-* 03:00", "Pacific/Chatham", utc(2026, 9, 26, 12), 3),
    ("*:0/20", "Pacific/Chatham", utc(2026, 9, 26, 12), 12),
    ("minutely", "Europe/Berlin", utc(2026, 10, 25, 0, 30), 150),
    # a zone inside the expression overrides the task's zone
    ("Mon 09:00 Europe/Paris", "UTC", utc(2026, 3, 1), 4),
    ("*-*-* 10:00 UTC", "Asia/Kolkata", utc(2026, 3, 1), 3),
]


@pytest.mark.parametrize(("expr", "tz", "base", "n"), TABLE, ids=[f"{r[0]}@{r[1]}" for r in TABLE])
def test_calendar_fires_match_systemd_analyze(expr, tz, base, n):
    assert flowc_fires(expr, tz, base, n) == systemd_fires(expr, tz, base, n)


@pytest.mark.parametrize(
    "expr", ["*-*-* 24:00", "*:0/60", "Fri..Mon", "*-*~29", "*-*-* 20/5:00", "*:*/2", "Mo 10:00"]
)
def test_expressions_systemd_rejects_are_errors(expr):
    with pytest.raises(SystemdRejects):
        systemd_fires(expr, "UTC", utc(2026, 1, 1), 1)
    with pytest.raises(ScheduleError) as err:
        parse_schedule("calendar", expr, "UTC")
    assert err.value.code in ("E300", "E301")


def test_systemd_overflow_quirk_is_the_only_known_difference():
    """systemd 252 skips 00:00 after 23:56 for `*:0/7` (its open repeat overflows to
    24:03 and the normalisation keeps minute 3); flowc fires at every minute that is
    a multiple of 7, as cron(*/7 ...) does on every target."""
    base = utc(2026, 1, 1, 23, 50)
    ours = flowc_fires("*:0/7", "UTC", base, 4)
    theirs = systemd_fires("*:0/7", "UTC", base, 3)
    assert ours == [
        utc(2026, 1, 1, 23, 56),
        utc(2026, 1, 2),
        utc(2026, 1, 2, 0, 7),
        utc(2026, 1, 2, 0, 14),
    ]
    assert set(theirs) == set(ours) - {utc(2026, 1, 2)}


def test_systemd_gap_quirk_off_the_hour_is_a_known_difference():
    """In Pacific/Chatham the clocks jump from 02:45 to 03:45. systemd 252 normalises
    02:45 to 03:45, then resets the minutes because the hour changed, lands on 03:00
    (again in the gap) and ends at 04:00, so it never fires at 03:45, which exists.
    flowc fires at every existing local time that matches."""
    base = utc(2026, 9, 26, 13, 40)  # 02:25 local, before the gap
    ours = flowc_fires("*:0/15", "Pacific/Chatham", base, 3)
    theirs = systemd_fires("*:0/15", "Pacific/Chatham", base, 2)
    assert ours == [utc(2026, 9, 26, 13, 45), utc(2026, 9, 26, 14), utc(2026, 9, 26, 14, 15)]
    assert theirs == [ours[0], ours[2]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=calendar_texts(), tz=zones, data=st.data())
def test_generated_calendar_strings_match_systemd_analyze(drawn, tz, data):
    expr, quirk = drawn
    base = data.draw(starts(tz))
    try:
        theirs = systemd_fires(expr, tz, base, 15)
    except SystemdRejects:
        with pytest.raises(ScheduleError):
            parse_schedule("calendar", expr, tz)
        return
    except SystemdFailed:  # systemd gave up (EDEADLK); nothing to compare
        assume(False)
    try:
        schedule = parse_schedule("calendar", expr, tz)
    except ScheduleError as err:
        assert err.code == "E309" and theirs == [], (err.code, err.message)  # never fires
        return
    ours = [f.astimezone(UTC) for f in schedule.next_fires(base, len(theirs))]
    if ours == theirs or not theirs:
        assert ours == theirs
        return
    if "~" in expr and _wall_times(ours, tz) == _wall_times(theirs, tz):
        return  # the repeated-hour fold quirk of `~` days (test below): same local times
    # The two systemd artifacts above only ever drop fires, never add or move one.
    ours = [f.astimezone(UTC) for f in schedule.fires_between(base, theirs[-1])]
    assert set(theirs) <= set(ours)
    dropped = [t for t in ours if t not in theirs]
    assert quirk or all(_after_off_the_hour_gap(t, tz) for t in dropped), dropped


def _wall_times(fires: list[datetime], tz: str) -> list[datetime]:
    zone = ZoneInfo(tz)
    return [f.astimezone(zone).replace(tzinfo=None) for f in fires]


def test_systemd_fold_quirk_of_last_days_is_a_known_difference():
    """On the night clocks go back, 02:00-02:59 happens twice in Europe/Berlin. For a day
    counted from the month's end (`~07` of October 2026 is the 25th), systemd 252 fires
    02:00 in the first pass and 02:01 onwards in the second, while for the same day written
    `-25` it fires the first pass throughout, as flowc does for both: one fire per local
    minute, in its first occurrence."""
    base = utc(2026, 10, 24, 23, 59)  # 01:59 local
    ours = flowc_fires("*-*~07 02:*", "Europe/Berlin", base, 3)
    assert ours == flowc_fires("*-*-25 02:*", "Europe/Berlin", base, 3)
    assert ours == [utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 0, 1), utc(2026, 10, 25, 0, 2)]
    assert systemd_fires("*-*-25 02:*", "Europe/Berlin", base, 3) == ours
    theirs = systemd_fires("*-*~07 02:*", "Europe/Berlin", base, 3)
    assert theirs == [ours[0], utc(2026, 10, 25, 1, 1), utc(2026, 10, 25, 1, 2)]
    assert _wall_times(theirs, "Europe/Berlin") == _wall_times(ours, "Europe/Berlin")


def _after_off_the_hour_gap(when: datetime, tz: str) -> bool:
    """Within two hours after a clock change that does not happen on the hour."""
    zone = ZoneInfo(tz)
    for change in transition_instants(tz):
        local = (change - timedelta(seconds=1)).astimezone(zone)
        if local.minute != 59 and timedelta(0) <= when - change <= timedelta(hours=2):
            return True
    return False
