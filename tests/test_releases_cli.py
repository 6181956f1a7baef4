"""`flowc compile` recording releases, `flowc releases`, `flowc rollback`, and the whole flow
against the embedded AWS emulator: `flowc up` (version 1), an edit and `flowc up` again
(version 2 as a 10% canary behind the alias), then `flowc rollback --to r1`, whose
Terraform plan changes the alias and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.deploy import localcloud
from flowc.deploy.runner import root_dir, stack_dir
from flowc.releases.log import ReleaseLog
from tests.aws_support import MIRROR
from tests.release_support import loaded, project, write_code

FLOWC = str(Path(sys.executable).parent / "flowc")
RECORDED = re.compile(r"release r\d+ recorded in ")


def compile_(spec: Path, *extra: str):
    base = spec.parent
    return CliRunner().invoke(cli, ["compile", str(spec), "--env", "prod", "--target", "aws",
                                    "--out", str(base / "out"), "--state",
                                    str(base / ".flowc"), *extra])


def test_compile_records_a_release_only_when_something_changed(tmp_path):
    spec = project(tmp_path)
    first = compile_(spec)
    assert first.exit_code == 0, first.output
    assert "warning[W710]" in first.output and "release r1 recorded" in first.output
    again = compile_(spec)
    assert again.exit_code == 0 and not RECORDED.search(again.output)
    write_code(tmp_path, "v2")
    assert "release r2 recorded" in compile_(spec).output
    spec.write_text(spec.read_text().replace("Mon..Fri 02:00", "Mon..Fri 03:00"))
    assert "release r3 recorded" in compile_(spec).output
    spec.write_text("# a comment is not a release\n" + spec.read_text())
    assert not RECORDED.search(compile_(spec).output)
    log = ReleaseLog.load(tmp_path / ".flowc", loaded(spec))
    assert log.ids() == ["r1", "r2", "r3"]
    fids = [r["tasks"]["nightly"]["function_release"] for r in log.releases]
    assert fids == ["r1", "r2", "r2"]  # a schedule change is no new function version
    assert len({r["tasks"]["nightly"]["code_hash"] for r in log.releases}) == 2
    assert log.path == tmp_path / ".flowc" / "releases" / "shop-prod.json"

    listed = CliRunner().invoke(cli, ["releases", str(spec), "--env", "prod", "--state",
                                      str(tmp_path / ".flowc")])
    assert listed.exit_code == 0, listed.output
    rows = [line.split()[:2] for line in listed.output.splitlines()[1:]]
    assert [r[0] for r in rows] == ["r1", "r2", "r3"]
    assert listed.output.splitlines()[0].split() == ["RELEASE", "TIME", "SPEC", "CHANGED"]
    data = json.loads(CliRunner().invoke(cli, [
        "releases", str(spec), "--env", "prod", "--state", str(tmp_path / ".flowc"),
        "--format", "json"]).output)
    assert [(r["id"], r["changed"]) for r in data["releases"]] == [
        ("r1", ["nightly"]), ("r2", ["nightly"]), ("r3", ["spec"])]


def test_rollback_command_reports_unknown_releases_and_undeployed_versions(tmp_path):
    spec = project(tmp_path)
    assert compile_(spec).exit_code == 0
    args = ["rollback", str(spec), "nightly", "--env", "prod", "--state",
            str(tmp_path / ".flowc")]
    unknown = CliRunner().invoke(cli, [*args, "--to", "r5"])
    assert unknown.exit_code == 1
    assert "error[E710]" in unknown.output and "known releases: r1" in unknown.output
    never = CliRunner().invoke(cli, [*args, "--to", "1"])
    assert never.exit_code == 1 and "error[E711]" in never.output
    bad_task = CliRunner().invoke(cli, [*args[:2], "nope", *args[3:], "--to", "r1"])
    assert bad_task.exit_code == 1 and "error[E712]" in bad_task.output


# -- against the embedded AWS emulator ------------------------------------------------------

def flowc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    start = time.monotonic()
    out = subprocess.run([FLOWC, *args], cwd=cwd, capture_output=True, text=True,
                         timeout=400, env=dict(os.environ, COLUMNS="200"))
    print(f"$ flowc {' '.join(args)} -> {out.returncode} in {time.monotonic() - start:.0f}s\n"
          f"{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture
def workspace(tmp_path):
    if shutil.which("terraform") is None or not MIRROR.is_dir():
        pytest.skip("terraform or the provider mirror /opt/tf-plugins is absent on this "
                    "machine; flowc up needs both to apply offline")
    yield tmp_path
    localcloud.stop(root_dir(tmp_path / ".flowc"))  # stop the server (no orphan)


@pytest.mark.slow
def test_up_canary_then_rollback_plans_only_the_alias(workspace):
    # no dead-letter queue: the provider waits ~25 s for a new SQS queue
    project(workspace, on_failure="discard")
    up = flowc("up", "app.flow", "--env", "prod", cwd=workspace)
    assert up.returncode == 0, up.stderr
    assert "warning[W710]" in up.stderr  # the first release goes live at once
    write_code(workspace, "v2")
    again = flowc("up", "app.flow", "--env", "prod", cwd=workspace)
    assert again.returncode == 0, again.stderr

    cloud = localcloud.recorded(root_dir(workspace / ".flowc"))
    lam = boto3.client("lambda", endpoint_url=cloud.endpoint, region_name="eu-west-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    alias = lam.get_alias(FunctionName="shop-prod-nightly", Name="live")
    assert alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.1}
    listed = flowc("releases", "app.flow", "--env", "prod", cwd=workspace)
    assert "nightly=v1 (live)" in listed.stdout and "nightly=v2 (canary 10%)" in listed.stdout

    rolled = flowc("rollback", "app.flow", "nightly", "--to", "r1", "--env", "prod",
                   cwd=workspace)
    assert rolled.returncode == 0, rolled.stderr
    m = re.search(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy \(([^)]*)\)",
                  rolled.stderr)
    assert m, rolled.stderr
    assert (m[1], m[2], m[3], m[4]) == ("0", "1", "0", "aws_lambda_alias.nightly_alias")
    alias = lam.get_alias(FunctionName="shop-prod-nightly", Name="live")
    assert alias["FunctionVersion"] == "1" and not alias.get("RoutingConfig")
    log = ReleaseLog.load(workspace / ".flowc", loaded(workspace / "app.flow"))
    key = str((stack_dir(workspace / ".flowc", "shop-prod") / "aws").resolve())
    assert log.deployments()[key]["live"]["nightly"] == {"version": "1"}
    assert log.deployments()[key]["pins"]["nightly"]["release"] == "r1"


def test_editing_one_tasks_module_is_a_new_function_release_of_that_task_only(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "common.py").write_text("NAME = 'x'\n")
    for name in ("a", "b"):
        (tmp_path / "jobs" / f"{name}.py").write_text(
            "from jobs.common import NAME\n\ndef main():\n    print(NAME)\n")
    spec = tmp_path / "app.flow"
    spec.write_text("app two\n\n" + "".join(
        f'task {n} {{\n  python   = "jobs.{n}:main"\n  schedule = every 1h\n}}\n'
        for n in ("a", "b")))
    log = ReleaseLog.load(tmp_path / ".flowc", loaded(spec, None))
    log.record(loaded(spec, None))
    (tmp_path / "jobs" / "b.py").write_text("def main():\n    print('b')\n")
    second, new = log.record(loaded(spec, None))
    assert new and second["id"] == "r2"
    assert {n: e["function_release"] for n, e in second["tasks"].items()} == \
        {"a": "r1", "b": "r2"}
    (tmp_path / "jobs" / "common.py").write_text("NAME = 'y'\n")  # only `a` imports it now
    third, _ = log.record(loaded(spec, None))
    assert {n: e["function_release"] for n, e in third["tasks"].items()} == \
        {"a": "r3", "b": "r2"}
