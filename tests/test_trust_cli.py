"""What the CLI prints: each cause once, warnings silenced where asked, `up` only its target's,
spec paths relative to any directory, values reported at their own token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from flowc.cli import app
from flowc.cli.app import _diagnostic
from flowc.cli.common import load_or_exit
from flowc.compiler.pipeline import load_text
from flowc.diagnostics import WARNINGS, Diagnostic, SourceCache, Span, render_text

# Europe/Berlin at 02:30 on a DST night: W300 (gcp) and W301 (gcp, k8s), none on aws.
DST = ('defaults {\n  timezone = "Europe/Berlin"\n}\n'
       'task night {\n  python = "jobs.main:main"\n  schedule = "*-*-* 02:30"\n}\n')


def _spec(tmp_path: Path, text: str, name: str = "app.flow") -> Path:
    (tmp_path / "jobs").mkdir(exist_ok=True)
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    return 0\n")
    (tmp_path / name).write_text(text)
    return tmp_path / name


def test_identical_diagnostics_fold_with_a_count():
    d = Diagnostic("E701", "same cause", Span("a.flow", 1, 1), "fix it")
    text = render_text([d, d, d], SourceCache({"a.flow": "release { canary = 10% }\n"}))
    assert text.count("error[E701]") == 1 and "reported 3 times" in text


def test_top_level_canary_is_one_diagnostic(tmp_path):
    tasks = "".join(f'task t{i} {{\n  python = "jobs.main:main"\n  schedule = "daily"\n}}\n'
                    for i in range(10))
    spec = _spec(tmp_path, "release { canary = 10% }\n" + tasks)
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 1
    assert result.output.count("error[E701]") == 1 and "reported 10 times" in result.output


def test_warnings_print_once_per_command_and_can_be_silenced(tmp_path):
    spec = _spec(tmp_path, DST)
    out = CliRunner().invoke(app, ["check", str(spec), str(spec)]).output
    # gcp's W300, gcp's and k8s's W301: each once, although the file is checked twice
    assert out.count("warning[W300]") == 1 and out.count("warning[W301]") == 2
    assert "warning[W300]" not in CliRunner().invoke(app, ["-W", "W300", "check",
                                                           str(spec)]).output
    quiet = CliRunner().invoke(app, ["--quiet", "check", str(spec)])
    assert quiet.exit_code == 0 and "warning[" not in quiet.output
    _spec(tmp_path, "# flowc: allow W300, W301\n" + DST)
    allowed = CliRunner().invoke(app, ["check", str(spec)]).output
    assert "warning[" not in allowed and "ok, 1 task" in allowed


def test_a_reload_does_not_repeat_warnings(tmp_path):
    spec = _spec(tmp_path, DST)
    result = load_text(DST, str(spec))
    WARNINGS.reset()
    first = WARNINGS.visible(result.diagnostics, result.sources)
    assert first and WARNINGS.visible(result.diagnostics, result.sources) == []


def test_up_prints_only_the_aws_targets_warnings(tmp_path, capsys):
    spec = _spec(tmp_path, DST + 'task cpu {\n  python = "jobs.main:main"\n'
                 '  schedule = "daily"\n  cpu = 2\n}\n')
    WARNINGS.reset()
    load_or_exit(str(spec), target="aws")
    err = capsys.readouterr().err
    assert "W201" in err and "on aws" in err  # cpu ignored by Lambda: about aws
    assert "W300" not in err and "W301" not in err  # about gcp and k8s only


def test_unknown_units_are_reported_at_their_own_token():
    text = 'task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n  memory = 12XB\n}\n'
    [d] = load_text(text, "u.flow").diagnostics
    assert (d.code, d.span.line, d.span.column, d.span.end_column) == ("E110", 4, 12, 16)
    assert "XB" in d.message and d.help
    [d] = load_text(text.replace("memory = 12XB", "timeout = 5min"), "u.flow").diagnostics
    assert d.code == "E111" and "min" in d.message and d.span.line == 4


def test_what_escapes_a_command_is_E921_with_the_path():
    d = _diagnostic(PermissionError(13, "Permission denied", "/x/y"))
    assert d.code == "E921" and "/x/y" in d.message and d.help
    assert _diagnostic(ValueError("year 10000 is out of range")).code == "E921"


def test_a_relative_spec_path_works_from_another_directory(tmp_path):
    """`flowc compile etl/etl.flow` with requirements: pip gets the right path."""
    project = tmp_path / "etl"
    project.mkdir()
    _spec(project, 'task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n'
          '  targets = [aws]\n}\n', "etl.flow")
    (project / "requirements.txt").write_text("--no-index\n")  # pip runs, installs nothing
    env = dict(os.environ, FLOWC_CACHE_DIR=str(tmp_path / "cache"))
    flowc = str(Path(sys.executable).parent / "flowc")
    for args in (["check", "etl/etl.flow"], ["fmt", "etl/etl.flow"],
                 ["compile", "etl/etl.flow", "--out", "out"]):
        run = subprocess.run([flowc, *args], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 0, (args, run.stderr)
    assert list((tmp_path / "out" / "aws" / "assets").glob("*.zip"))
