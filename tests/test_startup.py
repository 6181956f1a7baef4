"""`flowc check` and `flowc schedule` stay fast: they must not import cdktf (which starts
Node), boto3, moto or docker. Every command module is imported by `flowc.cli`, so one
heavy top-level import anywhere would slow every command."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import EXAMPLES

HEAVY = ("cdktf", "constructs", "jsii", "boto3", "botocore", "moto", "docker",
         "pydantic")  # typer >= 0.29 imports pydantic at every command (pinned below it)

PROBE = """
import sys
from typer.testing import CliRunner
from flowc.cli import app
r = CliRunner().invoke(app, {args!r})
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
print("EXIT:" + str(r.exit_code))
"""


def _heavy_modules_after(args: list[str]) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
                         capture_output=True, text=True, check=True).stdout
    heavy = out.split("HEAVY:")[1].splitlines()[0]
    code = out.split("EXIT:")[1].strip()
    return heavy, code


def test_check_imports_nothing_heavy():
    heavy, code = _heavy_modules_after(["check", str(EXAMPLES / "reports.flow"), "--env", "prod"])
    assert code == "0" and heavy == ""


def test_schedule_imports_nothing_heavy():
    heavy, code = _heavy_modules_after(["schedule", '"daily"', "--next", "2",
                                        "--from", "2026-01-01T00:00:00+00:00"])
    assert heavy == ""
    assert code == "0"
