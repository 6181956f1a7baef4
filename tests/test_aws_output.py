"""The synthesized AWS output: golden files, `terraform validate` with the real provider,
checkov, and the `flowc compile` command.

Regenerate golden files after an intended change with
`FLOWC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_aws_output.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.compiler.pipeline import load
from flowc.targets.compile import compile_app
from tests.aws_support import ROOT, aws_app, checkov, terraform_validate

GOLDEN = ROOT / "tests" / "golden" / "aws"
EXAMPLE = ROOT / "examples" / "reports.flow"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    """name -> compiled aws directory, for the example (prod) and the full IR sample."""
    tmp = tmp_path_factory.mktemp("aws-out")
    example = load(EXAMPLE, "prod")
    assert example.ok, [d.message for d in example.diagnostics]
    dirs = {}
    for name, spec in (("reports-prod", example.app), ("sample", aws_app(tmp / "src"))):
        results = compile_app(spec, ["aws"], tmp / name)
        assert not any(d.is_error for d in results[0].diagnostics), results[0].diagnostics
        dirs[name] = tmp / name / "aws"
    return dirs


@pytest.mark.parametrize("name", ["reports-prod", "sample"])
def test_output_matches_golden_file(outputs, name):
    got = (outputs[name] / "cdk.tf.json").read_text()
    golden = GOLDEN / f"{name}.cdk.tf.json"
    if os.environ.get("FLOWC_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(got)
    assert golden.exists(), f"no golden file {golden}; run with FLOWC_UPDATE_GOLDEN=1"
    assert got == golden.read_text(), f"{name} differs from {golden} (FLOWC_UPDATE_GOLDEN=1)"


@pytest.mark.parametrize("name", ["reports-prod", "sample"])
def test_output_is_valid_for_the_real_aws_provider(outputs, name, tmp_path):
    report = terraform_validate(outputs[name], tmp_path)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


@pytest.mark.parametrize("name", ["reports-prod", "sample"])
def test_checkov_finds_nothing_outside_the_documented_skips(outputs, name):
    report = checkov(outputs[name])
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 50


def test_output_pins_the_provider_and_names_the_stack(outputs):
    doc = json.loads((outputs["sample"] / "cdk.tf.json").read_text())
    assert doc["terraform"]["required_providers"]["aws"] == {
        "source": "hashicorp/aws", "version": "~> 5.100"}
    assert doc["provider"]["aws"] == [{"region": "eu-central-1"}]
    assert doc["terraform"]["backend"] == {"local": {"path": "terraform.tfstate"}}
    assert doc["//"]["metadata"]["stackName"] == "reports-prod-aws"
    outs = doc["output"]
    assert outs["daily_report_function_arn"]["value"] == \
        "${aws_lambda_function.daily_report_function.arn}"
    assert outs["daily_report_dlq_url"]["value"] == "${aws_sqs_queue.daily_report_dlq.url}"
    assert outs["digest_schedule_names"]["value"] == [
        f"${{aws_scheduler_schedule.{rid}.name}}"
        for rid in doc["resource"]["aws_scheduler_schedule"] if rid.startswith("digest_")]
    zips = list((outputs["sample"] / "assets").glob("*.zip"))
    functions = doc["resource"]["aws_lambda_function"].values()
    # one archive per python task: each ships only the modules its handler imports
    assert sorted(z.relative_to(outputs["sample"]).as_posix() for z in zips) == sorted(
        {f["filename"] for f in functions})
    assert len(zips) == len(functions)


def test_s3_backend_from_the_environment(tmp_path):
    from flowc.compiler.ir import Backend

    backend = Backend("s3", (("bucket", "acme-state"), ("key", "reports/prod.tfstate"),
                             ("region", "us-east-1")))
    spec = aws_app(tmp_path / "src", backend=backend)
    compile_app(spec, ["aws"], tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "aws" / "cdk.tf.json").read_text())
    assert doc["terraform"]["backend"] == {"s3": {
        "bucket": "acme-state", "key": "reports/prod.tfstate", "region": "us-east-1"}}


# -- the command ----------------------------------------------------------------------------

FLOW = """\
defaults { memory = 512MB }
secret token

task nightly {
  python   = "jobs.main:main"
  schedule = "daily"
  env { TOKEN = secret.token }
}

task sweep {
  image    = "busybox:1.36"
  schedule = "hourly"
  targets  = [aws]
}

environment prod {
  aws { region = "eu-west-1"  subnets = ["subnet-1"] }
}
"""


def _spec_dir(tmp_path: Path) -> Path:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").touch()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    print('hi')\n")
    (tmp_path / "app.flow").write_text(FLOW)
    return tmp_path / "app.flow"


def test_compile_command_writes_the_aws_directory(tmp_path):
    flow = _spec_dir(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["compile", str(flow), "--target", "aws", "--env", "prod",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "aws" / "cdk.tf.json").read_text())
    assert doc["provider"]["aws"] == [{"region": "eu-west-1"}]
    assert set(doc["resource"]["aws_lambda_function"]) == {"nightly_function"}
    again = CliRunner().invoke(cli, ["compile", str(flow), "--target", "aws", "--env", "prod",
                                     "--out", str(out)])
    assert again.exit_code == 0 and "up to date" in again.output


def test_compile_command_warns_about_missing_subnets_with_the_spec_format(tmp_path):
    flow = _spec_dir(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["compile", str(flow), "--target", "aws", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert f"{flow}:10:" in r.output and "warning[W403]" in r.output
    assert "help: add `aws { subnets" in r.output
    assert "aws_subnets" in json.loads((out / "aws" / "cdk.tf.json").read_text())["data"]


def test_compile_command_emits_ir(tmp_path):
    flow = _spec_dir(tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["compile", str(flow), "--emit", "ir", "--out", str(out)])
    assert r.exit_code == 0, r.output
    ir = json.loads((out / "ir.json").read_text())
    assert ir["type"] == "App" and [t["name"] for t in ir["tasks"]] == ["nightly", "sweep"]
    assert not (out / "aws").exists()


def test_compile_command_rejects_a_bad_spec(tmp_path):
    (tmp_path / "bad.flow").write_text("task Bad {}\n")
    r = CliRunner().invoke(cli, ["compile", str(tmp_path / "bad.flow"), "--out",
                                 str(tmp_path / "out")])
    assert r.exit_code == 1 and "error[E101]" in r.output
