"""`flowc` command line: importing this registers every command module on `app`.

A command module lives beside this file and is listed here once. Keep imports of
heavy libraries (cdktf, boto3, moto, docker) inside the command functions so
`flowc check` and `flowc schedule` start fast.
"""

from __future__ import annotations

import importlib

from flowc.cli.app import app

COMMAND_MODULES = (
    "check",
    "fmt",
    "compile",
    "schedule",
    "dev",
    "run",
    "runs",
    "logs",
    "dlq",
    "up",
    "releases",
    "cost",
    "report",
)

for _name in COMMAND_MODULES:
    try:
        importlib.import_module(f"flowc.cli.{_name}")
    except ModuleNotFoundError as exc:  # a command not built yet
        if exc.name != f"flowc.cli.{_name}":
            raise


def main() -> None:
    app()
