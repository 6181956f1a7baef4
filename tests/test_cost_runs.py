"""`flowc cost` run counts per month match independent counts (croniter, systemd-analyze).

Each case loads a one-task spec, counts its runs in a calendar month of its timezone
with flowc.cost.runs, and counts the same month with an oracle that shares no code with
flowc: croniter for cron schedules, `systemd-analyze calendar` for calendar strings
(and for `every`, written as the systemd expressions it means). DST months included.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from flowc.cost.runs import Month, MonthFires, month_after

SYSTEMD = shutil.which("systemd-analyze")
# With TZ set, systemd prints local times and then each "(in UTC): ..."; in UTC only the first.
ELAPSE_RE = re.compile(
    r"(?:Next elapse|Iter\. #\d+|\(in UTC\)): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$", re.M)


def one_task(spec, schedule: str, timezone: str, targets: str = "[aws, gcp, k8s]"):
    result = spec(f'task t {{\n  python = "jobs.main:main"\n  schedule = {schedule}\n'
                  f'  timezone = "{timezone}"\n  targets = {targets}\n}}\n')
    assert result.ok, result.diagnostics
    return result.app.tasks[0]


def systemd_count(expression: str, month: Month, timezone: str) -> int:
    """Fires of `expression` in the month, as systemd computes them (strictly after base).

    The zone goes in TZ rather than in the expression: the same computation (systemd runs
    the zoned form in a child with TZ set), without a fork per iteration.
    """
    start, end = month.window(timezone)
    base = int(start.timestamp()) - 1
    count, batch = 0, 40
    while True:
        out = subprocess.run(
            [SYSTEMD, "calendar", f"--iterations={batch}", f"--base-time=@{base}", expression],
            capture_output=True, text=True, env={"TZ": timezone}, check=True).stdout
        fires = [datetime.strptime(m, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                 for m in ELAPSE_RE.findall(out)]
        inside = [f for f in fires if f < end]
        count += len(inside)
        if len(inside) < len(fires) or not fires:
            return count
        base, batch = int(fires[-1].timestamp()), batch * 2


def croniter_count(expression: str, month: Month, timezone: str) -> int:
    start, end = month.window(timezone)
    it = croniter(expression, (start - timedelta(seconds=1)).astimezone(ZoneInfo(timezone)))
    count = 0
    while it.get_next(datetime).astimezone(UTC) < end:
        count += 1
    return count


CALENDAR_CASES = [
    # (schedule as written, timezone, month, systemd expressions whose fires add up,
    #  the count worked out by hand, a check on the oracle itself)
    ('"Mon..Fri 09:00"', "Europe/Berlin", Month(2026, 3), ["Mon..Fri 09:00"], 22),
    ('"*-*-* 02:30"', "Europe/Berlin", Month(2026, 3), ["*-*-* 02:30"], 30),  # gap: skipped
    ('"*-*-* 02:30"', "Europe/Berlin", Month(2026, 10), ["*-*-* 02:30"], 31),  # repeated: once
    ('"hourly"', "America/New_York", Month(2026, 11), ["hourly"], 720),  # 721 h, 01:00 once
    ("every 90m", "Europe/Berlin", Month(2026, 10), ["*-*-* 00/3:00", "*-*-* 01/3:30"], 496),
    ('"*-*-01 06:00"', "Asia/Kolkata", Month(2026, 12), ["*-*-01 06:00"], 1),
    ('"Sat,Sun *-*-* 10:15"', "UTC", Month(2027, 2), ["Sat,Sun *-*-* 10:15"], 8),
    ('["Mon 09:00", "Fri 17:00"]', "America/New_York", Month(2026, 11),
     ["Mon 09:00", "Fri 17:00"], 5 + 4),
]


@pytest.mark.skipif(SYSTEMD is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize(("schedule", "tz", "month", "oracle", "by_hand"), CALENDAR_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CALENDAR_CASES])
def test_calendar_runs_match_systemd(spec, schedule, tz, month, oracle, by_hand):
    task = one_task(spec, schedule, tz)
    expected = sum(systemd_count(expr, month, tz) for expr in oracle)
    assert expected == by_hand
    fires = MonthFires(task, month)
    for target in ("aws", "gcp", "k8s"):
        assert fires.for_target(target).runs == expected, target


CRON_CASES = [
    ("*/15 * * * *", "Europe/Berlin", Month(2026, 3)),  # 743 hours
    ("*/15 * * * *", "Europe/Berlin", Month(2026, 10)),  # 745 hours, 02:xx twice
    ("0 9 * * 1-5", "America/New_York", Month(2026, 11)),
    ("30 2 * * *", "Europe/Berlin", Month(2026, 3)),  # in the spring-forward gap
    ("0 * * * *", "America/New_York", Month(2026, 11)),
    ("0 0 1,15 * 1", "UTC", Month(2026, 6)),  # Vixie: day-of-month OR weekday
]


@pytest.mark.parametrize(("expression", "tz", "month"), CRON_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CRON_CASES])
def test_cron_runs_match_croniter(spec, expression, tz, month):
    task = one_task(spec, f'cron("{expression}")', tz)
    assert MonthFires(task, month).for_target("aws").runs == croniter_count(expression, month,
                                                                            tz)


def test_dst_months_have_the_right_counts(spec):
    # Independent of any oracle: hours actually elapsed in each month.
    task = one_task(spec, 'cron("0 * * * *")', "Europe/Berlin")
    assert MonthFires(task, Month(2026, 3)).for_target("aws").runs == 31 * 24 - 1
    assert Month(2026, 3).hours("Europe/Berlin") == 743
    assert Month(2026, 10).hours("Europe/Berlin") == 745
    assert Month(2026, 11).hours("America/New_York") == 721
    assert Month(2026, 12).hours("UTC") == 744


def test_at_fires_only_in_its_month(spec):
    task = one_task(spec, 'at("2026-12-24T18:00")', "Europe/Berlin", "[aws]")
    assert MonthFires(task, Month(2026, 12)).for_target("aws").runs == 1
    assert MonthFires(task, Month(2026, 11)).for_target("aws").runs == 0


def test_month_edges_belong_to_the_task_timezone(spec):
    # Midnight on the 1st is in the month; midnight on the 1st of the next is not.
    task = one_task(spec, '"*-*-01 00:00"', "Pacific/Auckland")
    assert MonthFires(task, Month(2026, 12)).for_target("gcp").runs == 1


def test_coinciding_fires_of_two_schedules_count_once_per_trigger(spec):
    task = one_task(spec, '["Mon..Fri 09:00", "Mon 09:00"]', "UTC")
    count = MonthFires(task, Month(2026, 12)).for_target("aws")
    # December 2026: 23 weekdays, 4 Mondays (7, 14, 21, 28), each Monday also a weekday.
    assert (count.runs, count.distinct, count.triggers) == (27, 23, 2)


def test_default_month_is_the_next_one():
    assert month_after(datetime(2026, 11, 25, tzinfo=UTC)) == Month(2026, 12)
    assert month_after(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == Month(2027, 1)
