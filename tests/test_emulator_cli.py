"""`flowc run`, `flowc runs` and `flowc dev` option errors, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowc.deploy.localcloud import free_port
from tests.emulator_support import shown, write_jobs

FLOWC = str(Path(sys.executable).parent / "flowc")

SPEC = """\
app clirun

task ok {
  python  = "jobs.main:ok"
  schedule = every 1m
  env { GREETING = "hello" }
}

task bad {
  python     = "jobs.main:fail"
  schedule   = every 1m
  retries    = 1
  on_failure = dead_letter
}

task hang {
  python   = "jobs.main:slow"
  schedule = every 1m
  timeout  = 1s
  retries  = 0
}
"""



@pytest.fixture
def project(tmp_path):
    write_jobs(tmp_path)
    (tmp_path / "app.flow").write_text(SPEC)
    return tmp_path


def flowc(cwd: Path, *args: str, env: dict | None = None, timeout: float = 60):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([FLOWC, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def test_flowc_run_exits_with_the_task_exit_code_and_flowc_runs_lists_it(project):
    no_localstack = {"LOCALSTACK_HOST": f"127.0.0.1:{free_port()}"}
    bad = flowc(project, "run", "app.flow", "bad", "--speed", "100", env=no_localstack)
    assert bad.returncode == 3, bad.stderr
    assert shown("W503") in bad.stderr  # LOCALSTACK_HOST set, nothing there
    assert "bad | boom: disk full" in bad.stdout
    assert "retried" in bad.stderr and "dead_lettered" in bad.stderr
    good = flowc(project, "run", "app.flow", "ok")
    assert good.returncode == 0, good.stderr
    assert "ok | ok hello" in good.stdout
    listed = flowc(project, "runs", "--format", "json")
    runs = json.loads(listed.stdout)
    assert [(r["task"], r["status"], r["exit_code"], r["attempts"]) for r in runs] == [
        ("bad", "dead_lettered", 3, 2), ("ok", "succeeded", 0, 1)]  # fmt: skip
    assert all(r["trigger"] == "manual" for r in runs)
    text = flowc(project, "runs", "--task", "ok").stdout.splitlines()
    assert text[0].split()[:4] == ["RUN", "APP", "TASK", "STATUS"]
    assert len(text) == 2 and "succeeded" in text[1]


def test_flowc_run_of_a_task_that_times_out_exits_124(project):
    began = time.monotonic()
    result = flowc(project, "run", "app.flow", "hang", "--state", "st")
    assert result.returncode == 124, result.stderr
    assert time.monotonic() - began < 30
    assert "timed_out=True" in result.stderr
    [run] = json.loads(flowc(project, "runs", "--state", "st", "--format", "json").stdout)
    # on_failure defaults to dead_letter: a timed-out run, like any failed one, is kept
    assert run["timed_out"] is True and run["status"] == "dead_lettered"


def test_flowc_run_of_an_unknown_task_is_E501_with_a_suggestion(project):
    result = flowc(project, "run", "app.flow", "bda")
    assert result.returncode == 1
    assert shown("E501") in result.stderr and "did you mean `bad`?" in result.stderr


def test_flowc_run_of_a_broken_spec_prints_its_diagnostics(project):
    (project / "app.flow").write_text("task {\n")
    result = flowc(project, "run", "app.flow", "ok")
    assert result.returncode == 1 and "error[E" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args,needle",
    [(["--speed", "0"], "--speed must be a positive number or `max`"),
     (["--speed", "nan"], "not 'nan'"), (["--speed", "inf"], "not 'inf'"),
     (["--for", "soon"], "not a duration"),
     (["--for", "-5m"], "not a duration"), (["--for", "0s"], "positive duration"),
     (["--grace", "nan"], "--grace"),
     (["--start", "tuesday"], "not an ISO 8601 time")],
)  # fmt: skip
def test_flowc_dev_rejects_bad_options_with_E506(project, args, needle):
    result = flowc(project, "dev", "app.flow", *args)
    assert result.returncode == 2
    assert shown("E506") in result.stderr and needle in result.stderr


def test_flowc_runs_without_history_says_so(tmp_path):
    result = flowc(tmp_path, "runs")
    assert result.returncode == 0 and "no runs recorded" in result.stderr
    assert json.loads(flowc(tmp_path, "runs", "--format", "json").stdout) == []
