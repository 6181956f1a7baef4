"""`flowc fmt`: canonical, idempotent, comments kept, `--check` for CI."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from flowc.cli import app
from flowc.grammar.format import format_tree
from flowc.grammar.parser import parse_text
from tests.conftest import EXAMPLES

runner = CliRunner()

MESSY = '''# header


app   x # trailing app
secret a
task t {   # on header
python="m:f"
  schedule=[ "daily",
     every 2h ]  # after list


  # before memory
  memory=1GB
  env {A="1"
  B = secret.a}
  alert errors >= 1 notify "a@b.co","c@d.co"
  # last in block
}
environment prod { aws { region = "eu-west-1" } k8s {} }
# end
'''

EXPECTED = '''# header

app x  # trailing app
secret a

task t {  # on header
  python   = "m:f"
  schedule = ["daily", every 2h]  # after list

  # before memory
  memory = 1GB
  env {
    A = "1"
    B = secret.a
  }
  alert errors >= 1 notify "a@b.co", "c@d.co"
  # last in block
}

environment prod {
  aws {
    region = "eu-west-1"
  }
  k8s {}
}
# end
'''


def fmt(text: str) -> str:
    tree, diags = parse_text(text, "f.flow")
    assert tree is not None, diags
    return format_tree(tree, text)


def test_messy_file_gets_the_canonical_layout():
    assert fmt(MESSY) == EXPECTED


def test_object_values_are_written_one_way():
    text = 'task t {\n  input={source="crm" , full=false\n  n={a=[1,2]},}\n  e = {}\n}\n'
    want = ('task t {\n  input = { source = "crm", full = false, n = { a = [1, 2] } }\n'
            '  e     = {}\n}\n')
    assert fmt(text) == want and fmt(want) == want


def test_formatting_is_idempotent_on_examples():
    for path in EXAMPLES.glob("*.flow"):
        once = fmt(path.read_text())
        assert fmt(once) == once


def test_comments_are_all_kept():
    out = fmt(MESSY)
    for comment in ["# header", "# trailing app", "# on header", "# after list",
                    "# before memory", "# last in block", "# end"]:
        assert comment in out


def test_formatting_keeps_meaning():
    from flowc.compiler.pipeline import load_text

    text = (EXAMPLES / "reports.flow").read_text()
    before = load_text(text, str(EXAMPLES / "reports.flow"), "prod").app
    after = load_text(fmt(text), str(EXAMPLES / "reports.flow"), "prod").app
    assert before == after


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([
    'secret s\n', '# c\n', '\n', 'task t {\n  python = "a:b"  # x\n  schedule = "daily"\n}\n',
    'defaults { memory = 1GB timeout = 5m }\n', 'environment e { k8s { namespace = "n" } }\n',
]), min_size=1, max_size=8))
def test_idempotent_on_generated_files(parts):
    text = "".join(parts)
    once = fmt(text)
    assert fmt(once) == once
    assert once.count("#") == text.count("#")


def test_fmt_check_reports_and_changes_nothing(tmp_path):
    f = tmp_path / "m.flow"
    f.write_text(MESSY)
    result = runner.invoke(app, ["fmt", "--check", str(f)])
    assert result.exit_code == 1 and "would reformat" in result.stderr
    assert f.read_text() == MESSY
    assert runner.invoke(app, ["fmt", str(f)]).exit_code == 0
    assert f.read_text() == EXPECTED
    assert runner.invoke(app, ["fmt", "--check", str(f)]).exit_code == 0


def test_fmt_refuses_broken_files_with_a_diagnostic(tmp_path):
    f = tmp_path / "b.flow"
    f.write_text("task t {\n")
    result = runner.invoke(app, ["fmt", str(f)])
    assert result.exit_code == 1 and "error[E004]" in result.stderr
    assert f.read_text() == "task t {\n"
