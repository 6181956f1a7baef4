"""A schedule in words (`Schedule.describe()`), read off the model the evaluator runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings

from flowc.compiler.schedules import ScheduleError, parse_schedule
from tests.schedule_oracles.strategies import schedules
from tests.schedule_oracles.systemd import SYSTEMD_ANALYZE, systemd_fires

CASES = [
    ("calendar", "Mon..Fri 09:00", "at 09:00 on weekdays"),
    ("calendar", "Sat,Sun 10:00", "at 10:00 on weekends"),
    ("calendar", "Mon,Wed,Fri 08:15", "at 08:15 on Mondays, Wednesdays and Fridays"),
    ("calendar", "Mon..Thu *-03-* 02:30", "at 02:30 from Monday to Thursday in March"),
    ("calendar", "Mon *-*-01..07 09:00", "at 09:00 on the first Monday of the month"),
    ("calendar", "Fri *-*~07/1 18:00", "at 18:00 on the last Friday of the month"),
    ("calendar", "*-*~01 06:00", "at 06:00 on the last day of the month"),
    ("calendar", "quarterly", "at 00:00 on the 1st of January, April, July and October"),
    ("calendar", "*-*-* 00/2:30", "every 2 hours from 00:30"),
    ("calendar", "*:*:0/30", "every 30 seconds"),
    ("calendar", "*:0/7", "every 7 minutes from :00 to :56 of every hour"),
    ("calendar", "2027-*-* 12:00", "at 12:00 every day in 2027"),
    ("cron", "*/15 * * * *", "every 15 minutes"),
    ("cron", "*/15 9-17 * * 1-5", "every 15 minutes from 09:00 to 17:45 on weekdays"),
    ("cron", "0 9 1,15 * 1", "at 09:00 on the 1st and 15th of the month or on Mondays"),
    ("cron", "5,20,40 */2 * * *",
     "at :05, :20 and :40 of every 2nd hour from 00 to 22 every day"),
    ("every", "90m", "every 90 minutes"),
    ("every", "7m", "every 7 minutes from 00:00 to 23:55"),
    ("at", "2026-12-24T18:00", "once, at 18:00 on 2026-12-24"),
]


@pytest.mark.parametrize(("kind", "text", "words"), CASES)
def test_schedules_read_as_people_say_them(kind, text, words):
    assert parse_schedule(kind, text, "Europe/Berlin").describe() == f"{words}, Europe/Berlin"


def test_a_zone_named_in_the_expression_is_the_one_described():
    schedule = parse_schedule("calendar", "Mon 09:00 Asia/Tokyo", "Europe/Berlin")
    assert schedule.describe() == "at 09:00 on Mondays, Asia/Tokyo"


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_the_words_follow_systemds_reading_not_a_guess():
    # "10:00,22:00" is hour 10 with minutes 00 and 22 to systemd, not two times of day.
    schedule = parse_schedule("calendar", "Sat 10:00,22:00", "UTC")
    assert schedule.describe() == "at 10:00 and 10:22 on Saturdays, UTC"
    fires = systemd_fires("Sat 10:00,22:00", "UTC", datetime(2027, 3, 1, tzinfo=UTC), 2)
    assert [f.strftime("%a %H:%M") for f in fires] == ["Sat 10:00", "Sat 10:22"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=schedules())
def test_every_schedule_has_words(drawn):
    try:
        schedule = parse_schedule(*drawn, "UTC")
    except ScheduleError:
        assume(False)
        return
    words = schedule.describe()
    assert words.endswith(", UTC") and len(words) > len(", UTC") + 4
