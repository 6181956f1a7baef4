"""The README's quick-start commands pass on the shipped examples, as a newcomer runs them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    """The `flowc ...` lines of the README's first sh block after "Then, with"."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"Then, with.*?```sh\n(.*?)```", text, re.S)
    assert block, "README lost its quick-start block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()
            if line.startswith("flowc ")]


def test_readme_quick_start_commands_pass_on_the_examples(tmp_path):
    commands = quick_start_commands()
    assert any("fmt --check" in c for c in commands) and any("compile" in c for c in commands)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for command in commands:
        run = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 0, f"`{command}` failed:\n{run.stderr}"
