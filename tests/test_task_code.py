"""Per-task packages (issue 16): a python task ships the modules its handler imports
(statically, transitively, within the code directory) and what its `include` names, so
editing one task's module changes only that task's archive and code hash."""

from __future__ import annotations

from pathlib import Path

from flowc.compiler.pipeline import load
from flowc.releases.hashing import code_hash
from flowc.targets.base import Stack
from flowc.targets.sources import task_sources
from flowc.targets.task_code import needed_files

CODE = {
    "jobs/__init__.py": "",
    "jobs/report.py": "import json\nfrom jobs import shared\nfrom .fmt import money\n\n"
                      "def main():\n    return money(shared.total())\n",
    "jobs/cleanup.py": "def main():\n    try:\n        import jobs.lazy\n    except ImportError:\n"
                       "        pass\n",
    "jobs/shared.py": "def total():\n    return 1\n",
    "jobs/fmt.py": "def money(x):\n    return f'{x} EUR'\n",
    "jobs/lazy.py": "X = 1\n",
    "data/rates.json": "{}",
    "notes.txt": "not shipped unless included",
}
SPEC = """\
app shop

task report {
  python   = "jobs.report:main"
  schedule = "daily"
  include  = ["data/*.json"]
}

task cleanup {
  python   = "jobs.cleanup:main"
  schedule = "daily"
}
"""


def project(tmp_path: Path, spec: str = SPEC):
    for name, text in CODE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "app.flow").write_text(spec)
    result = load(tmp_path / "app.flow")
    assert result.ok, result.diagnostics
    return result.app


def test_a_task_ships_what_its_handler_imports_and_includes():
    files = {name: text.encode() for name, text in CODE.items()}
    assert needed_files(files, "jobs.report", ["data/*.json"]) == {
        "jobs/__init__.py", "jobs/report.py", "jobs/shared.py", "jobs/fmt.py",
        "data/rates.json"}
    # an import inside a function and a `try` counts too
    assert needed_files(files, "jobs.cleanup") == {"jobs/__init__.py", "jobs/cleanup.py",
                                                   "jobs/lazy.py"}
    assert needed_files(files, "generated.module") is None  # not found: ship everything


def test_editing_one_tasks_module_changes_only_that_tasks_archive_and_hash(tmp_path):
    app = project(tmp_path)
    report, cleanup = app.task("report"), app.task("cleanup")

    def snapshot():
        stack = Stack("aws", app, tmp_path / "out" / "aws")
        names = {t.name: stack.code_asset(t).filename for t in (report, cleanup)}
        return names, {t.name: code_hash(app, t) for t in (report, cleanup)}

    assets, hashes = snapshot()
    assert assets["report"] != assets["cleanup"]
    (tmp_path / "jobs" / "fmt.py").write_text("def money(x):\n    return f'{x} USD'\n")
    after_assets, after_hashes = snapshot()
    assert after_assets["cleanup"] == assets["cleanup"]
    assert after_hashes["cleanup"] == hashes["cleanup"]
    assert after_assets["report"] != assets["report"]
    assert after_hashes["report"] != hashes["report"]
    # a shared package file changes every task that imports it
    (tmp_path / "jobs" / "__init__.py").write_text("VERSION = 2\n")
    last_assets, _ = snapshot()
    assert all(last_assets[t] != after_assets[t] for t in ("report", "cleanup"))


def test_gcp_and_kubernetes_sources_are_the_same_selection(tmp_path):
    app = project(tmp_path)
    shipped = task_sources(app, app.task("cleanup"), [], "requirements.txt")
    assert set(shipped) == {"jobs/__init__.py", "jobs/cleanup.py", "jobs/lazy.py"}


def test_include_that_matches_nothing_is_E409_and_on_an_image_task_E139(tmp_path):
    bad = SPEC.replace('["data/*.json"]', '["data/*.csv"]')
    for name, text in CODE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "app.flow").write_text(bad)
    from flowc.targets.rules import target_rules

    app = load(tmp_path / "app.flow").app
    [e409] = [d for d in target_rules(app)[""] if d.code == "E409"]
    assert "`data/*.csv`" in e409.message and e409.help
    image = 'task box {\n  image = "busybox:1.36"\n  schedule = "daily"\n  include = ["x"]\n}\n'
    (tmp_path / "app.flow").write_text(image)
    assert "E139" in [d.code for d in load(tmp_path / "app.flow").diagnostics]
