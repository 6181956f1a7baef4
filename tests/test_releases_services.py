"""Releases of AWS image services with two colours (blue_green, canary): the state machine
(`flowc.releases.colours.decide`), the Terraform state reader, and the compile -> deploy ->
compile -> rollback cycle through the release log, on the real compiler.

A deploy is recorded the way `flowc up` records it after an apply (as
tests/release_support.py `seen` does for tasks): from a Terraform state file shaped as
the AWS provider writes it, read back by `flowc.releases.state.deployed_services`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.releases.colours import ServiceHistory, decide, definition_hash
from flowc.releases.log import ReleaseLog
from flowc.releases.plan import deployment_key, prepare, refresh
from flowc.releases.rollback import pin_service, resolve_service
from flowc.releases.state import deployed_services
from flowc.targets.compile import compile_app
from tests.release_support import NOW, loaded

SPEC = """\
app shop

service api {
  image   = "ghcr.io/acme/api:{tag}"
  port    = 8000
  health  = "/health"
  release { strategy = {strategy} }
  targets = [aws]
}

environment prod {
  aws { region = "eu-west-1"  subnets = ["subnet-0abc", "subnet-0def"] }
}
"""
CANARY = "canary 10% for 30m"


# -- the state machine -----------------------------------------------------------------


def history(blue: str, green: str, weights: tuple[int, int], **kw) -> ServiceHistory:
    return ServiceHistory(deployed={"blue": blue, "green": green},
                          weights={"blue": weights[0], "green": weights[1]},
                          definitions={"a": {}, "b": {}, "c": {}}, now=NOW, **kw)


@pytest.mark.parametrize(("strategy", "current", "seen", "kw", "colours", "weights"), [
    # first deploy: both colours get it, blue serves
    ("blue_green", "a", None, {}, ("a", "a"), (100, 0)),
    # steady: nothing moves
    ("blue_green", "a", ("a", "a", (100, 0)), {}, ("a", "a"), (100, 0)),
    # a new definition goes to the colour out of traffic, which then takes it all
    ("blue_green", "b", ("a", "a", (100, 0)), {}, ("a", "b"), (0, 100)),
    ("blue_green", "c", ("a", "b", (0, 100)), {}, ("c", "b"), (100, 0)),
    # canary: N% to the new colour, the rest stays on the live one
    (CANARY, "b", ("a", "a", (100, 0)), {}, ("a", "b"), (90, 10)),
    (CANARY, "b", ("a", "b", (90, 10)), {"canary_since": NOW - timedelta(minutes=29)},
     ("a", "b"), (90, 10)),
    # ... promoted once `for` has passed since the split was first seen
    (CANARY, "b", ("a", "b", (90, 10)), {"canary_since": NOW - timedelta(minutes=30)},
     ("a", "b"), (0, 100)),
    # a newer definition replaces the running canary, the live colour keeps serving
    (CANARY, "c", ("a", "b", (90, 10)), {"canary_since": NOW}, ("a", "c"), (90, 10)),
    # the spec went back to what is live: the canary ends
    (CANARY, "a", ("a", "b", (90, 10)), {}, ("a", "b"), (100, 0)),
    # rolled back to blue: kept while the spec still says `b`...
    ("blue_green", "b", ("a", "b", (100, 0)), {"pin": {"colour": "blue", "from": "b"}},
     ("a", "b"), (100, 0)),
    # ... and a new definition is a new release onto green
    ("blue_green", "c", ("a", "b", (100, 0)), {"pin": {"colour": "blue", "from": "b"}},
     ("a", "c"), (0, 100)),
])
def test_each_colour_and_the_weights_follow_from_what_is_deployed(
        strategy, current, seen, kw, colours, weights):
    name, _, rest = strategy.partition(" ")
    percent = 10.0 if rest else None
    past = None if seen is None else history(seen[0], seen[1], seen[2], **kw)
    rollout = decide(name, percent, 1800 if rest else None, current, past)
    assert (rollout.definitions["blue"], rollout.definitions["green"]) == colours
    assert (rollout.weights["blue"], rollout.weights["green"]) == weights
    assert rollout.note is None


def test_without_a_deployed_colour_or_its_body_both_colours_roll_in_place():
    unknown = ServiceHistory(definitions={"a": {}}, now=NOW)  # the log knew `a`; no state
    rollout = decide("blue_green", None, None, "b", unknown)
    assert rollout.definitions == {"blue": "b", "green": "b"} and rollout.note == "no_state"
    lost = ServiceHistory({"blue": "x", "green": "x"}, {"blue": 100, "green": 0}, {}, now=NOW)
    rollout = decide("blue_green", None, None, "b", lost)
    assert rollout.definitions == {"blue": "b", "green": "b"} and rollout.note == "no_definition"


# -- compile, deploy, compile, rollback ------------------------------------------------


def write_spec(base: Path, tag: str, strategy: str = CANARY) -> Path:
    spec = base / "app.flow"
    spec.write_text(SPEC.replace("{tag}", tag).replace("{strategy}", strategy))
    return spec


def compile_(spec: Path, state: Path, out: Path, now=NOW):
    prepared = prepare(loaded(spec), state, out / "aws", now=now, exclude=[out, state])
    [result] = compile_app(prepared.app, ["aws"], out, releases=prepared.releases)
    assert not any(d.is_error for d in result.diagnostics), result.diagnostics
    prepared.commit()
    text = (out / "aws" / "cdk.tf.json").read_text()
    return prepared, result.diagnostics, json.loads(text), text


def apply(doc: dict, workdir: Path) -> None:
    """Write the Terraform state an apply of `doc` leaves (the attributes flowc reads)."""
    res = doc["resource"]

    def instance(type_: str, name: str, attrs: dict) -> dict:
        return {"mode": "managed", "type": type_, "name": name,
                "instances": [{"attributes": attrs}]}

    def arn(ref: str) -> str:
        return "arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/" + \
            ref.split(".")[1]

    resources = []
    for name, body in res["aws_ecs_task_definition"].items():
        resources.append(instance("aws_ecs_task_definition", name, {
            "tags": body["tags"], "container_definitions": body["container_definitions"]}))
    for name, body in res["aws_ecs_service"].items():
        resources.append(instance("aws_ecs_service", name,
                                  {"desired_count": body["desired_count"]}))
    for name in res["aws_lb_target_group"]:
        resources.append(instance("aws_lb_target_group", name,
                                  {"arn": arn(f"${{aws_lb_target_group.{name}.arn}}")}))
    for name, body in res["aws_lb_listener_rule"].items():
        action = json.loads(json.dumps(body["action"]))
        for group in action[0]["forward"][0]["target_group"]:
            group["arn"] = arn(group["arn"])
        resources.append(instance("aws_lb_listener_rule", name, {"action": action}))
    (workdir / "terraform.tfstate").write_text(json.dumps(
        {"version": 4, "resources": resources}))


def colours(doc: dict) -> dict[str, tuple[str, int]]:
    """colour -> (the image tag of its task definition, its weight in the traffic rule)."""
    res = doc["resource"]
    groups = res["aws_lb_listener_rule"]["svc_api_traffic"]["action"][0]["forward"][0]
    weights = {g["arn"].split("_tg_")[1].split(".")[0]: g["weight"]
               for g in groups["target_group"]}
    out = {}
    for colour in ("blue", "green"):
        body = res["aws_ecs_task_definition"][f"svc_api_task_{colour}"]
        image = json.loads(body["container_definitions"])[0]["image"]
        out[colour] = (image.rpartition(":")[2], weights[colour])
    return out


def test_canary_release_promotion_and_rollback_move_only_the_weights(tmp_path):
    state, out = tmp_path / ".flowc", tmp_path / "out"
    work = out / "aws"
    spec = write_spec(tmp_path, "1")
    _, diagnostics, doc1, _ = compile_(spec, state, out)
    assert [d.code for d in diagnostics if d.code.startswith("W7")] == []  # nothing earlier
    assert colours(doc1) == {"blue": ("1", 100), "green": ("1", 0)}
    apply(doc1, work)

    write_spec(tmp_path, "2")
    _, _, doc2, _ = compile_(spec, state, out)
    assert colours(doc2) == {"blue": ("1", 90), "green": ("2", 10)}
    tasks = [doc["resource"]["aws_ecs_task_definition"] for doc in (doc1, doc2)]
    assert tasks[1]["svc_api_task_blue"] == tasks[0]["svc_api_task_blue"]  # live: untouched
    assert {k: v for k, v in doc2["resource"]["aws_ecs_service"]["svc_api_green"].items()
            if k != "//"} == {k: v for k, v in doc1["resource"]["aws_ecs_service"][
                "svc_api_green"].items() if k != "//"}  # the ECS service is not replaced
    apply(doc2, work)
    seen = deployed_services(work)["api"]
    assert seen.weights == {"blue": 90, "green": 10}
    assert seen.images == {"blue": "ghcr.io/acme/api:1", "green": "ghcr.io/acme/api:2"}
    assert seen.definitions["green"] == definition_hash(tasks[1]["svc_api_task_green"])

    _, _, during, _ = compile_(spec, state, out, NOW + timedelta(minutes=10))  # split seen
    assert colours(during)["green"] == ("2", 10)
    log = ReleaseLog.load(state, loaded(spec))
    key = deployment_key(work)
    assert log.deployments()[key]["services"]["api"]["canary"]["colour"] == "green"
    _, _, promoted, _ = compile_(spec, state, out, NOW + timedelta(minutes=41))
    assert colours(promoted) == {"blue": ("1", 0),
                                 "green": ("2", 100)}
    apply(promoted, work)

    log = ReleaseLog.load(state, loaded(spec))
    refresh(log, key)
    req = resolve_service(loaded(spec), log, "api")
    assert req.ok and [(c.key, c.version) for c in req.changes] == [(key, "blue")]
    pin_service(log, req, NOW)
    log.save()
    rolled = json.loads((work / "cdk.tf.json").read_text())
    assert colours(rolled) == {"blue": ("1", 100),
                               "green": ("2", 0)}
    changed = {(t, n) for t, group in rolled["resource"].items() for n, body in group.items()
               if promoted["resource"][t][n] != body}
    assert changed == {("aws_lb_listener_rule", "svc_api_traffic")}
    assert rolled["output"] == promoted["output"]
    text = (work / "cdk.tf.json").read_text()
    apply(rolled, work)
    _, _, after, again = compile_(spec, state, out, NOW + timedelta(hours=2))
    assert again == text  # the pin holds while the spec says :2

    write_spec(tmp_path, "3")  # a fix: a new release onto the colour out of traffic
    _, _, fixed, _ = compile_(spec, state, out, NOW + timedelta(hours=3))
    assert colours(fixed) == {"blue": ("1", 90),
                              "green": ("3", 10)}


def test_blue_green_switches_at_once_and_no_local_state_is_W711(tmp_path):
    state, out = tmp_path / ".flowc", tmp_path / "out"
    spec = write_spec(tmp_path, "1", "blue_green")
    _, _, doc1, _ = compile_(spec, state, out)
    apply(doc1, out / "aws")
    write_spec(tmp_path, "2", "blue_green")
    _, _, doc2, _ = compile_(spec, state, out)
    assert colours(doc2) == {"blue": ("1", 0), "green": ("2", 100)}
    rule = doc2["resource"]["aws_lb_listener_rule"]["svc_api_traffic"]
    assert rule["depends_on"] == ["aws_ecs_service.svc_api_blue", "aws_ecs_service.svc_api_green"]
    assert doc2["resource"]["aws_ecs_service"]["svc_api_green"]["wait_for_steady_state"] is True
    write_spec(tmp_path, "3", "blue_green")  # compiled elsewhere, where no state is local
    _, diagnostics, doc3, _ = compile_(spec, state, tmp_path / "remote")
    assert [d.code for d in diagnostics if d.code.startswith("W7")] == ["W711"]
    assert colours(doc3) == {"blue": ("3", 100), "green": ("3", 0)}


def test_rollback_command_lists_colours_and_refuses_what_it_cannot_do(tmp_path):
    state, out = tmp_path / ".flowc", tmp_path / "out"
    spec = write_spec(tmp_path, "1", "blue_green")
    _, _, doc1, _ = compile_(spec, state, out)
    apply(doc1, out / "aws")
    runner = CliRunner()
    args = ["--env", "prod", "--state", str(state)]
    nothing = runner.invoke(cli, ["rollback", str(spec), "api", *args])
    assert nothing.exit_code == 1 and "error[E711]" in nothing.output  # both colours run :1
    write_spec(tmp_path, "2", "blue_green")
    _, _, doc2, _ = compile_(spec, state, out)
    apply(doc2, out / "aws")
    listed = runner.invoke(cli, ["releases", str(spec), *args])
    assert listed.exit_code == 0, listed.output
    assert "api blue=ghcr.io/acme/api:1 (0%) green=ghcr.io/acme/api:2 (100%)" in listed.output
    r2 = next(line for line in listed.output.splitlines() if line.startswith("r2 "))
    assert r2.endswith("  api")  # CHANGED names the service
    rolled = runner.invoke(cli, ["rollback", str(spec), "api", *args])
    assert rolled.exit_code == 0, rolled.output
    assert "aws_lb_listener_rule.svc_api_traffic: weights blue 0/green 100 -> blue 100" in (
        rolled.output)
    listed = runner.invoke(cli, ["releases", str(spec), *args])
    assert "green=ghcr.io/acme/api:2 (100%)" in listed.output  # not applied yet
    task = runner.invoke(cli, ["rollback", str(spec), "nothing", "--to", "r1", *args])
    assert task.exit_code == 1 and "error[E712]" in task.output
