"""flowc's evaluator of emitted target expressions (flowc.compiler.schedules.emitted).

It must agree with evaluators that share no code with it: the AWS oracle written from
EventBridge's documentation (with its DST rule) everywhere, croniter away from DST
changes (croniter shifts a gap time, the CronJob controller skips it). And read back,
a target's expressions differ from the source only on days the clocks change, and
only where the compiler warned (W300/W301).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.compiler.schedules import Untranslatable, parse_schedule
from flowc.compiler.schedules.emitted import Emitted, UnreadableExpression, target_spec
from flowc.compiler.schedules.read_aws import read_aws
from flowc.targets import registry
from tests.schedule_oracles.aws_cron import aws_fires
from tests.schedule_oracles.strategies import (
    near_change,
    schedule_and_start,
    schedules,
    transition_instants,
    zones,
)
from tests.schedule_oracles.unix_cron import unix_fires

BERLIN = "Europe/Berlin"


def translate(schedule, target: str) -> list[str]:
    return registry.get(target).translate(schedule)


def schedule_warnings(schedule, target: str, start=None):
    return registry.get(target).schedule_warnings(schedule, start)


def utc(fires) -> list[datetime]:
    return [f.astimezone(UTC) for f in fires]


def window(year: int, month: int, days: int = 31, tz: str = BERLIN):
    """(start, end) for fires_between, which excludes start: from local midnight on."""
    start = datetime(year, month, 1, tzinfo=ZoneInfo(tz)) - timedelta(seconds=1)
    return start, start + timedelta(days=days)


# --- reading AWS expressions -------------------------------------------------------------


def test_aws_last_day_nth_and_last_weekday_read_as_the_docs_say():
    start, end = window(2027, 3)
    last_day = Emitted("aws", ("cron(0 6 L * ? *)",), BERLIN).fires_between(start, end)
    assert [f.day for f in last_day] == [31]
    first_monday = Emitted("aws", ("cron(0 9 ? * 2#1 *)",), BERLIN).fires_between(start, end)
    assert [f.day for f in first_monday] == [1]
    last_friday = Emitted("aws", ("cron(0 18 ? * 6L *)",), BERLIN).fires_between(start, end)
    assert [(f.day, f.hour) for f in last_friday] == [(26, 18)]
    names = Emitted("aws", ("cron(30 7 ? MAR MON-WED 2027)",), BERLIN).fires_between(start, end)
    assert len(names) == 15 and {f.weekday() for f in names} == {0, 1, 2}  # 5 each


def test_aws_one_time_at_fires_once():
    emitted = Emitted("aws", ("at(2027-03-10T18:00:00)",), BERLIN)
    fires = emitted.fires_between(*window(2027, 1, days=365))
    assert [f.isoformat() for f in fires] == ["2027-03-10T18:00:00+01:00"]


@pytest.mark.parametrize("expr", [
    "rate(5 minutes)", "cron(0 9 * * *)", "cron(0 9 15W * ? *)", "cron(0 9 * * MON *)",
    "cron(0 25 * * ? *)", "cron(0 9 ? * FOO *)", "cron(5-1 9 * * ? *)",
])
def test_what_flowc_cannot_place_on_a_calendar_is_refused(expr):
    with pytest.raises(UnreadableExpression):
        read_aws(expr)


def test_unreadable_unix_cron_is_refused_with_the_reason():
    with pytest.raises(UnreadableExpression, match="fields"):
        target_spec("gcp", "0 9 * *")
    with pytest.raises(ValueError, match="unknown target"):
        target_spec("azure", "0 9 * * *")


# --- the targets' daylight-saving behaviour ------------------------------------------------


def test_a_gap_time_is_skipped_on_every_target_and_only_gcp_is_unsure():
    start, end = window(2027, 3)
    for target, expr in (("aws", "cron(30 2 * * ? *)"), ("gcp", "30 2 * * *"),
                         ("k8s", "30 2 * * *")):
        emitted = Emitted(target, (expr,), BERLIN)
        days = [f.day for f in emitted.fires_between(start, end)]
        assert 28 not in days and len(days) == 30, target
        assert emitted.uncertain_days(start, end) == (
            {datetime(2027, 3, 28).date()} if target == "gcp" else set())


def test_a_repeated_time_runs_once_on_aws_and_twice_on_k8s():
    start, end = window(2027, 10)
    aws = Emitted("aws", ("cron(30 2 * * ? *)",), BERLIN).fires_between(start, end)
    k8s = Emitted("k8s", ("30 2 * * *",), BERLIN).fires_between(start, end)
    assert [f.isoformat() for f in aws if f.day == 31] == ["2027-10-31T02:30:00+02:00"]
    assert [f.isoformat() for f in k8s if f.day == 31] == [
        "2027-10-31T02:30:00+02:00", "2027-10-31T02:30:00+01:00"]


def test_an_instant_two_expressions_share_runs_twice():
    start, end = window(2027, 3, days=1)
    both = Emitted("gcp", ("0 9 * * *", "0 */3 * * *"), BERLIN).fires_between(start, end)
    assert [f.hour for f in both] == [0, 3, 6, 9, 9, 12, 15, 18, 21]


# --- agreement with independent evaluators ---------------------------------------------------


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=schedules(), tz=zones, data=st.data())
def test_emitted_expressions_evaluate_as_the_independent_oracles_do(drawn, tz, data):
    drawn_schedule = schedule_and_start(drawn, tz, data)
    if drawn_schedule is None:
        return
    schedule, start = drawn_schedule
    end = start + timedelta(days=3)  # starts fall within a day of DST changes: covered
    changes = transition_instants(schedule.zone)
    checked = []  # gcp and k8s usually get the same expressions: ask croniter once
    for target in ("aws", "gcp", "k8s"):
        try:
            out = translate(schedule, target)
        except Untranslatable:
            continue
        if target != "aws" and out in checked:
            continue
        checked.append(out)
        ours = utc(Emitted(target, tuple(out), schedule.zone).fires_between(start, end))
        assert ours == sorted(ours)
        if target == "aws":
            assert set(ours) == aws_fires(out, schedule.zone, start, end), out
        else:
            theirs = unix_fires(out, schedule.zone, start, end)
            assert ({t for t in ours if not near_change(t, changes)}
                    == {t for t in theirs if not near_change(t, changes)}), out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=schedules(), tz=zones, data=st.data())
def test_a_target_differs_from_the_source_only_where_the_compiler_warns(drawn, tz, data):
    drawn_schedule = schedule_and_start(drawn, tz, data)
    if drawn_schedule is None:
        return
    schedule, start = drawn_schedule
    end = start + timedelta(days=3)  # starts fall within a day of DST changes: covered
    source = utc(schedule.fires_between(start, end))
    for target in ("aws", "gcp", "k8s"):
        try:
            out = translate(schedule, target)
        except Untranslatable:
            continue
        emitted = set(utc(Emitted(target, tuple(out), schedule.zone).fires_between(start, end)))
        if emitted != set(source):
            assert schedule_warnings(schedule, target, start=start - timedelta(days=1)), (
                target, out, sorted(emitted ^ set(source))[:4])
            changes = transition_instants(schedule.zone)
            assert all(near_change(t, changes) for t in emitted ^ set(source))


def test_overlapping_aws_expressions_run_twice_and_the_calendar_shows_it():
    """Vixie's day-of-month OR weekday needs two AWS schedules, which both fire on a
    weekday that is also the 1st: the report marks those days (no DST involved)."""
    from flowc.cost.runs import Month
    from flowc.report.calendar import DIFFERS, EXTRA, source_calendar, target_calendar

    schedule = parse_schedule("cron", "0 9 1 * MON-FRI", BERLIN)
    out = translate(schedule, "aws")
    assert len(out) == 2
    source = source_calendar("source", [schedule], Month(2027, 3), BERLIN)
    aws = target_calendar("aws", [Emitted("aws", tuple(out), BERLIN)], Month(2027, 3), BERLIN,
                          source)
    assert [d.day.day for d in aws.marked] == [1]  # Monday 2027-03-01
    day = aws.marked[0]
    assert day.status == DIFFERS and day.code is None and day.runs == 2
    assert [f.status for f in day.changes] == [EXTRA]
