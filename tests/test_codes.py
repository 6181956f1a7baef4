"""Every code in the catalogue has an example that triggers it, with a span and a help line.

Codes that only a later stage can raise (compile, emulator, up) name the test that
triggers them in TESTED_ELSEWHERE; this file checks that test exists and names the code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowc.compiler.codes import CODES
from flowc.compiler.pipeline import load, load_text

T = 'task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n'
S = 'service s {\n  image = "ghcr.io/acme/api:1"\n  port = 8000\n'  # a service, unclosed

# code -> (source, --env). Each must report that code (others may come too).
EXAMPLES: dict[str, tuple[str, str | None]] = {
    "E001": ("app x\n$\n", None),
    "E002": ('task t {\n  description = "no end\n}\n', None),
    "E003": (T + '  description = "bad \\q"\n}\n', None),
    "E004": ("task t {\n", None),
    "E005": ("task t { python = }\n", None),
    "E006": ("x = " + "[" * 100 + "]" * 100 + "\n", None),
    "E101": ("task Daily {}\n", None),
    "E102": (T + "  memroy = 1GB\n}\n", None),
    "E103": (T + "  memory = 1GB\n  memory = 2GB\n}\n", None),
    "E104": ("secret a\nsecret a\n" + T + "  env { A = secret.a }\n}\n", None),
    "E105": (T + '  image = "busybox"\n}\n', None),
    "E106": ('task t { schedule = "daily" }\n', None),
    "E107": ('task t {\n  python = "jobs.main"\n  schedule = "daily"\n}\n', None),
    "E108": (T + '  command = ["x"]\n}\n', None),
    "E109": (T + '  memory = "1GB"\n}\n', None),
    "E110": (T + "  memory = 0MB\n}\n", None),
    "E111": (T + "  timeout = 500ms\n}\n", None),
    "E112": (T + "  retries = -1\n}\n", None),
    "E113": (T + '  timezone = "Europe/Berln"\n}\n', None),
    "E114": (T + "  env { A = secret.nope }\n}\n", None),
    "E115": (T + "  targets = [azure]\n}\n", None),
    "E140": (T + "  overlap = queue\n}\n", None),
    "E141": (T + "  input = { when = 5m }\n}\n", None),
    "E142": (T + '  from = "2027-13-01"\n}\n', None),
    "E143": (T + '  python_version = "3.8"\n}\n', None),
    "E144": (T + "  jitter = 2d\n}\n", None),
    "E116": (T + "  on_failure = retry\n}\n", None),
    "E117": (T + '  alert latency > 1 notify "a@b.co"\n}\n', None),
    "E118": (T + '  alert errors > 0 notify "ops"\n}\n', None),
    "E119": (T + '  requirements = "missing.txt"\n}\n', None),
    "E120": (T + "}\n", "prod"),
    "E121": ("memory = 1GB\n" + T + "}\n", None),
    "E122": (T + "}\nenvironment prod { backend s3 { bucket = \"b\" } }\n", None),
    "E123": ('task t { python = "jobs.main:main" }\n', None),
    "E124": (T.replace('"daily"', "42") + "}\n", None),
    "E125": (T + "  env { A = var.x }\n}\n", None),
    "E126": ("task { }\n", None),
    "W101": ("secret unused\n" + T + "}\n", None),
    "W102": ("app x\n", None),
    "W103": ('task t {\n  python = "nowhere.mod:main"\n  schedule = "daily"\n}\n', None),
    "E127": ('task t {\n  python = "code.ok:main"\n  schedule = "daily"\n}\n', None),
    "W104": (T + "}\n", None),  # the example's jobs/ has no __init__.py
    "E130": (S + "  replicas = 10..3\n}\n", None),
    "E131": (S + "  replicas = 1..3\n  scale_on = disk 50%\n}\n", None),
    "E132": ('service s {\n  image = "x:1"\n  health = "/health"\n}\n', None),
    "E133": ('service s {\n  image = "x:1"\n  public = true\n}\n', None),
    "E134": (S + "  release { strategy = big_bang }\n}\n", None),
    "W130": (S + "  replicas = 3\n  scale_on = cpu 70%\n}\n", None),
    "E230": ('service s {\n  python = "jobs.main:main"\n  targets = [aws]\n}\n', None),
    "W230": (S + "  targets = [k8s]\n  release { strategy = blue_green }\n}\n", None),
    "W302": ('task t {\n  python = "jobs.main:main"\n  schedule = at("2020-01-01T00:00")\n'
             '  targets = [aws]\n}\n',
             None),
    "E201": (T + "  timeout = 20m\n}\n", None),
    "E202": (T + "  memory = 20GB\n  targets = [aws]\n}\n", None),
    "E203": (T + "  retries = 3\n  targets = [aws]\n}\n", None),
    "W201": (T + "  cpu = 2\n  targets = [aws]\n}\n", None),
    "E701": ("release { canary = 10% }\n" + T + "}\n", None),
    "E702": (T + "  targets = [aws]\n  release { canary = 100% }\n}\n", None),
    "E703": (T + "  release { for = 30m }\n}\n", None),
    "E704": (T + '  release { alias = "12" }\n}\n', None),
    "E705": (T + "  layers = [shraed]\n}\n", None),
    "E706": ("layer shared {}\n" + T + "}\n", None),
    "E707": ('layer l { requirements = "jobs/main.py" }\ntask t {\n  image = "busybox"\n'
             '  schedule = "daily"\n  layers = [l]\n}\n', None),
}

# Codes raised outside `flowc check` (or by files rather than text): code -> test file.
TESTED_ELSEWHERE: dict[str, str] = {
    "E007": "tests/test_diagnostics.py",
    "E008": "tests/test_diagnostics.py",
    "E009": "tests/test_diagnostics.py",
}


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_example_triggers_its_code(code, tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    pass\n")
    (tmp_path / "app.flow").write_text(EXAMPLES[code][0])
    result = load(tmp_path / "app.flow", EXAMPLES[code][1])
    found = [d for d in result.diagnostics if d.code == code]
    assert found, f"{code} not reported; got {[(d.code, d.message) for d in result.diagnostics]}"
    d = found[0]
    assert d.span is not None and d.span.line >= 1 and d.span.column >= 1
    assert d.help, f"{code} has no help line"
    assert result.ok == (not code.startswith("E"))


def test_every_catalogued_code_has_a_test():
    root = Path(__file__).parent
    untested = []
    for code in CODES:
        if code in EXAMPLES:
            continue
        where = TESTED_ELSEWHERE.get(code)
        files = [root.parent / where] if where else list(root.glob("test_*.py"))
        if not any(f.is_file() and f'"{code}"' in f.read_text() for f in files
                   if f.name != "test_codes.py"):
            untested.append(code)
    assert not untested, f"codes without a test that names them: {untested}"


def test_codes_are_well_formed():
    for code, summary in CODES.items():
        assert len(code) == 4 and code[0] in "EW" and code[1:].isdigit(), code
        assert summary


def test_several_errors_are_reported_in_one_run():
    text = (T + "  memroy = 1GB\n  timezone = \"Mars/Base\"\n  targets = [aws, azur]\n}\n")
    result = load_text(text, "app.flow")
    assert {"E102", "E113", "E115"} <= {d.code for d in result.diagnostics}


def test_no_code_is_declared_twice():
    """A dict literal keeps the last of two equal keys silently: read the source instead."""
    import ast

    source = Path(__file__).resolve().parents[1] / "flowc" / "compiler" / "codes.py"
    keys = [k.value for node in ast.walk(ast.parse(source.read_text()))
            if isinstance(node, ast.Dict)
            for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []
