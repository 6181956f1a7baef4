"""IR apps for the GCP and Kubernetes target tests, built directly (no front end needed).

`sample_app(base_dir)` writes a small code tree under base_dir (fixed bytes, so golden
files are stable) and returns an App with one task of each shape the targets handle:
python with a secret, requirements, dead letter and alerts; an image task with a command
and a secret; a python task with two schedule expressions and a cpu setting.
`with_schedules` injects per-target expressions, as the schedule translator would.
"""

from __future__ import annotations

import dataclasses
import json
import os
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
from flowc.diagnostics import Span
from flowc.targets.gcp import GcpSettings
from flowc.targets.k8s import K8sSettings

CODE = {
    "jobs/__init__.py": "",
    "jobs/daily.py": "import os\n\n\ndef main():\n    print('report for', os.environ['BUCKET'])\n",
    "jobs/digest.py": "def main():\n    return 0\n",
    "jobs/run.sh": "#!/bin/sh\necho \"${HOME}\" %{ not a template }\n",
    "requirements.txt": "requests==2.32.3\n",
}


def write_files(base_dir: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = base_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_code(base_dir: Path) -> None:
    write_files(base_dir, CODE)


def span(line: int) -> Span:
    return Span("app.flow", line, 1, line, 10)


def task(name: str, handler, **kw) -> Task:
    base = dict(
        name=name, handler=handler, schedules=(), timezone="Europe/Berlin", memory_mib=512,
        cpu=None, timeout_s=300, retries=2, env=(), on_failure=None, alerts=(),
        targets=("aws", "gcp", "k8s"), requirements=None, description=None, code_dir=".",
        span=span(kw.pop("line", 1)),
    )
    base.update(kw)
    return Task(**base)


def with_schedules(t: Task, exprs: list[str], tz: str = "Europe/Berlin") -> Task:
    """The task with `exprs` as its gcp and k8s expressions (one source schedule)."""
    sched = Schedule(kind="cron", text=exprs[0], timezone=tz)
    ts = tuple(TargetSchedule(target, e, tz, 0) for target in ("gcp", "k8s") for e in exprs)
    return dataclasses.replace(t, schedules=(sched,), target_schedules=ts)


def sample_app(base_dir: Path, *, environment: str | None = "prod",
               project: str | None = "acme-prod", prometheus: bool = False,
               namespace: str = "reports") -> App:
    write_code(base_dir)
    daily = with_schedules(task(
        "daily_report", PythonHandler("jobs.daily", "main"), line=13, memory_mib=1024,
        env=(EnvVar("BUCKET", "acme-${reports}"), EnvVar("DB_URL", SecretRef("db_url"))),
        on_failure="dead_letter", requirements="requirements.txt",
        description="Weekday report", include=("jobs/run.sh",),
        alerts=(Alert("errors", ">", 0, ("ops@acme.example",), span(22)),
                Alert("duration", ">", 240, ("ops@acme.example", "lead@acme.example"),
                      span(23)),
                Alert("dead_letters", ">=", 1, ("ops@acme.example",), span(24))),
    ), ["0 9 * * 1-5"])
    cleanup = with_schedules(task(
        "cleanup", ImageHandler("busybox:1.36", ("sh", "-c", "echo cleaning")), line=26,
        memory_mib=512, env=(EnvVar("TOKEN", SecretRef("api_token")),),
        on_failure="dead_letter",
        alerts=(Alert("errors", ">", 2, ("ops@acme.example",), span(30)),
                Alert("duration", ">", 600, ("ops@acme.example",), span(31))),
    ), ["*/15 * * * *"])
    digest = with_schedules(task(
        "digest", PythonHandler("jobs.digest", "main"), line=33, cpu=0.5, retries=0,
        timeout_s=120,
    ), ["0 0,3,6,9,12,15,18,21 * * *", "30 1,4,7,10,13,16,19,22 * * *"])
    return App(
        name="reports", source=str(base_dir / "app.flow"), base_dir=str(base_dir),
        environment=environment, tasks=(daily, cleanup, digest),
        secrets=(Secret("db_url"), Secret("api_token")),
        settings={"gcp": GcpSettings(project=project, region="europe-west1"),
                  "k8s": K8sSettings(namespace=namespace, prometheus=prometheus)},
        environments=("prod",) if environment else (),
    )


# -- compiling and the offline checkers ---------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
GOLDEN = ROOT / "tests" / "golden"


def compile_target(app: App, target: str, out: Path) -> tuple[list, dict]:
    """Compile one target; (diagnostics, parsed cdk.tf.json or {} when nothing was written)."""
    from flowc.targets.compile import compile_app

    (result,) = compile_app(app, [target], out)
    tf = out / target / "cdk.tf.json"
    return result.diagnostics, (json.loads(tf.read_text()) if tf.exists() else {})


def resources(doc: dict, type_: str) -> dict[str, dict]:
    return doc.get("resource", {}).get(type_, {})


def of_task(mapping: dict, prefix: str) -> list:
    """Values whose key (a resource id or a name ending in a schedule's hash) is `prefix`
    plus that hash: a task's schedule resources, in key order."""
    return [v for k, v in sorted(mapping.items())
            if k.startswith(prefix) and len(k) - len(prefix.rstrip("-_")) in (9, 10)]


def only(mapping: dict, prefix: str):
    """The one value `of_task` finds (a single-schedule task's schedule resource)."""
    (value,) = of_task(mapping, prefix)
    return value


def check_golden(actual: bytes, golden: Path) -> None:
    """Compare with a golden file; FLOWC_UPDATE_GOLDEN=1 rewrites it instead."""
    if os.environ.get("FLOWC_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual)
    assert golden.exists(), f"{golden} missing: run with FLOWC_UPDATE_GOLDEN=1 once"
    assert actual.decode() == golden.read_text(), (
        f"output differs from {golden.relative_to(ROOT)}; if the change is intended, "
        "rerun with FLOWC_UPDATE_GOLDEN=1 and review the diff")


def checkov(workdir: Path, frameworks: tuple[str, ...]) -> dict[str, dict]:
    """checkov (tools venv, repo .checkov.yaml) on workdir: framework -> JSON report."""
    if not CHECKOV.exists():
        pytest.skip("checkov is not installed: run `make tools` (make test does)")
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false")
    out = subprocess.run(
        [str(CHECKOV), "-d", str(workdir), "--config-file", str(ROOT / ".checkov.yaml"),
         "--framework", *frameworks, "--skip-download", "-o", "json", "--quiet"],
        env=env, capture_output=True, text=True, cwd=workdir, check=False,
    )
    assert out.stdout.strip(), out.stderr
    report = json.loads(out.stdout)
    reports = report if isinstance(report, list) else [report]
    return {r["check_type"]: r for r in reports}


def failed_checks(reports: dict[str, dict]) -> list[str]:
    return [f"{c['check_id']} {c['resource']}: {c['check_name']}"
            for r in reports.values() for c in r["results"]["failed_checks"]]
