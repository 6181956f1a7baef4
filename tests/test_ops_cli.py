"""Day-two commands against the real emulator: `flowc logs`, `flowc dlq`, `flowc dlq redrive`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from flowc.emulator import runlogs
from flowc.emulator.redrive import redrive
from flowc.emulator.session import Options, Session
from flowc.emulator.view import PlainView
from tests.emulator_support import shown
from tests.test_emulator_cli import FLOWC, flowc

SPEC = """\
app ops

task ok {
  python   = "jobs.work:ok"
  schedule = every 1h
}

task flaky {
  python   = "jobs.work:flaky"
  schedule = every 1h
  retries  = 1
}

task echo {
  python   = "jobs.work:echo"
  schedule = every 1h
  input    = { source = "spec" }
}

task quiet {
  python     = "jobs.work:ok"
  schedule   = every 1h
  on_failure = discard
}
"""

WORK = '''
import os, signal, sys, time

def ok():
    print("hello from ok")
    print("to stderr", file=sys.stderr)

def echo(event, context=None):
    print("input", os.environ.get("FLOWC_INPUT"), event.get("input"))

def flaky():
    print("attempt", os.environ["FLOWC_ATTEMPT"])
    if os.path.exists("kill-flowc"):  # the test's crash: flowc dies in the middle of a replay
        os.remove("kill-flowc")
        os.kill(int(open("flowc.pid").read()), signal.SIGKILL)
        time.sleep(1)
        sys.exit(9)
    if not os.path.exists("fixed"):
        print("boom: not fixed yet", file=sys.stderr)
        sys.exit(3)
    print("fixed")
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "work.py").write_text(WORK)
    (tmp_path / "app.flow").write_text(SPEC)
    return tmp_path


def letters(project, task="flaky"):
    listed = flowc(project, "dlq", "app.flow", task, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_logs_show_each_runs_output_by_task_and_run(project):
    assert flowc(project, "run", "app.flow", "ok").returncode == 0
    assert flowc(project, "run", "app.flow", "flaky", "--speed", "1000").returncode == 3
    runs = json.loads(flowc(project, "runs", "--format", "json").stdout)
    ok_run, flaky_run = (r["run_id"] for r in runs)

    everything = flowc(project, "logs", "app.flow").stdout.splitlines()
    assert f"ok {ok_run}#1 stdout | hello from ok" in "\n".join(everything)
    assert f"ok {ok_run}#1 stderr | to stderr" in "\n".join(everything)
    flaky = flowc(project, "logs", "app.flow", "flaky").stdout
    assert ok_run not in flaky
    assert f"flaky {flaky_run}#1 stdout | attempt 1" in flaky
    assert f"flaky {flaky_run}#2 stdout | attempt 2" in flaky  # the retry's output too
    one = flowc(project, "logs", "app.flow", "--run", ok_run).stdout
    assert "hello from ok" in one and flaky_run not in one
    assert flowc(project, "logs", "app.flow", "--since", "1h").stdout.count("\n") == 6
    bad = flowc(project, "logs", "app.flow", "--since", "lately")
    assert bad.returncode == 2 and shown("E506") in bad.stderr
    typo = flowc(project, "logs", "app.flow", "flakey")
    assert typo.returncode == 1 and "did you mean `flaky`?" in typo.stderr


def test_logs_follow_prints_lines_of_a_run_that_starts_later(project):
    follower = subprocess.Popen([FLOWC, "logs", "app.flow", "ok", "--follow"], cwd=project,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # following, nothing yet
        assert flowc(project, "run", "app.flow", "ok").returncode == 0
        time.sleep(1.5)
    finally:
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=10)
    assert "ok " in out and "stdout | hello from ok" in out, err
    assert "Traceback" not in err


def test_run_log_is_rotated_at_its_cap_and_old_runs_are_pruned(tmp_path):
    log = runlogs.RunLog(tmp_path, "a", "t", "r1", cap_bytes=2000)
    for n in range(100):
        log.write(1, "stdout", f"line {n:03d} " + "x" * 40)
    current, older = log.path, log.path.with_name(log.path.name + ".1")
    assert current.stat().st_size <= 2000 and older.stat().st_size <= 2000
    kept = [r["line"][:8] for r in runlogs.records(tmp_path, "a", "t")]
    assert kept[-1] == "line 099" and "line 000" not in kept  # newest kept, oldest rotated out
    assert kept == sorted(kept)
    for n in range(2, 6):
        runlogs.RunLog(tmp_path, "a", "t", f"r{n}", keep=3).write(1, "stdout", "hi")
        time.sleep(0.01)  # distinct modification times
    assert sorted(p.name for p in runlogs.task_dir(tmp_path, "a", "t").iterdir()) == [
        "r3.jsonl", "r4.jsonl", "r5.jsonl"]  # fmt: skip
    future = datetime.now(UTC) + timedelta(minutes=1)
    assert list(runlogs.records(tmp_path, "a", "t", since=future)) == []


def test_dead_letters_outlive_the_emulator_and_redrive_replays_them(project):
    assert flowc(project, "run", "app.flow", "flaky", "--speed", "1000").returncode == 3
    # a new command starts a new embedded AWS server: the letter is still listed
    text = flowc(project, "dlq", "app.flow").stdout
    assert text.split()[:6] == ["TASK", "RUN", "FAILED", "AT", "ATTEMPTS", "EXIT"]
    assert text.splitlines()[1].split()[3:] == ["2", "3", "boom:", "not", "fixed", "yet"]
    first = text.splitlines()[1].split()[1]

    still = flowc(project, "dlq", "redrive", "app.flow", "flaky", "--all", "--speed", "1000")
    assert still.returncode == 1, still.stderr  # fails again: retried, dead-lettered again
    [again] = letters(project)
    assert again["run_id"] != first and again["attempts"] == 2 and again["exit_code"] == 3

    (project / "fixed").write_text("")
    fixed = flowc(project, "dlq", "redrive", "app.flow", "flaky", "--run", again["run_id"],
                  "--run", "nope")  # fmt: skip
    assert fixed.returncode == 1 and shown("E521") in fixed.stderr  # nothing replayed
    fixed = flowc(project, "dlq", "redrive", "app.flow", "flaky", "--run", again["run_id"])
    assert fixed.returncode == 0, fixed.stderr
    assert f"{again['run_id']} -> run " in fixed.stdout and "succeeded" in fixed.stdout
    assert letters(project) == []
    runs = json.loads(flowc(project, "runs", "--format", "json").stdout)
    assert [(r["trigger"], r["status"]) for r in runs] == [
        ("manual", "dead_lettered"), ("redrive", "dead_lettered"), ("redrive", "succeeded")]


def test_dlq_refuses_what_it_cannot_do(project):
    quiet = flowc(project, "dlq", "app.flow", "quiet")
    assert quiet.returncode == 1 and shown("E520") in quiet.stderr
    both = flowc(project, "dlq", "redrive", "app.flow", "flaky", "--all", "--run", "x")
    assert both.returncode == 2 and shown("E522") in both.stderr
    assert "Traceback" not in quiet.stderr + both.stderr


def test_a_redrive_killed_in_the_middle_loses_nothing(project):
    assert flowc(project, "run", "app.flow", "flaky", "--no-retries").returncode == 3
    [letter] = letters(project)
    (project / "fixed").write_text("")
    (project / "kill-flowc").write_text("")
    proc = subprocess.Popen([FLOWC, "dlq", "redrive", "app.flow", "flaky", "--all"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    (project / "flowc.pid").write_text(str(proc.pid))
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL  # flowc died during the replay
    assert [x["run_id"] for x in letters(project)] == [letter["run_id"]]  # nothing lost

    done = flowc(project, "dlq", "redrive", "app.flow", "flaky", "--all")
    assert done.returncode == 0 and "succeeded" in done.stdout, done.stderr
    assert letters(project) == []


def test_a_replay_recorded_before_a_crash_is_not_replayed_again(project, monkeypatch):
    """The crash between recording the replay and deleting its message."""
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:1")  # the embedded server, always
    (project / "fixed").write_text("")
    session = Session(Options(spec=project / "app.flow", state_dir=project / ".flowc",
                              watch=False), PlainView(open(os.devnull, "w")))  # fmt: skip
    assert session.open() == 0
    try:
        app = session.app
        session.cloud.send_dead_letter(app, "flaky", {"run_id": "orig1", "task": "flaky"})
        session.start_executor()
        session.executor.replay(app, app.task("flaky"), "orig1")  # recorded, then "crash"
        assert [x.run_id for x in session.cloud.dead_letters(app, "flaky")] == ["orig1"]
        [done] = redrive(app, app.task("flaky"), session.cloud, session.history,
                         session.executor, None)  # fmt: skip
        assert done.earlier and done.status == "succeeded"
        assert session.cloud.dead_letters(app, "flaky") == []
        ran = json.loads(flowc(project, "runs", "--format", "json").stdout)
        assert len(ran) == 1  # replayed once, not twice
    finally:
        session.close(grace=1)


def test_run_input_replaces_the_tasks_and_bad_input_is_E524(project):
    (project / "in.json").write_text('{"source": "file", "n": 2}')
    given = flowc(project, "run", "app.flow", "echo", "--input", "@in.json")
    assert given.returncode == 0, given.stderr
    assert "echo | input {\"n\":2,\"source\":\"file\"} {'n': 2, 'source': 'file'}" in given.stdout
    for bad in ("[1, 2]", "@missing.json", "{nope"):
        refused = flowc(project, "run", "app.flow", "echo", "--input", bad)
        assert refused.returncode == 2 and shown("E524") in refused.stderr, bad
