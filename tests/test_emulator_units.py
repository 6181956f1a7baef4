"""Emulator parts on their own: clock, scheduler, runners, events, history, secrets, watch.

No AWS emulator here (see test_emulator_session.py and test_emulator_e2e.py for those).
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowc.compiler.schedules.model import Schedule
from flowc.deploy.localcloud import free_port, localstack_endpoint
from flowc.emulator.clock import RealClock, VirtualClock, make_clock, parse_duration
from flowc.emulator.docker_runner import DockerRunner
from flowc.emulator.events import EventBus, JsonlWriter, read_events
from flowc.emulator.executor import retry_delay
from flowc.emulator.history import History, list_runs
from flowc.emulator.runners import TIMEOUT_EXIT, Attempt, ProcessRunner, StartError
from flowc.emulator.scheduler import Scheduler, diff_apps
from flowc.emulator.secrets import local_secret_values, read_secrets_file
from flowc.emulator.view import PlainView, format_event
from flowc.emulator.watch import Watcher
from tests.emulator_support import (
    Collector,
    alive,
    every,
    make_app,
    make_task,
    write_jobs,
)

T0 = datetime(2026, 1, 5, 8, 59, 59, 900000, tzinfo=UTC)  # a Monday, just before 09:00


# -- clock ------------------------------------------------------------------------------


def test_virtual_clock_runs_speed_times_faster_from_its_start():
    before = time.monotonic()
    clock = VirtualClock(speed=600, start=T0)
    after = time.monotonic()
    time.sleep(0.1)
    low = time.monotonic()
    elapsed = (clock.now() - T0).total_seconds()
    high = time.monotonic()
    assert (low - after) * 600 <= elapsed <= (high - before) * 600
    assert elapsed >= 60  # 0.1 s real is 60 s virtual
    assert clock.real_seconds(60) == pytest.approx(0.1)


def test_virtual_clock_waits_in_real_time_scaled_by_speed():
    clock = VirtualClock(speed=1200, start=T0)
    stop = threading.Event()
    began = time.monotonic()
    assert clock.wait_for(120, stop) is False  # two virtual minutes
    assert 0.09 <= time.monotonic() - began < 3
    assert clock.now() >= T0 + timedelta(minutes=2)


def test_real_clock_is_used_without_speed_or_start():
    assert isinstance(make_clock(), RealClock)
    assert isinstance(make_clock(2.0), VirtualClock)
    assert abs((make_clock().now() - datetime.now(UTC)).total_seconds()) < 1
    with pytest.raises(ValueError):
        VirtualClock(speed=0)


@pytest.mark.parametrize(
    "text,seconds", [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("250ms", 0.25),
                     ("90", 90)],
)  # fmt: skip
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_nonsense():
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_retry_back_off_doubles_from_ten_seconds_up_to_six_minutes():
    assert [retry_delay(n) for n in (1, 2, 3, 6, 10)] == [10, 20, 40, 320, 360]


# -- scheduler --------------------------------------------------------------------------


class Fires:
    def __init__(self) -> None:
        self.items: list[tuple[str, datetime]] = []
        self.lock = threading.Lock()

    def __call__(self, app, task, moment) -> None:
        with self.lock:
            self.items.append((task.name, moment))

    def of(self, name: str) -> list[datetime]:
        with self.lock:
            return [m for n, m in self.items if n == name]


def run_scheduler(app, speed: float, real_seconds: float, until=None, start=T0):
    clock = VirtualClock(speed=speed, start=start)
    fires = Fires()
    errors: list[str] = []
    scheduler = Scheduler(clock, fires, until=until, on_error=errors.append)
    scheduler.set_app(app)
    scheduler.start()
    if until is not None:
        assert scheduler.wait_done(timeout=10)  # every fire up to `until` handed over
        time.sleep(0.05)  # and nothing more comes
    else:
        time.sleep(real_seconds)
    scheduler.stop()
    return fires, errors, scheduler, clock


def test_high_speed_schedule_fires_every_instant_once_and_in_order(tmp_path):
    app = make_app(tmp_path, make_task("a", schedules=(every("1m"),)))
    fires, errors, _, clock = run_scheduler(app, speed=3000, real_seconds=0.5)
    got = fires.of("a")
    assert not errors
    assert len(got) >= 15  # 0.5 s at x3000 is 25 virtual minutes
    assert got[0] == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert all(b - a == timedelta(minutes=1) for a, b in zip(got, got[1:], strict=False))
    assert got[-1] <= clock.now()


def test_a_task_with_two_schedules_fires_at_their_union_once_per_instant(tmp_path):
    app = make_app(tmp_path, make_task("u", schedules=(every("2m"), every("3m"))))
    until = datetime(2026, 1, 5, 9, 12, tzinfo=UTC)
    fires, _, _, _ = run_scheduler(app, speed=6000, real_seconds=0.4, until=until)
    minutes = [m.minute for m in fires.of("u")]
    assert minutes == [0, 2, 3, 4, 6, 8, 9, 10, 12]


def test_nothing_fires_after_the_until_window(tmp_path):
    app = make_app(tmp_path, make_task("a"))
    until = datetime(2026, 1, 5, 9, 3, 30, tzinfo=UTC)
    fires, _, _, _ = run_scheduler(app, speed=6000, real_seconds=0.3, until=until)
    assert [m.minute for m in fires.of("a")] == [0, 1, 2, 3]


def test_set_app_replans_changed_tasks_keeps_others_and_drops_removed(tmp_path):
    clock = VirtualClock(speed=1, start=datetime(2026, 1, 5, 9, 0, 30, tzinfo=UTC))
    scheduler = Scheduler(clock, Fires())
    keep, change, drop = (make_task(n, schedules=(every("10m"),)) for n in "kcd")
    scheduler.set_app(make_app(tmp_path, keep, change, drop))
    before = scheduler.snapshot()
    assert before["c"] == datetime(2026, 1, 5, 9, 10, tzinfo=UTC)
    changed = make_task("c", schedules=(every("2m"),))
    added = make_task("n", schedules=(every("5m"),))
    diff = scheduler.set_app(make_app(tmp_path, keep, changed, added))
    after = scheduler.snapshot()
    assert (diff.added, diff.removed, diff.changed, diff.rescheduled) == (["n"], ["d"], ["c"],
                                                                           ["c"])
    assert after == {"k": before["k"], "c": datetime(2026, 1, 5, 9, 2, tzinfo=UTC),
                     "n": datetime(2026, 1, 5, 9, 5, tzinfo=UTC)}


def test_diff_ignores_spans_and_sees_env_changes(tmp_path):
    a = make_app(tmp_path, make_task("x"))
    b = make_app(tmp_path, make_task("x", env=()))
    assert diff_apps(a, b).empty
    from flowc.compiler.ir import EnvVar

    c = make_app(tmp_path, make_task("x", env=(EnvVar("A", "1"),)))
    d = diff_apps(a, c)
    assert d.changed == ["x"] and d.rescheduled == []


def test_a_schedule_that_cannot_be_evaluated_is_reported_and_others_still_fire(tmp_path):
    class Broken(Schedule):
        def next_fires(self, after, n):
            raise RuntimeError("evaluator exploded")

    app = make_app(tmp_path, make_task("bad", schedules=(Broken("cron", "x", "UTC"),)),
                   make_task("good"))  # fmt: skip
    fires, errors, _, _ = run_scheduler(app, speed=6000, real_seconds=0.2)
    assert fires.of("good") and not fires.of("bad")
    assert errors == ['task `bad`: cannot evaluate cron("x"): evaluator exploded']


# -- process runner -----------------------------------------------------------------------


def attempt_for(tmp_path: Path, task, env=None) -> Attempt:
    app = make_app(tmp_path, task)
    return Attempt(app, task, "r1", 1, dict(env or {}), tmp_path)


@pytest.fixture
def jobs_dir(tmp_path):
    write_jobs(tmp_path)
    return tmp_path


def test_process_runner_streams_output_with_the_task_name_and_passes_env(jobs_dir):
    sink = Collector()
    result = ProcessRunner(sink.output).run(
        attempt_for(jobs_dir, make_task("greet", "ok"), {"GREETING": "bonjour"})
    )
    assert result.ok and result.exit_code == 0
    assert ("greet", "stdout", "ok bonjour") in sink.lines


def test_process_runner_reports_exit_code_and_stderr_tail(jobs_dir):
    sink = Collector()
    result = ProcessRunner(sink.output).run(attempt_for(jobs_dir, make_task("f", "fail")))
    assert not result.ok and result.exit_code == 3 and not result.timed_out
    assert "boom: disk full" in result.stderr_tail
    assert ("f", "stderr", "boom: disk full") in sink.lines


def test_lambda_style_handler_gets_event_and_context(jobs_dir):
    sink = Collector()
    env = {"FLOWC_EVENT": json.dumps({"task": "lam", "run_id": "r1"})}
    result = ProcessRunner(sink.output).run(attempt_for(jobs_dir, make_task("lam",
                                                                            "lambda_style"), env))
    assert result.ok, result.stderr_tail
    assert ("lam", "stdout", "event lam r1 r1") in sink.lines


def test_timeout_kills_the_whole_process_group(jobs_dir, tmp_path):
    pidfile = tmp_path / "pids"
    task = make_task("hang", "spawn", timeout_s=1)
    began = time.monotonic()
    result = ProcessRunner(Collector().output).run(
        attempt_for(jobs_dir, task, {"PIDFILE": str(pidfile), "MARKER": "flowc-timeout-test"})
    )
    assert result.timed_out and result.exit_code == TIMEOUT_EXIT
    assert time.monotonic() - began < 5
    assert "timed out after 1s" in result.stderr_tail
    parent, child = map(int, pidfile.read_text().split())
    deadline = time.monotonic() + 2
    while (alive(parent) or alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(parent) and not alive(child)


def test_flowc_secret_variables_of_the_host_do_not_leak_into_tasks(jobs_dir, monkeypatch):
    monkeypatch.setenv("FLOWC_SECRET_OTHER", "leak")
    (jobs_dir / "jobs" / "env.py").write_text(
        "import os\ndef main():\n    print(sorted(k for k in os.environ if 'SECRET' in k))\n"
    )
    from flowc.compiler.ir import PythonHandler

    sink = Collector()
    task = make_task("e", handler=PythonHandler("jobs.env", "main"))
    assert ProcessRunner(sink.output).run(attempt_for(jobs_dir, task)).ok
    assert ("e", "stdout", "[]") in sink.lines


def test_missing_code_directory_is_error_E504(tmp_path):
    task = make_task("x", code_dir="nope")
    attempt = Attempt(make_app(tmp_path, task), task, "r", 1, {}, tmp_path / "nope")
    with pytest.raises(StartError) as info:
        ProcessRunner(Collector().output).run(attempt)
    assert info.value.diagnostic.code == "E504" and info.value.diagnostic.help


def test_image_task_without_docker_engine_is_error_E502(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    from flowc.compiler.ir import ImageHandler

    task = make_task("img", handler=ImageHandler("busybox:1.36", ("true",)))
    with pytest.raises(StartError) as info:
        DockerRunner(Collector().output).run(attempt_for(tmp_path, task))
    d = info.value.diagnostic
    assert d.code == "E502" and "no Docker engine is reachable" in d.message and d.help


# -- events, history, secrets, view --------------------------------------------------------


def test_events_file_has_one_json_object_a_line_with_both_clocks(tmp_path):
    clock = VirtualClock(speed=60, start=T0)
    bus = EventBus(clock)
    writer = JsonlWriter(tmp_path / "sub" / "ev.jsonl")
    bus.subscribe(writer)
    bus.emit("scheduled", "a", at=T0 + timedelta(seconds=0.1), run_id="r1")
    bus.emit("reloaded", changes={"added": []})
    writer.close()
    lines = (tmp_path / "sub" / "ev.jsonl").read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first == {"event": "scheduled", "task": "a", "at": "2026-01-05T09:00:00.000+00:00",
                     "wall": first["wall"], "run_id": "r1"}  # fmt: skip
    assert abs(datetime.fromisoformat(first["wall"]) - datetime.now(UTC)) < timedelta(seconds=5)
    assert "task" not in second and second["event"] == "reloaded"
    assert read_events(tmp_path / "sub" / "ev.jsonl")[1]["changes"] == {"added": []}
    with pytest.raises(ValueError):
        bus.emit("exploded", "a")


def test_history_records_runs_and_attempts_and_filters(tmp_path):
    history = History(tmp_path)
    history.start_run("r1", "app", "a", "schedule", "t0", "t0", "w0")
    history.record_attempt("r1", 1, "t0", "t1", "w0", "w1", 3, False, 0.5, None)
    history.record_attempt("r1", 2, "t2", "t3", "w2", "w3", 124, True, 1.0, None)
    history.finish_run("r1", "dead_lettered", "t3", "w3", 124, True, None, "tail", "q", "m")
    history.start_run("r2", "app", "b", "manual", None, "t4", "w4")
    history.finish_run("r2", "succeeded", "t5", "w5", 0)
    history.close()
    rows = list_runs(tmp_path)
    assert [r["run_id"] for r in rows] == ["r1", "r2"]
    assert rows[0]["status"] == "dead_lettered" and rows[0]["attempts"] == 2
    assert rows[0]["timed_out"] is True and rows[0]["dead_letter_queue"] == "q"
    assert [a["exit_code"] for a in rows[0]["attempt_list"]] == [3, 124]
    assert [r["run_id"] for r in list_runs(tmp_path, task="b")] == ["r2"]
    assert [r["run_id"] for r in list_runs(tmp_path, limit=1)] == ["r2"]
    assert list_runs(tmp_path / "nothing-here") == []


def test_secret_values_come_from_env_first_then_the_secrets_file(tmp_path):
    (tmp_path / ".flowc-secrets").write_text(
        "# local only\ndb_url = 'postgres://file'\nAPI_KEY=\"k-1\"\nexport token=t\n"
    )
    values = local_secret_values(["db_url", "api_key", "token", "absent"], tmp_path,
                                 {"FLOWC_SECRET_DB_URL": "postgres://env"})  # fmt: skip
    assert values == {"db_url": "postgres://env", "api_key": "k-1", "token": "t",
                      "absent": None}  # fmt: skip
    assert read_secrets_file(tmp_path / "missing") == {}


def test_plain_view_prints_events_and_prefixed_output(capsys):
    view = PlainView()
    view.event({"event": "failed", "task": "a", "at": "T", "wall": "W", "exit_code": 3})
    view.output("a", "stderr", "boom")
    out = capsys.readouterr().out.splitlines()
    assert out == [format_event({"event": "failed", "task": "a", "at": "T", "exit_code": 3}),
                   "a | boom"]  # fmt: skip
    assert "failed" in out[0] and "exit_code=3" in out[0]


# -- AWS side detection ---------------------------------------------------------------------



def test_localstack_is_used_when_its_health_endpoint_answers():
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"services": {"sqs": "running"}}'
            self.send_response(200 if self.path == "/_localstack/health" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        assert localstack_endpoint({"LOCALSTACK_HOST": host}) == f"http://{host}"
    finally:
        server.shutdown()
    assert localstack_endpoint({"LOCALSTACK_HOST": f"127.0.0.1:{free_port()}"}) is None


# -- watcher -------------------------------------------------------------------------------


def test_watcher_debounces_a_burst_and_ignores_state_and_caches(tmp_path):
    spec = tmp_path / "app.flow"
    spec.write_text("app a\n")
    write_jobs(tmp_path)
    state = tmp_path / ".state"
    state.mkdir()
    calls: list[list[str]] = []
    done = threading.Event()

    def on_change(paths, first):
        calls.append(paths)
        done.set()

    watcher = Watcher(spec, [tmp_path], on_change, ignore=[state], debounce=0.1)
    watcher.start()
    try:
        time.sleep(0.1)
        (state / "history.sqlite").write_text("x")  # ignored
        (tmp_path / "notes.txt").write_text("x")  # not code
        for i in range(5):
            spec.write_text(f"app a{i}\n")
            time.sleep(0.01)
        assert done.wait(3)
        time.sleep(0.3)
        assert len(calls) == 1 and calls[0] == [str(spec.resolve())]
        done.clear()
        (tmp_path / "jobs" / "main.py").write_text("def ok():\n    pass\n")
        assert done.wait(3)
        assert calls[1] == [str((tmp_path / "jobs" / "main.py").resolve())]
        done.clear()
        tmp = tmp_path / ".app.flow.swp"  # an editor's atomic save: write aside, rename onto
        tmp.write_text("app b\n")
        os.replace(tmp, spec)
        assert done.wait(3)
        assert str(spec.resolve()) in calls[2]
    finally:
        watcher.stop()


def test_rich_view_table_shows_next_fire_last_result_and_counts():
    import io

    from rich.console import Console

    from flowc.emulator.view import RichView, make_view

    view = RichView()
    view._snapshot = lambda: {"a": datetime(2026, 1, 5, 9, 2, tzinfo=UTC), "b": None}
    view._now = lambda: T0
    for record in (
        {"event": "started", "task": "a", "at": "2026-01-05T09:00:01.000+00:00"},
        {"event": "succeeded", "task": "a", "at": "2026-01-05T09:00:02.000+00:00"},
        {"event": "started", "task": "b", "at": "2026-01-05T09:00:01.000+00:00"},
        {"event": "failed", "task": "b", "at": "2026-01-05T09:00:03.000+00:00",
         "exit_code": 3, "final": True},
        {"event": "dead_lettered", "task": "b", "at": "2026-01-05T09:00:04.000+00:00"},
    ):  # fmt: skip
        view.stats.update(record)
    out = io.StringIO()
    Console(file=out, width=120).print(view)
    rows = {line.split("│")[1].strip(): line for line in out.getvalue().splitlines()
            if line.startswith("│")}  # fmt: skip
    assert "virtual time 2026-01-05 08:59:59" in out.getvalue()
    cells_a = [c.strip() for c in rows["a"].split("│")[1:-1]]
    cells_b = [c.strip() for c in rows["b"].split("│")[1:-1]]
    assert cells_a == ["a", "01-05 09:02:00", "ok 09:00:02", "1", "0", "0", "0"]
    assert cells_b == ["b", "-", "dlq 09:00:04", "0", "1", "1", "0"]
    assert type(make_view()) is PlainView  # pytest's stdout is not a terminal
