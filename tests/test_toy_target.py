"""A fourth target, declared here and nowhere else, is a first-class target.

`toy` runs every task as a Terraform `terraform_data` resource holding its schedule; it
allows tasks of at most 10 minutes and has its own settings block. Registering it is
all it takes for the checker, `flowc compile --target`, `flowc schedule --target` and
the limits check to know it (no file under flowc/ names it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.compiler.ir import App, Backend
from flowc.compiler.schedules.dst import ONCE, SKIP, DstPolicy
from flowc.compiler.schedules.translate import unix
from flowc.compiler.schedules.translate.lower import Dialect
from flowc.targets import registry
from flowc.targets.base import Builder, Stack, standard_tags


@dataclass(frozen=True)
class ToySettings:
    datacenter: str = "dc0"
    backend: Backend | None = None


class ToyBuilder(Builder):
    name = "toy"

    def build(self, app: App, stack: Stack) -> None:
        settings = TOY.settings_of(app)
        for task in app.tasks_for("toy"):
            stack.resource("terraform_data", f"task_{task.name}", {"input": {
                "datacenter": settings.datacenter,
                "schedules": [s.expression for s in task.schedules_for("toy")],
                "tags": standard_tags(app, task),
            }})


TOY = registry.Target(
    name="toy",
    title="Toy",
    settings=ToySettings,
    limits={"python": registry.RuntimeLimits("Toy runner", max_timeout_s=600),
            "image": registry.RuntimeLimits("Toy runner", max_timeout_s=600)},
    cron=lambda schedule: unix.translate(schedule, Dialect("toy", "the toy's cron")),
    dst=DstPolicy("the toy scheduler", gap=SKIP, overlap=ONCE),
    builder=f"{__name__}:ToyBuilder",
    reserved_env={"python": registry.ReservedEnv("Toy runner", frozenset({"TOY_SLOT"}))},
)

SPEC = """\
app shop
task tidy {
  python = "jobs:tidy"
  schedule = "Mon..Fri 09:00"
  timeout = %s
  targets = [toy]
}
environment prod {
  toy { datacenter = "dc7" }
}
"""


@pytest.fixture
def toy():
    registry.register(TOY)
    yield TOY
    registry.unregister("toy")


def _spec(tmp_path, timeout: str = "5m"):
    (tmp_path / "jobs.py").write_text("def tidy():\n    pass\n")
    path = tmp_path / "shop.flow"
    path.write_text(SPEC % timeout)
    return path


def test_a_toy_target_compiles_with_its_own_settings(toy, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["compile", str(_spec(tmp_path)), "--target", "toy",
                                 "--env", "prod", "--out", str(out),
                                 "--state", str(tmp_path / "state")])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "toy" / "cdk.tf.json").read_text())
    data = doc["resource"]["terraform_data"]["task_tidy"]["input"]
    assert data["datacenter"] == "dc7" and data["schedules"] == ["0 9 * * 1-5"]
    assert not (out / "aws").exists()


def test_a_toy_target_is_a_schedule_target(toy):
    r = CliRunner().invoke(cli, ["schedule", '"Mon..Fri 09:00"', "--target", "toy",
                                 "--next", "1", "--from", "2026-01-05T00:00:00+00:00"])
    assert r.exit_code == 0, r.output
    assert "expr: 0 9 * * 1-5" in r.output


def test_a_toy_targets_limits_are_checked(toy, tmp_path):
    r = CliRunner().invoke(cli, ["check", str(_spec(tmp_path, "20m"))])
    assert r.exit_code == 1
    assert "error[E201]" in r.output and "Toy runner" in r.output


def test_a_toy_targets_settings_block_is_checked(toy, tmp_path):
    path = _spec(tmp_path)
    path.write_text(path.read_text().replace("datacenter", "datacentre"))
    r = CliRunner().invoke(cli, ["check", str(path)])
    assert r.exit_code == 1 and "unknown setting `datacentre` in `toy`" in r.output


def test_a_toy_targets_reserved_env_names_are_checked(toy, tmp_path):
    path = _spec(tmp_path)
    path.write_text(path.read_text().replace('  targets = [toy]\n',
                                             '  targets = [toy]\n  env { TOY_SLOT = "1" }\n'))
    r = CliRunner().invoke(cli, ["check", str(path)])
    assert r.exit_code == 1 and "error[E450]" in r.output and "Toy runner" in r.output


def test_without_registration_the_toy_is_unknown(tmp_path):
    r = CliRunner().invoke(cli, ["check", str(_spec(tmp_path))])
    assert r.exit_code == 1 and "unknown target `toy`" in r.output
    r = CliRunner().invoke(cli, ["compile", str(_spec(tmp_path)), "--target", "toy",
                                 "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "toy" in r.output
