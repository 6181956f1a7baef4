"""Target rules that `flowc check` and `flowc compile` share: env names and values per
target, stable resource names, defaults that compile everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.compiler.pipeline import load_text
from flowc.targets import registry
from flowc.targets.rules import target_rules

PY = 'task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n'
IMG = 'task t {\n  image = "busybox:1.36"\n  schedule = "daily"\n'


def rules(text: str, base: Path) -> list:
    (base / "jobs").mkdir(exist_ok=True)
    (base / "jobs" / "__init__.py").touch()
    (base / "jobs" / "main.py").write_text("def main():\n    pass\n")
    result = load_text(text, str(base / "app.flow"))
    assert result.ok, result.diagnostics
    return [d for found in target_rules(result.app).values() for d in found]


@pytest.mark.parametrize("text, code, target", [
    (PY + '  env { FLOWC_SECRET_DB = "plain" }\n}\n', "E451", "aws"),
    (PY + '  env { FLOWC_ENTRYPOINT = "evil:main" }\n}\n', "E451", "k8s"),
    (PY + '  env { AWS_REGION = "x" }\n}\n', "E450", "aws"),
    (PY + '  env { AWS_LAMBDA_FUNCTION_NAME = "x" }\n}\n', "E450", "aws"),
    (PY + '  env { _HANDLER = "x" }\n}\n', "E450", "aws"),
    (PY + '  env { LAMBDA_TASK_ROOT = "x" }\n}\n', "E450", "aws"),
    (PY + '  env { AWS_ACCESS_KEY_ID = "x" }\n}\n', "E450", "aws"),
    (PY + '  env { HOME = "/root" }\n}\n', "E450", "k8s"),
    (PY + '  env { PYTHONPATH = "/x" }\n}\n', "E450", "k8s"),
    (PY + '  env { K_SERVICE = "x" }\n}\n', "E450", "gcp"),
    (IMG + '  env { CLOUD_RUN_JOB = "x" }\n}\n', "E450", "gcp"),
    (PY + '  env { BIG = "' + "x" * 4100 + '" }\n}\n', "E452", "aws"),
    (PY + '  env { NUL = "a\\u0000b" }\n}\n', "E452", "aws"),
])
def test_env_rules_name_the_target(tmp_path, text, code, target):
    found = [d for d in rules(text, tmp_path) if d.code == code]
    assert len(found) == 1, found
    assert target in found[0].message and found[0].help and found[0].span.line >= 1


def test_allowed_env_names_pass_and_a_secret_cannot_be_shadowed(tmp_path):
    ok = PY + '  env { HOME = "/root"  TZ = "UTC"  DB_URL = "x" }\n  targets = [aws, gcp]\n}\n'
    assert rules(ok, tmp_path) == []
    shadow = 'secret db\n' + PY + '  env { FLOWC_SECRET_DB = "plain"  DB = secret.db }\n}\n'
    assert [d.code for d in rules(shadow, tmp_path)] == ["E451"]


def _names(doc_dir: Path) -> dict[str, set[str]]:
    """Per target: every resource address and every `name`-like argument."""
    import json

    out: dict[str, set[str]] = {}
    for target in registry.names():
        doc = json.loads((doc_dir / target / "cdk.tf.json").read_text())
        found: set[str] = set()
        for type_, bodies in doc.get("resource", {}).items():
            for rid, body in bodies.items():
                found.add(f"{type_}.{rid}")
                for key in ("name", "function_name", "account_id", "alarm_name"):
                    if isinstance(body.get(key), str):
                        found.add(f"{type_}.{rid}={body[key]}")
                meta = body.get("metadata")
                if isinstance(meta, dict) and "name" in meta:
                    found.add(f"{type_}.{rid}={meta['name']}")
        out[target] = found
    return out


def _of(names: dict[str, set[str]], task: str) -> dict[str, set[str]]:
    return {t: {n for n in found if f"{task}_" in n.split("=")[0] or f"_{task}" in n}
            for t, found in names.items()}


def test_names_of_untouched_tasks_never_move(tmp_path):
    """Add `x` (two schedules) next to `x_1`, reorder, remove: `x_1`'s names stay."""
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").touch()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    pass\n")
    x1 = 'task x_1 {\n  python = "jobs.main:main"\n  schedule = "daily"\n}\n'
    x = ('task x {\n  python = "jobs.main:main"\n  schedule = ["Mon 09:00", "Tue 10:00"]\n}\n')
    x_swapped = x.replace('"Mon 09:00", "Tue 10:00"', '"Tue 10:00", "Mon 09:00"')
    versions = {"alone": "app c\n" + x1, "added": "app c\n" + x + x1,
                "reordered": "app c\n" + x1 + x_swapped}
    names = {}
    for label, text in versions.items():
        (tmp_path / "c.flow").write_text(text)
        out = tmp_path / label
        result = CliRunner().invoke(cli, ["compile", str(tmp_path / "c.flow"), "--out", str(out),
                                          "--state", str(tmp_path / "st")])
        assert result.exit_code == 0, result.output
        names[label] = _names(out)
    alone = _of(names["alone"], "x_1")
    assert all(alone.values())
    assert _of(names["added"], "x_1") == alone == _of(names["reordered"], "x_1")
    # task x's own schedules keep their names when only their order changes
    assert _of(names["added"], "x") == _of(names["reordered"], "x")
    all_added = set().union(*names["added"].values())
    assert "kubernetes_cron_job_v1" in " ".join(all_added)


KINDS = {
    "python": 'task t {\n  python = "jobs.main:main"\n  schedule = SCHED\n}\n',
    "image": 'task t {\n  image = "busybox:1.36"\n  schedule = SCHED\n}\n',
}
SCHEDULES = ['"daily"', '"Mon..Fri 09:00"', 'cron("*/15 * * * *")', "every 90m", '"hourly"']


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(KINDS)), schedule=st.sampled_from(SCHEDULES))
def test_minimal_tasks_compile_on_every_target_with_the_defaults(tmp_path_factory, kind,
                                                                 schedule):
    base = tmp_path_factory.mktemp("minimal")
    (base / "jobs").mkdir()
    (base / "jobs" / "__init__.py").touch()
    (base / "jobs" / "main.py").write_text("def main():\n    pass\n")
    (base / "m.flow").write_text(KINDS[kind].replace("SCHED", schedule))
    result = CliRunner().invoke(cli, ["compile", str(base / "m.flow"), "--out", str(base / "out")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (base / "out").iterdir()} == set(registry.names())
    check = CliRunner().invoke(cli, ["check", str(base / "m.flow")])
    assert check.exit_code == 0, check.output
    if kind == "image":  # no subnets: the default VPC, said once
        assert check.output.count("warning[W403]") == 1


def test_a_load_balanced_service_on_one_subnet_is_E401(tmp_path):
    """No subnets means the default VPC (W403); one subnet cannot hold an ALB (two zones)."""
    flow = tmp_path / "s.flow"
    flow.write_text('service api {\n  image = "ghcr.io/acme/api:1"\n  port = 8000\n}\n'
                    'environment prod {\n  aws {\n    subnets = ["subnet-0abc"]\n  }\n}\n')
    result = CliRunner().invoke(cli, ["check", str(flow), "--env", "prod"])
    code = "E401"
    assert result.exit_code == 1 and f"error[{code}]" in result.output, result.output
    assert f"{flow}:1:" in result.output and "help:" in result.output
    worker = flow.read_text().replace("  port = 8000\n", "")
    flow.write_text(worker)  # a worker needs no load balancer: one subnet is enough
    assert CliRunner().invoke(cli, ["check", str(flow), "--env", "prod"]).exit_code == 0
