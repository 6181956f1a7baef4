"""The settings table drives the checker, the layering, the IR and `function_hash`."""

from __future__ import annotations

import dataclasses

from flowc.compiler import ir
from flowc.compiler.check import SHARED_KEYS
from flowc.compiler.check_task import TASK_KEYS
from flowc.compiler.pipeline import load_text
from flowc.compiler.settings import TASK_SETTINGS
from flowc.releases.hashing import (
    FUNCTION_STRUCTURE,
    NOT_IN_FUNCTION,
    function_fields,
    function_hash,
)


def test_every_task_field_is_hashed_or_excluded_on_purpose():
    """A new ir.Task field must be a setting (which says whether it deploys), part of
    the function's structure, or excluded with a reason: never silently left out."""
    settings = {s.ir_field for s in TASK_SETTINGS}
    declared = settings | set(FUNCTION_STRUCTURE) | set(NOT_IN_FUNCTION)
    fields = {f.name for f in dataclasses.fields(ir.Task)}
    assert fields - declared == set(), "declare these in TASK_SETTINGS or NOT_IN_FUNCTION"
    assert declared - fields == set(), "these are declared but ir.Task has no such field"
    hashed = set(function_fields())
    assert hashed == {s.ir_field for s in TASK_SETTINGS if s.deploys} | set(FUNCTION_STRUCTURE)
    assert {"memory_mib", "timeout_s", "env", "handler"} <= hashed
    assert not hashed & {"schedules", "retries", "alerts", "span"}


def test_the_table_is_what_the_checker_accepts():
    assert set(TASK_SETTINGS.keys()) <= set(TASK_KEYS)
    assert set(TASK_SETTINGS.shared_keys()) <= set(SHARED_KEYS)
    assert "description" not in SHARED_KEYS  # declared shared=False


SPEC = """\
app a
defaults { memory = 512MB  timeout = 10m  env { A = "1" } }
environment prod { memory = 1GB  env { B = "2" } }
task t {
  python = "jobs:main"
  schedule = daily
  %s
}
"""


def _task(own: str = "", env: str | None = "prod") -> ir.Task:
    result = load_text(SPEC % own, "a.flow", env)
    assert result.ok, result.diagnostics
    return result.app.task("t")


def test_layers_resolve_task_then_environment_then_defaults_then_builtin():
    assert _task().memory_mib == 1024 and _task(env=None).memory_mib == 512
    assert _task("memory = 2GB").memory_mib == 2048
    assert _task().timeout_s == 600 and _task().retries == 2  # defaults, built-in
    assert [v.name for v in _task('env { C = "3" }').env] == ["A", "B", "C"]  # merged


def test_a_deploying_setting_changes_the_function_hash_and_others_do_not():
    base = function_hash(_task(), "code")
    assert function_hash(_task("timeout = 11m"), "code") != base
    assert function_hash(_task('description = "x"'), "code") != base
    assert function_hash(_task("retries = 0"), "code") == base  # deploys=False
    assert function_hash(_task('timezone = "Europe/Paris"'), "code") == base
