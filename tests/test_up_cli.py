"""`flowc up` / `flowc down` paths that need no Terraform run: nothing for aws (W601), spec
errors, terraform missing (E602), and `down` with nothing deployed. None starts an emulator."""

from __future__ import annotations

import os

from typer.testing import CliRunner

from flowc.cli import app as cli

TASK = 'task t {{\n  python = "jobs.main:main"\n  schedule = "daily"\n{extra}}}\n'


def _spec(tmp_path, extra: str = "") -> str:
    (tmp_path / "jobs").mkdir(exist_ok=True)
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    pass\n")
    path = tmp_path / "app.flow"
    path.write_text(TASK.format(extra=extra))
    return str(path)


def _run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_up_with_no_aws_task_warns_W601_and_starts_nothing(tmp_path):
    state = tmp_path / "state"
    result = _run("up", _spec(tmp_path, "  targets = [gcp]\n"), "--state", str(state))
    assert result.exit_code == 0, result.output
    code = "W601"
    assert f"warning[{code}]" in result.output and "nothing to bring up" in result.output
    assert not state.exists()


def test_up_with_spec_errors_exits_1_before_anything_starts(tmp_path):
    state = tmp_path / "state"
    result = _run("up", _spec(tmp_path, "  memroy = 1GB\n"), "--state", str(state))
    assert result.exit_code == 1
    assert "error[E102]" in result.output
    assert not state.exists()


def test_up_without_terraform_is_E602(tmp_path):
    state = tmp_path / "state"
    env = {"PATH": str(tmp_path / "empty-bin"), "HOME": os.environ.get("HOME", "/tmp")}
    result = _run("up", _spec(tmp_path), "--state", str(state), env=env)
    assert result.exit_code == 1
    assert "error[E602]" in result.output and "terraform" in result.output
    assert not (state / "up" / "cloud.json").exists()


def test_a_spec_with_only_services_is_brought_up_and_one_not_on_aws_is_W601(tmp_path):
    service = 'service api {{\n  image = "ghcr.io/acme/api:1"\n  port = 8000\n{extra}}}\n'
    path = tmp_path / "app.flow"
    env = {"PATH": str(tmp_path / "empty-bin"), "HOME": os.environ.get("HOME", "/tmp")}
    path.write_text(service.format(extra="  targets = [k8s]\n"))
    result = _run("up", str(path), "--state", str(tmp_path / "state"), env=env)
    assert result.exit_code == 0 and "warning[W601]" in result.output, result.output
    path.write_text(service.format(extra="  targets = [aws]\n"))
    result = _run("up", str(path), "--state", str(tmp_path / "state"), env=env)
    # not W601: it goes on to look for terraform (E602 here, as there is none on PATH)
    assert result.exit_code == 1 and "W601" not in result.output, result.output
    assert "error[E602]" in result.output
    # on every target: `up` (aws) prints no warning about what gcp or k8s ignore
    path.write_text(service.format(extra="  release { strategy = blue_green }\n"))
    assert "on k8s" in _run("check", str(path)).output  # W230: k8s rolls in place
    result = _run("up", str(path), "--state", str(tmp_path / "state"), env=env)
    assert "error[E602]" in result.output and "on k8s" not in result.output, result.output


def test_down_with_nothing_deployed_says_so(tmp_path):
    state = tmp_path / "state"
    result = _run("down", _spec(tmp_path), "--state", str(state))
    assert result.exit_code == 0, result.output
    assert "nothing is deployed for app" in result.output
    assert not (state / "up" / "cloud.json").exists()


def test_status_and_deployed_logs_with_nothing_deployed(tmp_path):
    state = tmp_path / "state"
    spec = _spec(tmp_path)
    shown = _run("status", spec, "--state", str(state))
    assert shown.exit_code == 0 and "Nothing is deployed for" in shown.output
    logs = _run("logs", spec, "t", "--deployed", "--state", str(state))
    assert logs.exit_code == 1
    code = "E523"
    assert f"error[{code}]" in logs.output and "no log group of task `t`" in logs.output
    assert not (state / "up" / "cloud.json").exists()
