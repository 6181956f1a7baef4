"""Releases of python services on AWS (a Lambda function behind an HTTP API): published
versions behind the alias `live`, which the API integration and its invoke permission
target; `canary` weights the alias, `blue_green` switches it; `flowc releases` and
`flowc rollback FILE SERVICE --to RELEASE` work as for python tasks.

A deploy is recorded the way `flowc up` records it after an apply: from a Terraform state
file shaped as the AWS provider writes it (tests/test_releases_services.py does the same
for image services), read back by `flowc.releases.state.deployed`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.releases.log import ReleaseLog
from flowc.releases.plan import deployment_key, refresh
from flowc.releases.rollback import resolve
from flowc.releases.state import deployed
from tests.aws_support import checkov, terraform_validate
from tests.release_support import NOW, loaded
from tests.test_releases_services import compile_ as compile_with_log

SPEC = """\
app shop

service api {
  python  = "web.main:app"
  port    = 8000
  release { strategy = {strategy} }
  targets = [aws]
  alert error_rate > 5% notify "ops@shop.example"
}

environment prod {
  aws { region = "eu-west-1" }
}
"""
CANARY = "canary 10% for 30m"
ALIAS = "${aws_lambda_alias.svc_api_alias.%s}"
NEWEST = "${aws_lambda_function.svc_api_function.version}"


def write(base: Path, code: str, strategy: str = CANARY) -> Path:
    (base / "web").mkdir(parents=True, exist_ok=True)
    (base / "web" / "__init__.py").write_text("")
    (base / "web" / "main.py").write_text(
        "async def app(scope, receive, send):\n"
        f"    await send({{'type': 'http.response.start', 'status': 200}})  # {code}\n")
    spec = base / "app.flow"
    spec.write_text(SPEC.replace("{strategy}", strategy))
    return spec


def compile_(spec: Path, state: Path, out: Path, now=NOW):
    """(the release plan's and the compile's diagnostics, the compiled document)"""
    prepared, diagnostics, doc, _ = compile_with_log(spec, state, out, now)
    return [*prepared.diagnostics, *diagnostics], doc


def apply(doc: dict, workdir: Path, version: str, when: str) -> None:
    """Write the state an apply of `doc` leaves: Lambda published `version` (the newest)
    and the alias points where `doc` says, the newest version standing for its ref."""
    res = doc["resource"]
    fn = res["aws_lambda_function"]["svc_api_function"]
    alias = res["aws_lambda_alias"]["svc_api_alias"]
    primary = version if alias["function_version"] == NEWEST else alias["function_version"]
    routing = [{"additional_version_weights": {version: 0.1}}] \
        if "dynamic" in alias and primary != version else []
    state = {"version": 4, "resources": [
        {"mode": "managed", "type": "aws_lambda_function", "name": "svc_api_function",
         "instances": [{"attributes": {"version": version, "tags": fn["tags"],
                                       "last_modified": when}}]},
        {"mode": "managed", "type": "aws_lambda_alias", "name": "svc_api_alias",
         "instances": [{"attributes": {"function_version": primary,
                                       "routing_config": routing}}]}]}
    (workdir / "terraform.tfstate").write_text(json.dumps(state))


def alias_of(doc: dict) -> tuple[str, bool]:
    """(the alias' primary version, whether it routes a share to the newest version)"""
    alias = doc["resource"]["aws_lambda_alias"]["svc_api_alias"]
    return alias["function_version"], "dynamic" in alias


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("pyservice")
    state, out = base / ".flowc", base / "out"
    spec = write(base, "v1")
    diagnostics, doc1 = compile_(spec, state, out)
    [w710] = [d for d in diagnostics if d.code.startswith(("E2", "W7"))]  # no E230
    assert w710.code == "W710" and "service `api` has a canary" in w710.message
    apply(doc1, out / "aws", "1", "2026-11-25T11:00:00.000+0000")
    write(base, "v2")
    diagnostics, doc2 = compile_(spec, state, out)
    assert [d.code for d in diagnostics if d.code.startswith("W7")] == []  # a real canary
    return {"base": base, "spec": spec, "state": state, "out": out, "doc1": doc1,
            "doc2": doc2, "canary_dir": out / "aws"}


def test_the_api_and_its_permission_invoke_the_alias_of_published_versions(canary):
    res = canary["doc1"]["resource"]
    assert res["aws_lambda_function"]["svc_api_function"]["publish"] is True
    assert res["aws_lambda_function"]["svc_api_function"]["tags"]["flowc-release"] == "r1"
    assert alias_of(canary["doc1"]) == (NEWEST, False)  # first deploy: the newest
    integration = res["aws_apigatewayv2_integration"]["svc_api_integration"]
    assert integration["integration_uri"] == ALIAS % "invoke_arn"
    assert res["aws_lambda_permission"]["svc_api_invoke"]["qualifier"] == ALIAS % "name"


def test_canary_keeps_the_live_version_and_weights_the_new_one(canary):
    res = canary["doc2"]["resource"]
    alias = res["aws_lambda_alias"]["svc_api_alias"]
    assert alias["function_version"] == "1"
    routing = alias["dynamic"]["routing_config"]
    assert routing["for_each"] == f'${{{NEWEST[2:-1]} == "1" ? [] : [{NEWEST[2:-1]}]}}'
    assert routing["content"]["additional_version_weights"] == "${{(routing_config.value) = 0.1}}"
    alarm = res["aws_cloudwatch_metric_alarm"]["svc_api_canary_alarm"]
    assert alarm["dimensions"]["ExecutedVersion"] == NEWEST
    assert alarm["alarm_actions"] == ["${aws_sns_topic.svc_api_alerts.arn}"]
    assert "flowc rollback FILE api --to RELEASE" in alarm["alarm_description"]


def test_canary_output_is_valid_for_the_real_aws_provider_and_checkov_clean(canary, tmp_path):
    report = terraform_validate(canary["canary_dir"], tmp_path)
    assert report["valid"] and report["warning_count"] == 0, report["diagnostics"]
    failed = [(c["check_id"], c["resource"])
              for c in checkov(canary["canary_dir"])["results"]["failed_checks"]]
    assert failed == []


def test_deploy_promote_and_rollback_move_only_the_alias(canary):
    spec, state, out = canary["spec"], canary["state"], canary["out"]
    work = out / "aws"
    apply(canary["doc2"], work, "2", "2026-11-25T12:00:00.000+0000")
    seen = deployed(work)["api"]  # by service name, not by resource stem
    assert (seen.version, seen.function_release, seen.alias_version) == ("2", "r2", "1")
    assert seen.canary == {"version": "2", "weight": 0.1}
    _, during = compile_(spec, state, out, NOW + timedelta(minutes=29))
    assert alias_of(during) == ("1", True)
    _, promoted = compile_(spec, state, out, NOW + timedelta(minutes=31))
    assert alias_of(promoted) == (NEWEST, False)
    apply(promoted, work, "2", "2026-11-25T12:00:00.000+0000")

    runner = CliRunner()
    args = ["--env", "prod", "--state", str(state)]
    listed = runner.invoke(cli, ["releases", str(spec), *args])
    assert listed.exit_code == 0, listed.output
    assert f"{deployment_key(work)}: api=v2 (live)" in listed.output
    assert f"{deployment_key(work)}: api=v1" in listed.output
    before = (work / "cdk.tf.json").read_text()
    rolled = runner.invoke(cli, ["rollback", str(spec), "api", "--to", "r1", *args])
    assert rolled.exit_code == 0, rolled.output
    assert "aws_lambda_alias.svc_api_alias: the newest version -> version 1" in rolled.output
    after = json.loads((work / "cdk.tf.json").read_text())
    changed = {(t, n) for t, group in after["resource"].items() for n, body in group.items()
               if json.loads(before)["resource"][t][n] != body}
    assert changed == {("aws_lambda_alias", "svc_api_alias")}
    assert alias_of(after) == ("1", False)
    _, again = compile_(spec, state, out, NOW + timedelta(hours=1))
    assert alias_of(again) == ("1", False)  # the pin holds while the code is r2's


def test_rollback_refuses_what_it_cannot_do(canary, tmp_path):
    app = loaded(canary["spec"])
    log = ReleaseLog.load(canary["state"], app)
    refresh(log, deployment_key(canary["out"] / "aws"))
    assert [d.code for d in resolve(app, log, "api", "r9").diagnostics] == ["E710"]
    ok = resolve(app, log, "api", "r1")
    assert ok.ok and ok.stem == "svc_api"
    runner = CliRunner()
    args = ["--env", "prod", "--state", str(canary["state"])]
    missing = runner.invoke(cli, ["rollback", str(canary["spec"]), "api", *args])
    assert missing.exit_code == 1 and "error[E710]" in missing.output  # needs --to
    other = tmp_path / "elsewhere"  # a log that never saw a deploy
    write(other, "v1")
    spec = other / "app.flow"
    compile_(spec, other / ".flowc", other / "out-remote")
    log = ReleaseLog.load(other / ".flowc", loaded(spec))
    req = resolve(loaded(spec), log, "api", "r1")
    assert [d.code for d in req.diagnostics] == ["E711"]
    assert "service `api`" in req.diagnostics[0].message


def test_blue_green_switches_the_alias_at_once_and_check_accepts_it(tmp_path):
    state, out = tmp_path / ".flowc", tmp_path / "out"
    spec = write(tmp_path, "v1", "blue_green")
    checked = CliRunner().invoke(cli, ["check", str(spec), "--env", "prod"])
    assert checked.exit_code == 0 and "E230" not in checked.output, checked.output
    _, doc1 = compile_(spec, state, out)
    apply(doc1, out / "aws", "1", "2026-11-25T11:00:00.000+0000")
    write(tmp_path, "v2", "blue_green")
    _, doc2 = compile_(spec, state, out)
    assert alias_of(doc2) == (NEWEST, False)  # all of it to the new version
    assert "svc_api_canary_alarm" not in doc2["resource"]["aws_cloudwatch_metric_alarm"]
    apply(doc2, out / "aws", "2", "2026-11-25T12:00:00.000+0000")
    log = ReleaseLog.load(state, loaded(spec))
    refresh(log, deployment_key(out / "aws"))
    req = resolve(loaded(spec), log, "api", "r1")  # the old version stays to go back to
    assert req.ok and [c.version for c in req.changes] == ["1"]
