"""`flowc check` fails exactly when `flowc compile` (all targets) fails, over the corpus of
test specs: the shipped examples, every code example of tests/test_codes.py, and specs
made to trip each target rule (subnets, env names and sizes, ConfigMap size, symlinks).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowc.cli import app
from tests.conftest import EXAMPLES
from tests.test_codes import EXAMPLES as CODE_EXAMPLES

PY = 'task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n'
IMG = 'task t {\n  image = "busybox:1.36"\n  schedule = "daily"\n'
SUBNETS = 'environment prod {\n  aws { subnets = ["subnet-0abc"] }\n}\n'

MADE: dict[str, tuple[str, str | None]] = {
    "minimal-python": (PY + "}\n", None),
    "minimal-image-no-subnets": (IMG + "}\n", None),
    "minimal-image": (IMG + "}\n" + SUBNETS, "prod"),
    "image-gcp-k8s": (IMG + "  targets = [gcp, k8s]\n}\n", None),
    "image-small-memory": (IMG + "  memory = 256MB\n}\n" + SUBNETS, "prod"),
    "flowc-env": (PY + '  env { FLOWC_ENTRYPOINT = "x:y" }\n}\n', None),
    "lambda-reserved": (PY + '  env { AWS_REGION = "x" }\n}\n', None),
    "gcp-reserved": (PY + '  env { PORT = "8080" }\n}\n', None),
    "gcp-reserved-elsewhere": (PY + '  env { PORT = "8080" }\n  targets = [aws, k8s]\n}\n', None),
    "k8s-duplicate": (PY + '  env { HOME = "/x" }\n  targets = [k8s]\n}\n', None),
    "lambda-4kb": (PY + '  env { A = "' + "x" * 5000 + '" }\n}\n', None),
    "lambda-4kb-elsewhere": (PY + '  env { A = "' + "x" * 5000 + '" }\n  targets = [gcp]\n}\n',
                             None),
    "nul": (PY + '  env { A = "\\u0000" }\n}\n', None),
    "past-at": (PY.replace('"daily"', 'at("2020-01-01T00:00")') + "  targets = [aws]\n}\n",
                None),
    "dst": ('defaults { timezone = "Europe/Berlin" }\n' + PY.replace('"daily"', '"*-*-* 02:30"')
            + "}\n", None),
}


def _corpus() -> list[tuple[str, str, str | None]]:
    cases = [(f"examples/{p.name}", p.read_text(), None) for p in sorted(EXAMPLES.glob("*.flow"))]
    cases += [(f"examples/{p.name}@prod", p.read_text(), "prod")
              for p in sorted(EXAMPLES.glob("*.flow"))]
    cases += [(f"codes/{code}", text, env) for code, (text, env) in sorted(CODE_EXAMPLES.items())]
    cases += [(f"made/{name}", text, env) for name, (text, env) in MADE.items()]
    return cases


def _project(base: Path, text: str, name: str) -> Path:
    (base / "jobs").mkdir(parents=True, exist_ok=True)
    (base / "jobs" / "__init__.py").write_text("")
    (base / "jobs" / "main.py").write_text("def main():\n    pass\n")
    for module in ("daily", "digest"):  # what examples/reports.flow names
        (base / "jobs" / f"{module}.py").write_text("def main():\n    pass\n")
    if name == "made/k8s-too-large":
        (base / "blob.txt").write_text("x" * (1024 * 1024 + 1))
    if name == "made/symlink-out":
        os.symlink("/etc/hostname", base / "jobs" / "leak")
    (base / "app.flow").write_text(text)
    return base / "app.flow"


CORPUS = _corpus() + [("made/k8s-too-large", PY + "  targets = [k8s]\n}\n", None),
                      ("made/symlink-out", PY + "}\n", None)]


@pytest.mark.parametrize("name, text, env", CORPUS, ids=[c[0] for c in CORPUS])
def test_check_fails_exactly_when_compile_fails(tmp_path, name, text, env):
    spec = _project(tmp_path, text, name)
    env_args = ["--env", env] if env else []
    check = CliRunner().invoke(app, ["check", str(spec), *env_args])
    compiled = CliRunner().invoke(app, ["compile", str(spec), *env_args, "--out",
                                        str(tmp_path / "out"), "--state", str(tmp_path / "st")])
    assert check.exception is None or isinstance(check.exception, SystemExit)
    assert compiled.exception is None or isinstance(compiled.exception, SystemExit)
    assert (check.exit_code != 0) == (compiled.exit_code != 0), (
        f"check exit {check.exit_code}, compile exit {compiled.exit_code}\n"
        f"--- check\n{check.output}\n--- compile\n{compiled.output}")
    if compiled.exit_code != 0:  # the same errors, by code
        codes = {line.split("[", 1)[1].split("]", 1)[0] for line in compiled.output.splitlines()
                 if "error[" in line}
        assert all(f"error[{c}]" in check.output for c in codes), (check.output, codes)
