"""`flowc dev` end to end, as a user (or CI) runs it: a real .flow file, a subprocess,
`--speed`, `--events`, edits while it runs, Ctrl-C. Uses the real schedule evaluator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from tests.emulator_support import processes_with, unique, wait_for_file_events, write_jobs

FLOWC = str(Path(sys.executable).parent / "flowc")


def flowc_runs(cwd: Path, state: str) -> list[dict]:
    out = subprocess.run([FLOWC, "runs", "--state", state, "--format", "json"], cwd=cwd,
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    return json.loads(out.stdout)


def at(event: dict) -> datetime:
    return datetime.fromisoformat(event["at"])


WINDOW_SPEC = """\
app window

task tick {
  python   = "jobs.main:ok"
  schedule = every 1m
}

task flaky {
  python     = "jobs.main:fail"
  schedule   = cron("*/2 * * * *")
  retries    = 1
  on_failure = dead_letter
}
"""


def test_dev_for_a_virtual_window_at_max_speed(tmp_path):
    write_jobs(tmp_path)
    (tmp_path / "app.flow").write_text(WINDOW_SPEC)
    result = subprocess.run(
        [FLOWC, "dev", "app.flow", "--speed", "max", "--for", "6m", "--start",
         "2026-01-05T09:00:00+00:00", "--events", "ev.jsonl", "--state", "st"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in (tmp_path / "ev.jsonl").read_text().splitlines()]
    assert all({"event", "at", "wall"} <= e.keys() for e in events)
    ticks = [at(e) for e in events if e["event"] == "scheduled" and e["task"] == "tick"]
    assert [(t.hour, t.minute, t.second) for t in ticks] == [(9, m, 0) for m in range(1, 7)]
    flaky = [at(e).minute for e in events if e["event"] == "scheduled" and e["task"] == "flaky"]
    assert flaky == [2, 4, 6]
    # the 09:06 run's retry would be due after the window: abandoned, and still dead-lettered
    assert len([e for e in events if e["event"] == "dead_lettered"]) == 3
    assert len([e for e in events if e["event"] == "retried"]) == 2
    end = datetime.fromisoformat("2026-01-05T09:06:00+00:00")
    assert all((at(e) - end).total_seconds() < 5 for e in events)  # runs end just after
    for e in events:  # a run's attempt takes real seconds in virtual time, whatever the speed
        if e["event"] in ("succeeded", "failed") and e["task"] == "tick":
            started = next(s for s in events if s["event"] == "started"
                           and s["run_id"] == e["run_id"])  # fmt: skip
            assert 0 < (at(e) - at(started)).total_seconds() < 5
    runs = flowc_runs(tmp_path, "st")
    assert sorted((r["task"], r["status"]) for r in runs) == sorted(
        [("tick", "succeeded")] * 6 + [("flaky", "dead_lettered")] * 2
        + [("flaky", "abandoned")])  # fmt: skip
    abandoned = next(r for r in runs if r["status"] == "abandoned")
    assert "window ended before attempt 2" in abandoned["error"]
    assert abandoned["dead_letter_message_id"]
    assert "window over" in result.stdout
    assert "tick | ok" in result.stdout


LIVE_SPEC = """\
app {name}

task tick {{
  python   = "jobs.main:ok"
  schedule = every {every}
  env {{ GREETING = "{greeting}" }}
}}

task stuck {{
  python   = "jobs.main:spawn"
  schedule = cron("0 10 * * *")
  env {{
    MARKER  = "{marker}"
    PIDFILE = "{pidfile}"
  }}
}}
"""


def test_dev_hot_reload_broken_edit_and_ctrl_c(tmp_path):
    write_jobs(tmp_path)
    marker, pidfile = unique("flowc-e2e-"), tmp_path / "pids"
    spec = tmp_path / "app.flow"

    def write(every: str, greeting: str, broken: bool = False) -> float:
        text = LIVE_SPEC.format(name="live", every=every, greeting=greeting, marker=marker,
                                pidfile=pidfile)  # fmt: skip
        spec.write_text(text.replace("task tick {", "task tick {{") if broken else text)
        return time.time()

    write("1m", "v1")
    events_file = tmp_path / "ev.jsonl"
    log = (tmp_path / "out.log").open("w")
    proc = subprocess.Popen(
        [FLOWC, "dev", "app.flow", "--speed", "120", "--events", "ev.jsonl", "--state", "st",
         "--start", "2026-01-05T09:29:00+00:00", "--grace", "0.5"],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_file_events(events_file, lambda ev: any(
            e["event"] == "succeeded" and e["task"] == "tick" for e in ev))  # fmt: skip
        # a good edit: the schedule changes from every minute to every two minutes
        saved = write("2m", "v2")
        events = wait_for_file_events(events_file, lambda ev: any(
            e["event"] == "reloaded" for e in ev))  # fmt: skip
        reloaded = next(e for e in events if e["event"] == "reloaded")
        latency = datetime.fromisoformat(reloaded["wall"]).timestamp() - saved
        assert latency < 0.5, latency
        assert reloaded["changes"]["rescheduled"] == ["tick"]
        events = wait_for_file_events(events_file, lambda ev: len(
            [e for e in ev if e["event"] == "scheduled" and e["task"] == "tick"
             and at(e) > at(reloaded)]) >= 3)  # fmt: skip
        after = [at(e) for e in events if e["event"] == "scheduled" and e["task"] == "tick"
                 and at(e) > at(reloaded)]  # fmt: skip
        assert all((b - a).total_seconds() == 120 for a, b in zip(after, after[1:], strict=False))
        # a broken edit: reload_failed, and the last good spec keeps running
        write("1m", "v3", broken=True)
        events = wait_for_file_events(events_file, lambda ev: any(
            e["event"] == "reload_failed" for e in ev))  # fmt: skip
        failed = next(e for e in events if e["event"] == "reload_failed")
        assert "task" not in failed and failed["diagnostics"]
        events = wait_for_file_events(events_file, lambda ev: len(
            [e for e in ev if e["event"] == "scheduled" and e["task"] == "tick"
             and at(e) > at(failed)]) >= 2)  # fmt: skip
        kept = [at(e) for e in events if e["event"] == "scheduled" and e["task"] == "tick"
                and at(e) > at(failed)]  # fmt: skip
        assert all(t.minute % 2 == 0 for t in kept)
        # stuck fires at 10:00 and runs (real time: it holds the virtual clock meanwhile)
        wait_for_file_events(events_file, lambda ev: any(
            e["event"] == "started" and e["task"] == "stuck" for e in ev))  # fmt: skip
        deadline = time.monotonic() + 10
        while not processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(processes_with(marker)) == 1  # stuck's grandchild is running
        # Ctrl-C: stops cleanly, nothing left behind
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    output = (tmp_path / "out.log").read_text()
    assert "stopping" in output and "error[E0" in output and "Traceback" not in output
    assert processes_with(marker) == []
    assert not (tmp_path / "st" / "cloud.json").exists()
    statuses = {r["task"]: r["status"] for r in flowc_runs(tmp_path, "st")}
    # a run cut off by Ctrl-C did not complete: with the default on_failure = dead_letter
    # it is kept in the queue (its message says interrupted) rather than lost
    assert statuses["stuck"] == "dead_lettered"
    ticks = [r["status"] for r in flowc_runs(tmp_path, "st") if r["task"] == "tick"]
    # the last tick may have been in flight at Ctrl-C (grace 0.5s): then it is interrupted
    assert set(ticks[:-1]) == {"succeeded"} and ticks[-1] in ("succeeded", "interrupted")
