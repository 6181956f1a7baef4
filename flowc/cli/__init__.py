"""`flowc` command line: importing this registers every command module on `app`.

A command module lives beside this file and is listed here once. Keep imports of
heavy libraries (cdktf, boto3, moto, docker) inside the command functions so
`flowc check` and `flowc schedule` start fast.
"""

from __future__ import annotations

import gc
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


# flowc builds large, long-lived and acyclic structures (syntax nodes, the IR, manifests):
# at the default threshold (700 allocations) the cycle collector walks them again and
# again, a third of `flowc check`'s time on a 10,000-task spec (benchmarks/bench_scale.py).
GC_THRESHOLDS = (50_000, 20, 10)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    app()
