"""Fault injection against the real emulator (issue 12): nothing is lost, nothing is left.

Each test reproduces one fault a user can cause (a task that leaves children behind,
`kill -9` of flowc, a corrupt or full disk, two `flowc dev` on one state, bad flags)
and asserts the final state of every run, that no process is left over, and that no
traceback reached the user.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowc.deploy.localcloud import free_port
from tests.emulator_support import (
    processes_with,
    shown,
    unique,
    wait_for_file_events,
    wait_until,
)

FLOWC = str(Path(sys.executable).parent / "flowc")

JOBS = '''
import os, subprocess, sys, time

MARKER = os.environ.get("MARKER", "")

def leave_setsid_child():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", MARKER],
                     start_new_session=True, stdout=subprocess.DEVNULL)
    print("left a child behind")

def double_fork():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(900)",
                                      MARKER])
        os._exit(0)
    os.wait()
    print("daemonised a grandchild")

def flood_stderr():
    chunk = b"x" * (1 << 20)
    for _ in range(int(os.environ.get("MEGABYTES", "200"))):
        os.write(2, chunk)

def hang():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", MARKER],
                     start_new_session=True)
    with open("supervisor.pid", "w") as f:  # the attempt's supervisor is our parent
        f.write(str(os.getppid()))
    time.sleep(900)

def ok():
    print("ok")
'''

SPEC = """\
app faults

task setsid {{
  python   = "jobs.main:leave_setsid_child"
  schedule = every 1m
  env {{ MARKER = "{marker}" }}
}}

task daemon {{
  python   = "jobs.main:double_fork"
  schedule = every 1m
  env {{ MARKER = "{marker}" }}
}}

task flood {{
  python   = "jobs.main:flood_stderr"
  schedule = every 1m
}}

task hang {{
  python     = "jobs.main:hang"
  schedule   = every 1m
  timeout    = 10m
  on_failure = dead_letter
  env {{ MARKER = "{marker}" }}
}}
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "main.py").write_text(JOBS)
    marker = unique("flowc-fault-")
    (tmp_path / "app.flow").write_text(SPEC.format(marker=marker))
    yield tmp_path, marker
    for pid in processes_with(marker):  # never leave anything behind, even on failure
        os.kill(pid, signal.SIGKILL)


def flowc(cwd: Path, *args: str, timeout: float = 60, **popen):
    env = dict(os.environ, LOCALSTACK_HOST=f"127.0.0.1:{free_port()}")  # embedded moto
    return subprocess.run([FLOWC, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, **popen)  # fmt: skip


def runs(cwd: Path, state: str = ".flowc") -> list[dict]:
    out = flowc(cwd, "runs", "--state", state, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


# -- 1. every attempt is contained and ends --------------------------------------------


@pytest.mark.parametrize("task", ["setsid", "daemon"])
def test_a_task_that_leaves_a_child_in_its_own_session_ends_and_the_child_dies(project, task):
    cwd, marker = project
    started = time.monotonic()
    result = flowc(cwd, "run", "app.flow", task, timeout=30)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 15  # not the child's 900 s
    assert processes_with(marker) == []
    [run] = runs(cwd)
    assert run["status"] == "succeeded" and run["attempts"] == 1
    no_traceback(result.stdout, result.stderr)


def test_an_attempt_whose_supervisor_is_killed_still_ends_and_leaves_nothing(project):
    cwd, marker = project
    proc = subprocess.Popen([FLOWC, "run", "app.flow", "hang", "--no-retries"], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, LOCALSTACK_HOST=f"127.0.0.1:{free_port()}"))
    try:
        supervisor = wait_until(lambda: (cwd / "supervisor.pid").exists()
                                and (cwd / "supervisor.pid").read_text(), what="the task")
        wait_until(lambda: processes_with(marker), what="the task's child")
        os.kill(int(supervisor), signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGKILL, err
    assert processes_with(marker) == [] and "Traceback" not in err
    [run] = runs(cwd)
    assert run["status"] == "dead_lettered" and run["exit_code"] == 137


def test_two_hundred_megabytes_without_a_newline_keep_flowc_run_small(project):
    cwd, _ = project
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
             "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe, FLOWC, "run", "app.flow", "flood"],
                         cwd=cwd, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, LOCALSTACK_HOST=f"127.0.0.1:{free_port()}"))
    peak_mib = int(out.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux
    assert peak_mib <= 200, f"flowc run peaked at {peak_mib:.0f} MiB"
    [run] = runs(cwd)
    assert run["status"] == "succeeded"
    assert "bytes of this line dropped" in (run["stderr_tail"] or "")


# -- 2. crash recovery --------------------------------------------------------------------

DEV_SPEC = """\
app faultsdev

task hang {{
  python     = "jobs.main:hang"
  schedule   = every 1m
  timeout    = 10m
  on_failure = dead_letter
  env {{ MARKER = "{marker}" }}
}}

task tick {{
  python   = "jobs.main:ok"
  schedule = every 1m
}}
"""


class Dev:
    """A `flowc dev` in the background, its output in a file."""

    def __init__(self, cwd: Path, *args: str, log: str = "dev.log"):
        self.cwd, self.log_path = cwd, cwd / log
        self._log = self.log_path.open("w")
        env = dict(os.environ, LOCALSTACK_HOST=f"127.0.0.1:{free_port()}")
        self.proc = subprocess.Popen(
            [FLOWC, "dev", "dev.flow", "--state", "st", "--plain", "--no-watch", *args],
            cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()

    @property
    def output(self) -> str:
        return self.log_path.read_text()


def test_kill_9_mid_run_then_restart_closes_the_run_as_abandoned_in_its_queue(project):
    import boto3

    cwd, marker = project
    (cwd / "dev.flow").write_text(DEV_SPEC.format(marker=marker))
    first = Dev(cwd, "--speed", "60", "--start", "2026-01-05T09:29:50+00:00",
                "--events", "ev1.jsonl")  # fmt: skip
    try:
        wait_for_file_events(cwd / "ev1.jsonl", lambda ev: any(
            e["event"] == "started" and e["task"] == "hang" for e in ev))  # fmt: skip
        wait_until(lambda: processes_with(marker), what="hang's child")
    finally:
        first.stop(signal.SIGKILL)
    # the attempt's supervisor saw flowc die and killed the whole tree at once
    wait_until(lambda: not processes_with(marker), timeout=5, what="the orphans to die")
    left = [r for r in runs(cwd, "st") if r["status"] == "running"]
    assert [r["task"] for r in left if r["task"] == "hang"] == ["hang"]  # written ahead

    second = Dev(cwd, "--events", "ev2.jsonl", log="dev2.log")
    try:
        events = wait_for_file_events(cwd / "ev2.jsonl", lambda ev: any(
            e["event"] == "abandoned" and e["task"] == "hang" for e in ev))  # fmt: skip
        abandoned = next(e for e in events if e["event"] == "abandoned" and e["task"] == "hang")
        assert abandoned["run_id"] == next(r["run_id"] for r in left if r["task"] == "hang")
        # one `flowc dev` per state directory: a second one names the holder
        third = flowc(cwd, "dev", "dev.flow", "--state", "st", "--no-watch")
        said = third.stdout + third.stderr
        assert third.returncode == 1 and shown("E530") in said
        assert f"pid {second.proc.pid}" in said
        cloud = json.loads((cwd / "st" / "cloud.json").read_text())  # not removed by `third`
        assert cloud["pid"] == second.proc.pid
        sqs = boto3.client("sqs", endpoint_url=cloud["endpoint"], region_name=cloud["region"],
                           aws_access_key_id="test", aws_secret_access_key="test")
        body = json.loads(sqs.receive_message(QueueUrl=cloud["queues"]["hang"],
                                              WaitTimeSeconds=1)["Messages"][0]["Body"])
        assert body["run_id"] == abandoned["run_id"] and body["reason"] == "abandoned"
    finally:
        assert second.stop() == 0
    statuses = {r["run_id"]: r["status"] for r in runs(cwd, "st")}
    assert statuses[abandoned["run_id"]] == "abandoned"
    assert "running" not in statuses.values()
    assert processes_with(marker) == []
    assert not (cwd / "st" / "cloud.json").exists()
    no_traceback(first.output, second.output, said)


def test_fires_that_fell_while_no_flowc_ran_are_recorded_as_missed(project):
    from datetime import UTC, datetime, timedelta

    from flowc.emulator.clock import iso
    from flowc.emulator.history import History

    cwd, _ = project
    before = datetime.now(UTC)
    last = before - timedelta(minutes=5, seconds=1)
    history = History(cwd / "st")
    history.heartbeat("faults", "real", iso(last), iso(last))  # a session that stopped
    history.close()
    result = flowc(cwd, "run", "app.flow", "setsid", "--state", "st", "--events", "ev.jsonl")
    after = datetime.now(UTC)
    assert result.returncode == 0, result.stderr

    def minute_marks(end: datetime) -> list[str]:
        mark = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
        marks = []
        while mark <= end:
            marks.append(iso(mark))
            mark += timedelta(minutes=1)
        return marks

    missed = [r for r in runs(cwd, "st") if r["status"] == "missed"]
    for task in ("setsid", "daemon", "flood", "hang"):  # every 1m
        times = sorted(r["scheduled_at"] for r in missed if r["task"] == task)
        assert set(minute_marks(before)) <= set(times) <= set(minute_marks(after)), times
    events = [e for e in wait_for_file_events(cwd / "ev.jsonl", lambda ev: ev)
              if e["event"] == "missed"]
    assert {e["run_id"] for e in events} == {r["run_id"] for r in missed}
    assert f"missed {len(missed) // 4} fire(s)" in result.stderr


# -- 3. storage faults --------------------------------------------------------------------


def test_a_corrupt_or_truncated_history_is_moved_aside_and_runs_says_so(project):
    from flowc.emulator.history import History

    cwd, _ = project
    state = cwd / "st"
    state.mkdir()
    (state / "history.sqlite").write_bytes(b"this is not a database" * 100)
    listed = flowc(cwd, "runs", "--state", "st")
    assert listed.returncode == 1 and shown("E531") in listed.stderr
    result = flowc(cwd, "run", "app.flow", "setsid", "--state", "st")
    assert result.returncode == 0 and shown("W530") in result.stderr
    [aside] = state.glob("history.sqlite.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not")
    assert [r["status"] for r in runs(cwd, "st")] == ["succeeded"]
    no_traceback(listed.stderr, result.stderr)
    # truncated mid-file (a crash while copying it, a full disk): moved aside too
    data = (state / "history.sqlite").read_bytes()
    (state / "history.sqlite").write_bytes(data[: len(data) // 2 + 100])
    for extra in ("-wal", "-shm"):
        (state / f"history.sqlite{extra}").unlink(missing_ok=True)
    truncated = History(state)
    assert truncated.moved_aside is not None
    truncated.close()


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (root only), unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory bind-mounted read-only (root only), unmounted afterwards."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if not (_mount("--bind", str(ro), str(ro))
            and _mount("-o", "remount,ro,bind", str(ro))):  # fmt: skip
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)
        pytest.skip("cannot bind-mount read-only here (needs root)")
    yield ro
    subprocess.run(["umount", "-l", str(ro)], capture_output=True)


def test_a_read_only_state_directory_is_one_diagnostic(project, read_only_dir):
    cwd, marker = project
    (cwd / "dev.flow").write_text(DEV_SPEC.format(marker=marker))
    compiled = flowc(cwd, "compile", "dev.flow", "--state", str(read_only_dir / "state"),
                     "--out", "out", "--target", "k8s")  # fmt: skip
    dev = flowc(cwd, "dev", "dev.flow", "--state", str(read_only_dir), "--no-watch")
    up = flowc(cwd, "up", "dev.flow", "--yes", "--state", str(read_only_dir))
    for result in (compiled, dev, up):
        said = result.stdout + result.stderr
        assert result.returncode == 1 and said.count("error[") == 1, said
        assert shown("E508") in said or shown("E920") in said  # E920: checked up front
        no_traceback(said)


def test_a_full_disk_stops_the_emulator_taking_fires_and_loses_no_run(project, small_disk):
    cwd, marker = project
    (cwd / "dev.flow").write_text(DEV_SPEC.format(marker=marker).replace("hang", "tock")
                                  .replace("jobs.main:tock", "jobs.main:ok"))
    dev = Dev(cwd, "--speed", "120", "--start", "2026-01-05T09:29:50+00:00",
              "--state", str(small_disk), "--events", str(small_disk / "ev.jsonl"))
    try:
        wait_for_file_events(small_disk / "ev.jsonl", lambda ev: len(
            [e for e in ev if e["event"] == "succeeded"]) >= 2)  # fmt: skip
        try:  # fill the disk
            with (small_disk / "filler").open("wb", buffering=0) as filler:
                while True:
                    filler.write(b"\0" * 65536)
        except OSError:
            pass
        code = dev.proc.wait(timeout=30)  # it stops by itself
    finally:
        dev.stop()
    output = dev.output
    assert code == 1 and output.count(shown("E532")) == 1, output
    assert "could not be written" in output and "fire(s) not taken" in output
    no_traceback(output)
    (small_disk / "filler").unlink(missing_ok=True)
    # the next session closes what the full disk kept open: every run ends final
    result = flowc(cwd, "run", "dev.flow", "tick", "--state", str(small_disk))
    assert result.returncode == 0, result.stderr
    rows = runs(cwd, str(small_disk))
    assert rows and {r["status"] for r in rows} <= {"succeeded", "abandoned", "missed",
                                                    "interrupted"}  # fmt: skip
    assert processes_with(marker) == []


def test_an_events_file_that_cannot_be_written_stops_dev_with_every_run_final(project):
    cwd, marker = project
    (cwd / "dev.flow").write_text(DEV_SPEC.format(marker=marker))
    dev = Dev(cwd, "--speed", "60", "--start", "2026-01-05T09:29:59+00:00",
              "--events", "/dev/full", "--grace", "0.2")
    code = dev.stop(signal.SIGCONT, timeout=60)  # it stops by itself on the first event
    output = dev.output
    assert code == 1 and output.count(shown("E532")) == 1, output
    no_traceback(output)
    assert {r["status"] for r in runs(cwd, "st")} <= {"succeeded", "interrupted",
                                                      "dead_lettered"}  # fmt: skip
    assert processes_with(marker) == []


# -- 4. flags -----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_runs_limit_must_be_positive(tmp_path, limit):
    result = flowc(tmp_path, "runs", "--limit", limit)
    assert result.returncode == 2 and shown("E506") in result.stderr and "--limit" in result.stderr


# -- 5. imports that cannot work -----------------------------------------------------------


def test_check_catches_a_handler_shadowed_by_the_standard_library(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "ok.py").write_text("def main():\n    print('ok')\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "job.py").write_text("def main():\n    print('ok')\n")
    (tmp_path / "app.flow").write_text(
        'task shadowed {\n  python = "code.ok:main"\n  schedule = "daily"\n}\n'
        'task loose {\n  python = "pkg.job:main"\n  schedule = "daily"\n}\n')
    result = flowc(tmp_path, "check", "app.flow")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "app.flow:2:12: error[E127]" in result.stderr and "help: rename `code`" in result.stderr
    assert "app.flow:6:12: warning[W104]" in result.stderr and "__init__.py" in result.stderr


# -- 4. (continued) Ctrl-C during `flowc up` ----------------------------------------------


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["ctrl-c", "sigterm"])
def test_interrupting_up_is_one_line_and_a_failure_exit(tmp_path, sig, code):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    pass\n")
    (tmp_path / "app.flow").write_text(
        'task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n  targets = [aws]\n}\n')
    proc = subprocess.Popen([FLOWC, "up", "app.flow", "--yes", "--state", "st"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    try:
        time.sleep(3)  # synthesising (cdktf's node process) or applying
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # a terminal's Ctrl-C: the whole foreground group
        else:
            proc.send_signal(sig)  # `timeout`: flowc only
        out, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        flowc(tmp_path, "down", "app.flow", "--state", "st")  # stops a started emulator
    assert proc.returncode == code, err
    assert err.count("interrupted:") == 1 and "Traceback" not in out + err
    assert "BrokenPipeError" not in err and "Applied to" not in err
