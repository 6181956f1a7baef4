"""No input, however broken, produces a traceback: mutated valid specs, garbage, deep nesting."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from flowc.cli import app
from flowc.compiler.pipeline import load_text
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
