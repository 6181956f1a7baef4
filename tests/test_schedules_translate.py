"""Each target's expressions fire exactly at the schedule's instants, or the compiler says why not.

The property: for generated schedules of every form in several timezones, the
union of a target's expressions, evaluated by an evaluator of that target's
semantics that shares no code with the translator (croniter for GCP and
Kubernetes, tests/schedule_oracles/aws_cron.py for AWS), equals flowc's own fire
set over the horizon. Around DST changes the targets differ by design (and
flowc warns), so unix targets are compared away from them; AWS is compared
everywhere whenever flowc gives no AWS warning.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.compiler.schedules import ScheduleError, Untranslatable, parse_schedule
from flowc.diagnostics import Span
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

START = datetime(2026, 1, 1, tzinfo=UTC)


def translate(schedule, target: str) -> list[str]:
    return registry.get(target).translate(schedule)


def schedule_warnings(schedule, target: str, start: datetime | None = None):
    return registry.get(target).schedule_warnings(schedule, start)


def exprs(kind: str, text: str, target: str, tz: str = "UTC") -> list[str]:
    return translate(parse_schedule(kind, text, tz), target)


# --- what each target gets ----------------------------------------------------------


def test_every_90m_splits_into_two_crons_on_every_target():
    assert exprs("every", "90m", "gcp") == ["0 */3 * * *", "30 1-22/3 * * *"]
    assert exprs("every", "90m", "k8s") == ["0 */3 * * *", "30 1-22/3 * * *"]
    assert exprs("every", "90m", "aws") == ["cron(0 0/3 * * ? *)", "cron(30 1/3 * * ? *)"]


def test_every_7m_needs_seven_crons_and_never_rate():
    for target in ("aws", "gcp", "k8s"):
        out = exprs("every", "7m", target)
        assert len(out) == 7
        assert not any(e.startswith("rate(") for e in out)
    assert exprs("every", "15m", "aws") == ["cron(0/15 * * * ? *)"]
    assert exprs("every", "1d", "gcp") == ["0 0 * * *"]
    assert exprs("every", "5h", "gcp") == ["0 */5 * * *"]


def test_weekdays_use_question_mark_and_names_on_aws_and_sunday_0_on_unix():
    assert exprs("calendar", "Mon..Fri 09:00", "aws") == ["cron(0 9 ? * MON-FRI *)"]
    assert exprs("calendar", "Mon..Fri 09:00", "gcp") == ["0 9 * * 1-5"]
    assert exprs("calendar", "Sat,Sun 10:30", "aws") == ["cron(30 10 ? * SUN,SAT *)"]
    assert exprs("calendar", "Sat,Sun 10:30", "k8s") == ["30 10 * * 0,6"]
    assert exprs("cron", "0 0 * * 7", "aws") == ["cron(0 0 ? * SUN *)"]
    assert exprs("calendar", "*-*-01 06:00", "aws") == ["cron(0 6 1 * ? *)"]


def test_cron_with_day_and_weekday_is_one_unix_cron_and_two_aws_crons():
    assert exprs("cron", "0 9 1,15 * 1-5", "gcp") == ["0 9 1,15 * 1-5"]
    assert exprs("cron", "0 9 1,15 * 1-5", "aws") == [
        "cron(0 9 1,15 * ? *)",
        "cron(0 9 ? * MON-FRI *)",
    ]
    # OR on unix is never written with a leading `*` (historic Vixie reads `*/2` as `*`)
    assert exprs("cron", "0 0 */2 * 1", "k8s") == ["0 0 1-31/2 * 1"]


def test_nth_and_last_weekday_use_hash_and_l_on_aws():
    assert exprs("calendar", "Mon *-*-01..07 09:00", "aws") == ["cron(0 9 ? * 2#1 *)"]
    assert exprs("calendar", "Tue *-*-08..21", "aws") == [
        "cron(0 0 ? * 3#2 *)",
        "cron(0 0 ? * 3#3 *)",
    ]
    assert exprs("calendar", "Fri *-*~07/1 18:00", "aws") == ["cron(0 18 ? * 6L *)"]
    assert exprs("calendar", "*-*~01 23:00", "aws") == ["cron(0 23 L * ? *)"]


def test_last_days_without_february_split_by_month_length_on_unix():
    assert exprs("calendar", "*-04,06,07~01", "gcp") == ["0 0 31 7 *", "0 0 30 4,6 *"]
    assert exprs("calendar", "*-03~02", "aws") == ["cron(0 0 30 3 ? *)"]


def test_years_and_one_time_runs_on_aws():
    assert exprs("calendar", "2027..2029-*-01 12:00", "aws") == ["cron(0 12 1 * ? 2027-2029)"]
    assert exprs("at", "2026-12-24T18:00", "aws", "Europe/Berlin") == ["at(2026-12-24T18:00:00)"]


def test_expression_order_is_deterministic():
    first = [exprs("every", "13m", t, "Europe/Berlin") for t in ("aws", "gcp", "k8s")]
    again = [exprs("every", "13m", t, "Europe/Berlin") for t in ("aws", "gcp", "k8s")]
    assert first == again
    hours = [e.split()[1] for e in first[1]]
    assert hours[0].startswith("*/13") or hours[0].startswith("0")


# --- what cannot be said -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "target", "code"),
    [
        ("at", "2026-12-24T18:00", "gcp", "E320"),
        ("at", "2026-12-24T18:00", "k8s", "E320"),
        ("every", "45s", "aws", "E321"),
        ("calendar", "*:*:30", "gcp", "E321"),
        ("calendar", "Mon *-*-01..07", "gcp", "E322"),
        ("calendar", "Fri *-*-13", "k8s", "E322"),
        ("calendar", "2027-*-* 12:00", "k8s", "E323"),
        ("calendar", "*-*~01", "gcp", "E324"),
        ("calendar", "*-*~02", "aws", "E324"),
        ("calendar", "Fri *-*-13", "aws", "E325"),
        ("calendar", "Mon *-*~03", "aws", "E325"),
    ],
)
def test_untranslatable_names_target_and_reason(kind, text, target, code):
    span = Span("app.flow", 3, 14, 3, 30)
    schedule = parse_schedule(kind, text, "UTC", span)
    with pytest.raises(Untranslatable) as err:
        translate(schedule, target)
    assert err.value.code == code
    assert f"(target {target})" in err.value.message
    assert err.value.help
    assert err.value.span == span
    assert isinstance(err.value, ScheduleError)


def test_unknown_target_is_a_programming_error():
    with pytest.raises(KeyError):
        exprs("calendar", "daily", "azure")


# --- daylight saving warnings --------------------------------------------------------


def _codes(kind: str, text: str, tz: str, target: str) -> list[str]:
    schedule = parse_schedule(kind, text, tz)
    return [w.code for w in schedule_warnings(schedule, target, start=START)]


def test_dst_warnings_where_targets_differ_from_systemd():
    # systemd and EventBridge both skip a missing 02:30 and run a repeated one once
    assert _codes("calendar", "*-*-* 02:30", "Europe/Berlin", "aws") == []
    assert _codes("calendar", "*-*-* 02:30", "Europe/Berlin", "k8s") == ["W301"]
    assert _codes("calendar", "*-*-* 02:30", "Europe/Berlin", "gcp") == ["W300", "W301"]


def test_dst_warnings_where_targets_differ_from_cron():
    assert _codes("cron", "30 2 * * *", "Europe/Berlin", "aws") == ["W300", "W301"]
    assert _codes("cron", "30 2 * * *", "Europe/Berlin", "k8s") == ["W300"]
    assert _codes("cron", "*/10 * * * *", "America/New_York", "k8s") == []


def test_no_dst_warning_when_the_schedule_avoids_the_changes():
    for target in ("aws", "gcp", "k8s"):
        assert _codes("calendar", "Mon..Fri 09:00", "Europe/Berlin", target) == []
        assert _codes("every", "90m", "Europe/Berlin", target) == []
        assert _codes("calendar", "*-*-* 02:30", "UTC", target) == []


def test_dst_warning_says_when_and_what_to_do():
    schedule = parse_schedule("calendar", "*-*-* 02:30", "Europe/Berlin")
    gap, overlap = schedule_warnings(schedule, "gcp", start=START)
    assert "2026-03-29" in gap.message and "does not exist in Europe/Berlin" in gap.message
    assert "2026-10-25" in overlap.message and "happens twice" in overlap.message
    assert "(target gcp)" in gap.message and 'timezone = "UTC"' in gap.help


# --- the property ----------------------------------------------------------------------

REASONS = {  # code -> predicate on (schedule, target) that must hold when it is raised
    "E320": lambda s, t: s.kind == "at" and t != "aws",
    "E321": lambda s, t: any(r.seconds != frozenset({0}) for r in s.spec.rules),
    "E322": lambda s, t: (
        t != "aws" and any(r.days is not None and r.weekdays is not None for r in s.spec.rules)
    ),
    "E323": lambda s, t: t != "aws" and any(r.years is not None for r in s.spec.rules),
    "E324": lambda s, t: any(r.from_end and 2 in r.months for r in s.spec.rules),
    "E325": lambda s, t: (
        t == "aws" and any(r.days is not None and r.weekdays is not None for r in s.spec.rules)
    ),
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=schedules(), tz=zones, data=st.data())
def test_union_of_target_expressions_is_exactly_the_schedule(drawn, tz, data):
    drawn_schedule = schedule_and_start(drawn, tz, data)
    if drawn_schedule is None:
        return
    schedule, start = drawn_schedule
    horizon = start + timedelta(days=4 * 366)
    ours = [f.astimezone(UTC) for f in schedule.next_fires(start, 120) if f <= horizon]
    end = ours[-1] if len(ours) == 120 else horizon
    changes = [c for c in transition_instants(schedule.zone) if start - timedelta(days=2) < c]
    away = {t for t in ours if not near_change(t, changes)}
    unix_checked = None
    for target in ("aws", "gcp", "k8s"):
        try:
            out = translate(schedule, target)
        except Untranslatable as err:
            assert REASONS[err.code](schedule, target), (err.code, err.message)
            continue
        if target == "aws":
            theirs = aws_fires(out, schedule.zone, start, end)
            if not schedule_warnings(schedule, "aws", start=start):
                assert theirs == set(ours), (out, sorted(set(ours) ^ theirs)[:4])
                continue
        else:
            if unix_checked != out:
                theirs = unix_fires(out, schedule.zone, start, end)
                unix_checked = out
        assert {t for t in theirs if not near_change(t, changes)} == away, out
