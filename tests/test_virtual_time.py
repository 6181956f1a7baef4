"""Virtual time as a discrete-event clock (issue 16): no fire is skipped or lost at any
speed, `max` included; a run's attempts take real seconds in virtual time; the clock
stops at the window's end and retries due after it are abandoned, not left running.

These run the real scheduler, executor, history and event bus in-process; runs that
must be instant use a missing code directory (E504 fails the attempt without a process).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flowc.compiler.schedules import ScheduleError, parse_schedule
from flowc.emulator.clock import MAX_SPEED, VirtualClock, parse_speed
from flowc.emulator.events import EventBus
from flowc.emulator.executor import Executor
from flowc.emulator.history import History, list_runs
from flowc.emulator.scheduler import Scheduler
from tests.emulator_support import Collector, make_app, make_task, write_jobs
from tests.schedule_oracles.strategies import schedules, starts, zones

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_speed_is_a_positive_finite_number_or_max():
    assert parse_speed("max") == MAX_SPEED and parse_speed("60") == 60
    for bad in ("0", "-1", "nan", "inf", "fast"):
        with pytest.raises(ValueError):
            parse_speed(bad)


def test_at_max_speed_the_clock_jumps_to_a_gate_and_waits_there():
    clock = VirtualClock(MAX_SPEED, T0)
    assert clock.now() == T0  # nothing to go to: it stands still
    gate = T0 + timedelta(days=3)
    clock.set_gate("scheduler", gate)
    assert clock.now() == gate and clock.now() == gate  # reached, never passed
    clock.set_end(T0 + timedelta(days=5))
    clock.set_gate("scheduler", None)
    assert clock.now() == T0 + timedelta(days=5)  # the window's end stops it


def test_an_open_timeline_holds_the_clock_to_the_runs_own_time():
    clock = VirtualClock(MAX_SPEED, T0)
    clock.set_end(T0 + timedelta(days=1))
    line = clock.timeline(T0 + timedelta(hours=1))
    held = clock.now()
    assert T0 + timedelta(hours=1) <= held < T0 + timedelta(hours=1, minutes=1)
    assert line.now() >= held  # the run's own time runs at real speed from its fire
    stop = threading.Event()
    due = T0 + timedelta(hours=2)
    assert line.sleep_until(due, stop) is False  # a back-off: the clock may jump to its end
    assert due <= line.now() < due + timedelta(minutes=1)
    line.close()
    assert clock.now() == T0 + timedelta(days=1)


def _expected(app, start: datetime, until: datetime) -> dict[str, list[datetime]]:
    out = {}
    for task in app.tasks:
        fires: set[datetime] = set()
        for schedule in task.schedules:
            after = start
            while True:
                batch = [f.astimezone(UTC) for f in schedule.next_fires(after, 50)]
                fires.update(f for f in batch if f <= until)
                if len(batch) < 50 or batch[-1] > until:
                    break
                after = batch[-1]
        out[task.name] = sorted(fires)
    return out


def _run_window(tmp_path, app, start, until, speed=MAX_SPEED):
    """The real scheduler and executor over a window; returns (events, history rows)."""
    clock = VirtualClock(speed, start)
    bus = EventBus(clock)
    seen = Collector()
    bus.subscribe(seen)
    history = History(tmp_path / "state")
    executor = Executor(clock, bus, history, None, seen.output, lambda d: None,
                        seen.messages.append)
    executor.until = until
    scheduler = Scheduler(clock, lambda a, t, m: executor.submit(a, t, m), until)
    scheduler.set_app(app)
    clock.set_end(until)
    scheduler.start()
    try:
        assert scheduler.wait_done(timeout=60)
        assert executor.wait_idle(60)
    finally:
        scheduler.stop()
        executor.shutdown(0)
        history.close()
    return seen.events, list_runs(tmp_path / "state")


@st.composite
def tasks(draw):
    names = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=3, unique=True))
    tz = draw(zones)
    out = []
    for name in names:
        drawn = draw(st.lists(schedules(), min_size=1, max_size=2))
        try:
            parsed = tuple(parse_schedule(kind, text, tz) for kind, text in drawn)
        except ScheduleError:
            assume(False)
        out.append((name, parsed))
    return tz, out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(drawn=tasks(), data=st.data())
def test_scheduled_events_are_exactly_the_evaluators_fires_over_the_window(
    tmp_path_factory, drawn, data
):
    tz, specs = drawn
    start = data.draw(starts(tz))
    until = start + timedelta(minutes=data.draw(st.integers(1, 40 * 24 * 60)))
    tmp_path = tmp_path_factory.mktemp("window")
    app = make_app(tmp_path, *(make_task(n, schedules=s, timezone=tz, code_dir="missing")
                               for n, s in specs))  # fmt: skip
    expected = _expected(app, start, until)
    assume(sum(len(v) for v in expected.values()) <= 150)
    events, runs = _run_window(tmp_path, app, start, until)
    got = {t.name: sorted(datetime.fromisoformat(e["at"]) for e in events
                          if e["event"] == "scheduled" and e["task"] == t.name)
           for t in app.tasks}  # fmt: skip
    assert got == expected
    assert all(start < datetime.fromisoformat(e["at"]) <= until + timedelta(seconds=5)
               for e in events)  # fmt: skip
    assert len(runs) == sum(len(v) for v in expected.values())
    assert {r["status"] for r in runs} <= {"failed"}  # E504: every run ended, none running


def test_a_runs_duration_and_timeout_are_real_seconds_at_max_speed(tmp_path, monkeypatch):
    write_jobs(tmp_path)
    monkeypatch.setenv("SLEEP", "0.3")
    slow = make_task("slow", "slow", schedules=(parse_schedule("every", "1h", "UTC"),),
                     timeout_s=2)  # fmt: skip
    app = make_app(tmp_path, slow)
    events, runs = _run_window(tmp_path, app, T0, T0 + timedelta(hours=3))
    assert [r["status"] for r in runs] == ["succeeded"] * 3  # 0.3 s is within 2 s, at any speed
    for run in runs:
        started = datetime.fromisoformat(run["attempt_list"][0]["started_at"])
        finished = datetime.fromisoformat(run["attempt_list"][0]["finished_at"])
        duration = run["attempt_list"][0]["duration_s"]
        assert abs((finished - started).total_seconds() - duration) < 0.5
        assert started >= datetime.fromisoformat(run["scheduled_at"])


def test_a_retry_due_after_the_window_is_abandoned_with_its_reason(tmp_path):
    write_jobs(tmp_path)
    flaky = make_task("flaky", "fail", schedules=(parse_schedule("every", "30m", "UTC"),),
                      retries=2)  # fmt: skip
    app = make_app(tmp_path, flaky)
    events, runs = _run_window(tmp_path, app, T0, T0 + timedelta(minutes=60, seconds=15))
    by_time = {r["scheduled_at"][11:16]: r for r in runs}
    assert by_time["09:30"]["status"] == "failed" and by_time["09:30"]["attempts"] == 3
    late = by_time["10:00"]  # attempt 2 at 10:00:10 fits, attempt 3 at 10:00:30 does not
    assert late["status"] == "abandoned" and late["attempts"] == 2
    assert "window ended before attempt 3" in late["error"]
    failed = [e for e in events if e["event"] == "failed" and e["run_id"] == late["run_id"]]
    assert [f["final"] for f in failed] == [False, True]
