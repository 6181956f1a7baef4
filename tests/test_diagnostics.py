"""Diagnostics look exactly as SPEC §1 says, in text and JSON, and never a traceback."""

from __future__ import annotations

import json
import os

from typer.testing import CliRunner

from flowc.cli import app
from flowc.compiler.pipeline import load
from flowc.diagnostics import Diagnostic, SourceCache, Span, render_text

runner = CliRunner()


def test_text_rendering_has_location_source_line_caret_and_help():
    d = Diagnostic("E113", "unknown timezone `Europe/Berln`", Span("a.flow", 2, 14, 2, 28),
                   help="did you mean `Europe/Berlin`?")
    text = render_text([d], SourceCache({"a.flow": 'task t {\n  timezone = "Europe/Berln"\n'}))
    assert text.splitlines() == [
        "a.flow:2:14: error[E113]: unknown timezone `Europe/Berln`",
        '2 |   timezone = "Europe/Berln"',
        "  |              ^^^^^^^^^^^^^^",
        "help: did you mean `Europe/Berlin`?",
    ]


def test_warnings_render_as_warning(tmp_path):
    f = tmp_path / "w.flow"
    f.write_text("secret unused\n")
    result = runner.invoke(app, ["check", str(f)])
    assert result.exit_code == 0
    assert f"{f}:1:1: warning[W101]:" in result.stderr


def test_check_exits_1_and_prints_all_errors(tmp_path):
    f = tmp_path / "bad.flow"
    f.write_text('task t {\n  python = "x:y"\n  schedule = "daily"\n  memroy = 1GB\n'
                 '  timezone = "Nowhere"\n}\n')
    result = runner.invoke(app, ["check", str(f)])
    assert result.exit_code == 1
    assert "error[E102]" in result.stderr and "error[E113]" in result.stderr
    assert "help: did you mean `memory`?" in result.stderr


def test_json_format_is_a_list_of_the_same_diagnostics(tmp_path):
    f = tmp_path / "bad.flow"
    f.write_text('task t {\n  python = "x:y"\n  schedule = "daily"\n  memroy = 1GB\n}\n')
    result = runner.invoke(app, ["check", str(f), "--format", "json"])
    assert result.exit_code == 1
    data = [d for d in json.loads(result.stdout) if d["code"] == "E102"]
    assert data[0]["code"] == "E102" and data[0]["severity"] == "error"
    assert data[0]["span"] == {"file": str(f), "line": 4, "column": 3, "end_line": 4,
                               "end_column": 9}
    assert data[0]["help"] == "did you mean `memory`?"


def test_binary_file_is_a_diagnostic_not_a_traceback(tmp_path):
    f = tmp_path / "bin.flow"
    f.write_bytes(b"app x\n\xff\xfe\x00garbage")
    result = load(f)
    assert [d.code for d in result.diagnostics] == ["E007"]
    assert result.diagnostics[0].span.line == 2


def test_missing_file_is_a_diagnostic(tmp_path):
    result = load(tmp_path / "nope.flow")
    assert [d.code for d in result.diagnostics] == ["E008"]
    cli = runner.invoke(app, ["check", str(tmp_path / "nope.flow")])
    assert cli.exit_code == 1 and "error[E008]" in cli.stderr


def test_internal_transformer_error_becomes_E009(monkeypatch):
    from flowc.grammar import parser

    def boom(self, items):
        raise RuntimeError("boom")

    monkeypatch.setattr(parser._ToSyntax, "int", boom)
    tree, diags = parser.parse_text("task t { retries = 1 }", "x.flow")
    assert tree is None and diags[0].code == "E009" and "boom" in diags[0].message


def test_unterminated_string_points_at_the_quote(tmp_path):
    result = load_text_('task t {\n  python = "jobs.x:main\n}\n')
    d = result.diagnostics[0]
    assert d.code == "E002" and (d.span.line, d.span.column) == (2, 12)


def test_missing_brace_says_so():
    result = load_text_('task t {\n  python = "a:b"\n')
    assert result.diagnostics[0].code == "E004"
    assert "missing its closing `}`" in result.diagnostics[0].help


def test_expected_tokens_are_in_the_users_words():
    result = load_text_("task t { python }\n")
    assert result.diagnostics[0].code == "E005"
    assert "`=`" in result.diagnostics[0].message


def test_version_and_help_read_well():
    assert runner.invoke(app, ["--version"]).stdout.startswith("flowc 0.")
    out = runner.invoke(app, ["--help"]).stdout
    for command in ("check", "fmt"):
        assert command in out


def load_text_(text):
    from flowc.compiler.pipeline import load_text

    return load_text(text, "t.flow")


def test_a_spec_that_is_not_a_regular_file_is_E008_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.flow"
    os.mkfifo(fifo)
    (tmp_path / "dir.flow").mkdir()
    for path, kind in ((fifo, "named pipe"), (tmp_path / "dir.flow", "directory")):
        result = load(path)  # a FIFO would block a plain read forever
        assert [d.code for d in result.diagnostics] == ["E008"]
        assert kind in result.diagnostics[0].message and result.diagnostics[0].help
    cli = runner.invoke(app, ["check", str(fifo)])
    assert cli.exit_code == 1 and "error[E008]" in cli.stderr and "not a regular file" in cli.stderr


def test_a_diagnostic_names_at_most_five_tasks_then_counts_the_rest():
    from flowc.diagnostics import named

    assert named(["a"]) == "`a`"
    assert named([f"t{i}" for i in range(5)]) == "`t0`, `t1`, `t2`, `t3`, `t4`"
    assert named([f"t{i}" for i in range(10_000)]) == (
        "`t0`, `t1`, `t2`, `t3`, `t4` and 9,995 more")


def test_W475_for_many_image_tasks_stays_one_short_line(tmp_path):
    from flowc.compiler.pipeline import load_text
    from flowc.targets.operations import unguarded_skip

    text = "app many\n" + "".join(
        f'task t{i} {{\n  image = "busybox:1.36"\n  schedule = daily\n}}\n' for i in range(40))
    app = load_text(text, str(tmp_path / "app.flow")).app
    warning = unguarded_skip(app.tasks, "gcp", "Cloud Run jobs start every fire")
    assert "`t4` and 35 more" in warning.message and "`t5`" not in warning.message
