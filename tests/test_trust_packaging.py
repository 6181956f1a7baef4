"""Nothing secret or unintended ships: a secret value planted in every place flowc must not
ship (secrets files, dotenv files, event logs, state and earlier output directories,
ignored files, a symlink out of the code directory) never appears in any output file or
archive member of any target; `--out` inside the spec directory does not grow the next
archive nor record a release.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.targets.packaging import select_code_files

SECRET = "s3cr3t-value-9f1c"
SPEC = ('app trust\nsecret db\ntask job {\n  python = "jobs.main:main"\n'
        '  schedule = "daily"\n  env { DB = secret.db }\n}\n')


def _plant(base: Path) -> None:
    """A spec directory with the secret in every place that must not ship."""
    files = {
        "trust.flow": SPEC,
        "jobs/__init__.py": "",
        "jobs/main.py": "def main():\n    return 0\n",
        "jobs/keep.log": "kept: re-included by a nested negation\n",
        ".flowc-secrets": f"db = {SECRET}\n",
        "jobs/.flowc-secrets": f"db = {SECRET}\n",
        ".env": f"DB={SECRET}\n",
        "jobs/.env.local": f"DB={SECRET}\n",
        "events.jsonl": json.dumps({"event": "failed", "task": "job", "error": SECRET}) + "\n",
        "logs/run-events.txt": json.dumps({"event": "started", "note": SECRET}) + "\n",
        "mystate/history.sqlite": SECRET,
        "mystate/notes.txt": SECRET,
        "devstate/dev.lock": "",
        "devstate/logs/app/run.txt": SECRET,
        "compiled-state/releases/trust.json": json.dumps({"x": SECRET}),
        "oldout/aws/.flowc-state.json": "{}",
        "oldout/aws/assets/code.txt": SECRET,
        "prod.tfstate": SECRET,
        ".gitignore": "ignored.txt\nbuild/\n*.log\n",
        "ignored.txt": SECRET,
        "build/x.py": SECRET,
        "jobs/.gitignore": "!keep.log\ndeep.txt\n",
        "jobs/deep.txt": SECRET,
        "jobs/trace.log": SECRET,
        ".flowcignore": "fixtures/\n",
        "fixtures/data.csv": SECRET,
    }
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _leaks(root: Path) -> list[str]:
    """Every output file or archive member under `root` that holds the secret."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if SECRET.encode() in data:
            found.append(str(path))
        if path.suffix == ".zip":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                found += [f"{path}!{n}" for n in zf.namelist() if SECRET.encode() in zf.read(n)]
    return found


def test_selection_follows_gitignore_flowcignore_and_flowc_own_files(tmp_path):
    _plant(tmp_path)
    names = set(select_code_files(tmp_path).files)
    assert names == {"jobs/__init__.py", "jobs/main.py", "jobs/keep.log", ".gitignore",
                     "jobs/.gitignore", ".flowcignore"}


def test_no_secret_in_any_output_of_any_target(tmp_path):
    _plant(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["compile", str(tmp_path / "trust.flow"), "--out",
                                      str(out), "--state", str(tmp_path / "mystate")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"aws", "gcp", "k8s"}
    zips = list(out.rglob("*.zip"))
    assert len(zips) == 2  # the Lambda zip and the GCP source archive
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            assert "jobs/main.py" in zf.namelist()
    assert "jobs.main.py" in (out / "k8s" / "manifests.yaml").read_text()
    assert _leaks(out) == []


def test_symlink_out_of_the_code_directory_is_E403_at_check_and_compile(tmp_path):
    _plant(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text(SECRET)
    os.symlink(outside, tmp_path / "jobs" / "shadow")
    os.symlink(tmp_path / "jobs" / "main.py", tmp_path / "jobs" / "inside.py")
    assert select_code_files(tmp_path).files["jobs/inside.py"]
    spec = str(tmp_path / "trust.flow")
    check = CliRunner().invoke(cli, ["check", spec])
    assert check.exit_code == 1 and "E403" in check.output and "jobs/shadow" in check.output
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["compile", spec, "--out", str(out)])
    assert result.exit_code == 1 and "E403" in result.output
    assert not out.exists() or _leaks(out) == []
    (tmp_path / ".flowcignore").write_text("fixtures/\njobs/shadow\n")
    assert CliRunner().invoke(cli, ["check", spec]).exit_code == 0


@pytest.mark.parametrize("out", [".", "build-out"])
def test_out_inside_the_spec_directory_neither_grows_nor_releases(tmp_path, out):
    _plant(tmp_path)
    spec = str(tmp_path / "trust.flow")
    args = ["compile", spec, "--target", "aws", "--out", str(tmp_path / out),
            "--state", str(tmp_path / ".flowc")]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0 and "recorded" in first.output, first.output
    zips = sorted((tmp_path / out / "aws" / "assets").glob("*.zip"))
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "recorded" not in again.output, again.output
    assert sorted((tmp_path / out / "aws" / "assets").glob("*.zip")) == zips
    with zipfile.ZipFile(zips[0]) as zf:
        assert not [n for n in zf.namelist() if n.startswith(("aws/", "build-out/"))]


def test_a_fifo_or_socket_in_the_code_directory_neither_blocks_nor_ships(tmp_path):
    """Sniffing a file for an event log must not open a FIFO (open() waits for a writer)."""
    import socket
    import threading

    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    return 0\n")
    os.mkfifo(tmp_path / "jobs" / "pipe.jsonl")
    os.mkfifo(tmp_path / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "jobs" / "agent.sock"))
    found: list = []
    walker = threading.Thread(target=lambda: found.append(select_code_files(tmp_path)),
                              daemon=True)
    walker.start()
    walker.join(timeout=30)
    sock.close()
    assert found, "select_code_files blocked on a FIFO"
    assert list(found[0].files) == ["jobs/main.py"]


def test_dangling_and_looping_symlinks_neither_ship_nor_raise(tmp_path):
    """An editor's lock file (`.#main.py -> user@host`) or a link loop has no content."""
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    return 0\n")
    os.symlink("user@host.1234", tmp_path / "jobs" / ".#main.py")
    os.symlink("loop", tmp_path / "jobs" / "loop")
    os.symlink("b", tmp_path / "jobs" / "a")
    os.symlink("a", tmp_path / "jobs" / "b")
    selection = select_code_files(tmp_path)
    assert list(selection.files) == ["jobs/main.py"] and selection.refused == {}
