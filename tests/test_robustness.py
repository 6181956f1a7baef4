"""No input, however broken, produces a traceback: mutated valid specs, garbage, deep nesting,
hostile command-line paths and values, `@EPOCH` and date extremes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from flowc.cli import app
from flowc.compiler.pipeline import load_text
from flowc.targets.rules import target_rules
from tests.conftest import EXAMPLES

SEED_SPECS = [
    (EXAMPLES / "reports.flow").read_text(),
    'task t {\n  python = "jobs.main:main"\n  schedule = ["Mon 09:00", every 2h]\n'
    '  env { A = "x\\n" }\n  alert errors > 0 notify "a@b.co"\n}\n',
]
TOKENS = ["{", "}", "[", "]", "(", ")", "=", ",", ".", '"', "#", "\n", "every", "alert",
          "notify", "secret.", "cron(", "at(", "512MB", "5m", "10%", "-1", "0.5", "\\", "\x00",
          "é", "task", "environment", "aws", "defaults", "backend s3"]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEED_SPECS))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "dup"]))
        if op == "insert":
            text = text[:pos] + draw(st.sampled_from(TOKENS) | st.text(max_size=3)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)):]
        elif op == "replace":
            text = text[:pos] + draw(st.text(min_size=1, max_size=4)) + text[pos + 1:]
        elif op == "truncate":
            text = text[:pos]
        else:
            end = min(len(text), pos + draw(st.integers(1, 60)))
            text = text[:end] + text[pos:end] + text[end:]
    return text


def _assert_well_formed(result, text):
    for d in result.diagnostics:
        assert d.code[0] in "EW" and d.message
        assert d.span is not None and d.span.line >= 1 and d.span.column >= 1
    if not result.ok:
        assert any(d.is_error for d in result.diagnostics)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_give_diagnostics_never_exceptions(text):
    result = load_text(text, "fuzz.flow")
    _assert_well_formed(result, text)
    if result.ok:  # the target rules `check` and `compile` run next never raise either
        for found in target_rules(result.app).values():
            assert all(d.code[0] in "EW" and d.message for d in found)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_binary_garbage_never_raises(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bin") / "g.flow"
    path.write_bytes(data)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_deep_nesting_is_a_diagnostic():
    for text in ["x = " + "[" * 5000, "task t { env { " * 3000, "a = " + "(" * 10000]:
        result = load_text(text, "deep.flow")
        assert not result.ok
        assert result.diagnostics[0].code == "E006"


def test_very_long_input_is_fine():
    text = "".join(f'task t{i} {{\n  python = "a:b"\n  schedule = "daily"\n}}\n'
                   for i in range(300))
    result = load_text(text, "long.flow")
    assert len(result.diagnostics) >= 1  # W103 per task: module a is missing
    assert result.app is not None and len(result.app.tasks) == 300


def _no_traceback(result) -> None:
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output


OK_SPEC = 'task x {\n  image = "busybox:1.36"\n  schedule = "daily"\n  targets = [k8s]\n}\n'
# Paths where a directory or file cannot be: under a file, missing parents, kernel trees.
HOSTILE = ["afile/sub", "afile", "nope/deeper/x", "/proc/x", "/proc/1/x", "/sys/x", "/dev/null",
           "/dev/null/x", "."]
# Commands and where the hostile path goes; the emulator's commands only get paths they
# must refuse (a valid one would start the emulator).
COMMANDS = [
    (["compile", "ok.flow", "--out", "{p}"], HOSTILE[:-1]),
    (["compile", "ok.flow", "--emit", "ir", "--out", "{p}"], HOSTILE[:-1]),
    (["compile", "ok.flow", "--out", "out", "--state", "{p}"], HOSTILE),
    (["run", "ok.flow", "x", "--events", "{p}/ev.jsonl"], ["afile", "nope/deeper", "/dev/null"]),
    (["run", "ok.flow", "x", "--state", "{p}"], ["afile/sub", "afile", "nope/deeper/x"]),
    (["dev", "ok.flow", "--events", "{p}"], ["afile/sub", "nope/deeper/x", "/proc", "."]),
    (["check", "{p}"], HOSTILE),
    (["fmt", "--check", "{p}"], HOSTILE),
    (["releases", "ok.flow", "--state", "{p}"], HOSTILE),
    (["runs", "--state", "{p}"], HOSTILE),
]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(COMMANDS), pick=st.integers(0, len(HOSTILE) - 1))
def test_hostile_paths_give_diagnostics_never_tracebacks(tmp_path, monkeypatch, case, pick):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("a file where a directory is expected\n")
    (tmp_path / "ok.flow").write_text(OK_SPEC)
    command, paths = case
    path = paths[pick % len(paths)]
    _no_traceback(CliRunner().invoke(app, [a.replace("{p}", path) for a in command]))


@pytest.mark.parametrize("args, code", [
    (["compile", "ok.flow", "--out", "afile/sub"], "E920"),
    (["compile", "ok.flow", "--emit", "ir", "--out", "afile/sub"], "E920"),
    (["compile", "ok.flow", "--state", "nope/st"], "E920"),
    (["run", "ok.flow", "x", "--events", "/nonexistent/dir/ev.jsonl"], "E920"),
    (["dev", "ok.flow", "--state", "afile/st"], "E920"),
])
def test_bad_paths_are_diagnostics_naming_the_flag(tmp_path, monkeypatch, args, code):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x\n")
    (tmp_path / "ok.flow").write_text(OK_SPEC)
    result = CliRunner().invoke(app, args)
    _no_traceback(result)
    assert result.exit_code == 1 and f"error[{code}" in result.output, result.output
    assert not (tmp_path / "nonexistent").exists() and not Path("/nonexistent").exists()


@settings(max_examples=40, deadline=None)
@given(st.one_of(
    st.integers(min_value=0, max_value=10**30).map(lambda n: f'"@{n}"'),
    st.integers(min_value=-9999, max_value=99999).map(lambda y: f'at("{y:04d}-01-01T00:00")'),
    st.integers(min_value=0, max_value=99999).map(lambda y: f'"{y}-12-31 23:59"'),
))
def test_epoch_and_date_extremes_are_diagnostics(expr):
    _no_traceback(CliRunner().invoke(app, ["schedule", expr, "--next", "2"]))
    spec = f'task t {{\n  image = "busybox"\n  schedule = {expr}\n  targets = [aws]\n}}\n'
    _assert_well_formed(load_text(spec, "x.flow"), spec)


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00", "9999-12-31T23:59:59",
                                   "2199-12-31T23:59:59+14:00", "1970-01-01T00:00:00-12:00"])
def test_from_extremes_are_diagnostics(start):
    _no_traceback(CliRunner().invoke(app, ["schedule", '"daily"', "--from", start]))


@pytest.mark.parametrize("setting, says", [
    ({"JSII_NODE": "/nonexistent/node"}, "cannot start Node"),
    ({"JSII_NODE": "/bin/false"}, "Node (`/bin/false`) failed"),
    ({"FLOWC_CACHE_DIR": "{file}"}, "cannot unpack cdktf"),
])
def test_a_compile_without_a_working_node_or_cache_is_E922_not_a_traceback(
        tmp_path, monkeypatch, setting, says):
    """cdktf runs in Node from flowc's cache: a missing Node, a Node that fails or a cache
    that cannot be written is one diagnostic per target, and nothing is written."""
    (tmp_path / "jobs.py").write_text("def ok():\n    pass\n")
    (tmp_path / "app.flow").write_text('task t {\n  python = "jobs:ok"\n  schedule = daily\n}\n')
    (tmp_path / "a-file").write_text("")
    for name, value in setting.items():
        monkeypatch.setenv(name, value.format(file=tmp_path / "a-file"))
    out = CliRunner().invoke(app, ["compile", str(tmp_path / "app.flow"), "--target", "aws",
                                   "--out", str(tmp_path / "out"),
                                   "--state", str(tmp_path / "st")])
    assert out.exit_code == 1 and isinstance(out.exception, SystemExit | None), out.exception
    code = "E922"
    assert f"error[{code}]" in out.output and says in out.output and "help:" in out.output
    assert "Traceback" not in out.output
    assert not (tmp_path / "out" / "aws" / "cdk.tf.json").exists()
