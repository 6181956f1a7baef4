"""Helpers for the AWS target tests: an IR app with every shape, and the offline checkers.

`aws_app(base_dir)` writes fixed code under base_dir and returns an App with a python
task (secret, dead letter, three alerts), an image task (command, secret, dead letter,
errors alert) and a python task with two AWS expressions; the expressions are given
as the schedule translator would put them in `Task.target_schedules`.
`terraform_validate(dir)` and `checkov(dir)` run the real tools (mirror / tools venv).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from flowc.compiler.ir import (
    Alert,
    App,
    EnvVar,
    ImageHandler,
    PythonHandler,
    Secret,
    SecretRef,
    TargetSchedule,
    Task,
)
from flowc.compiler.schedules.model import Schedule
from flowc.targets.aws import AwsSettings
from tests.target_apps import ROOT, span, write_files  # noqa: F401 (ROOT: re-exported)
from tests.target_apps import checkov as run_checkov

MIRROR = Path("/opt/tf-plugins")

CODE = {
    "jobs/__init__.py": "",
    "jobs/daily.py": "import os\n\n\ndef main():\n    print('report for', os.environ['DB_URL'])\n",
    "jobs/digest.py": "def main():\n    return 0\n",
}


def write_code(base_dir: Path) -> None:
    write_files(base_dir, CODE)


def task(name: str, handler, exprs: list[str] | None = None, **kw) -> Task:
    base = dict(
        name=name, handler=handler, schedules=(), timezone="Europe/Berlin", memory_mib=512,
        cpu=None, timeout_s=300, retries=2, env=(), on_failure=None, alerts=(),
        targets=("aws", "gcp", "k8s"), requirements=None, description=None, code_dir=".",
        span=span(kw.pop("line", 1)),
    )
    base.update(kw)
    t = Task(**base)
    if exprs:
        t = with_aws_schedules(t, exprs)
    return t


def with_aws_schedules(t: Task, exprs: list[str], tz: str = "Europe/Berlin") -> Task:
    sched = Schedule(kind="cron", text="(test)", timezone=tz)
    ts = tuple(TargetSchedule("aws", e, tz, 0) for e in exprs)
    return dataclasses.replace(t, schedules=(sched,), target_schedules=ts)


def aws_app(base_dir: Path, *, environment: str | None = "prod",
            subnets: tuple[str, ...] = ("subnet-0abc",), **settings) -> App:
    write_code(base_dir)
    daily = task(
        "daily_report", PythonHandler("jobs.daily", "main"), ["cron(0 9 ? * MON-FRI *)"],
        line=13, memory_mib=1024, description="Weekday report",
        env=(EnvVar("BUCKET", "acme-${reports}"), EnvVar("DB_URL", SecretRef("db_url"))),
        on_failure="dead_letter",
        alerts=(Alert("errors", ">", 0, ("ops@acme.example",), span(22)),
                Alert("duration", ">", 240, ("ops@acme.example", "lead@acme.example"),
                      span(23)),
                Alert("dead_letters", ">=", 1, ("ops@acme.example",), span(24))),
    )
    cleanup = task(
        "cleanup", ImageHandler("busybox:1.36", ("sh", "-c", "echo cleaning")),
        ["cron(*/15 * * * ? *)"], line=26, memory_mib=512,
        env=(EnvVar("TOKEN", SecretRef("api_token")), EnvVar("MODE", "full")),
        on_failure="dead_letter", targets=("aws", "k8s"),
        alerts=(Alert("errors", ">", 2, ("ops@acme.example",), span(30)),),
    )
    digest = task(
        "digest", PythonHandler("jobs.digest", "main"),
        ["cron(0 0/3 * * ? *)", "cron(30 1/3 * * ? *)"], line=33, retries=0, timeout_s=120,
    )
    return App(
        name="reports", source=str(base_dir / "app.flow"), base_dir=str(base_dir),
        environment=environment, tasks=(daily, cleanup, digest),
        secrets=(Secret("db_url"), Secret("api_token"), Secret("unused")),
        settings={"aws": AwsSettings(region="eu-central-1", subnets=subnets, **settings)},
        environments=("prod",) if environment else (),
    )


# -- offline checkers -------------------------------------------------------------------

def terraform_validate(workdir: Path, tmp_path: Path) -> dict:
    """`terraform init -backend=false` + `terraform validate -json` with the local mirror."""
    if shutil.which("terraform") is None or not MIRROR.is_dir():
        pytest.skip("terraform or the provider mirror /opt/tf-plugins is absent on this machine")
    rc = tmp_path / "terraform.rc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n'
                  "  }\n}\n")
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1",
               CHECKPOINT_DISABLE="1", TF_DATA_DIR=str(tmp_path / "tfdata"))
    init = subprocess.run(["terraform", f"-chdir={workdir}", "init", "-backend=false",
                           "-input=false", "-no-color"], env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stdout + init.stderr
    out = subprocess.run(["terraform", f"-chdir={workdir}", "validate", "-json", "-no-color"],
                         env=env, capture_output=True, text=True)
    return json.loads(out.stdout)


def checkov(workdir: Path) -> dict:
    """checkov's terraform_json report on workdir (tools venv, the repo's .checkov.yaml)."""
    return run_checkov(workdir, ("terraform_json",))["terraform_json"]
