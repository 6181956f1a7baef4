"""Shared fixtures: a temporary spec directory and a helper to check source text."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowc.compiler.pipeline import LoadResult, load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def spec(tmp_path):
    """Write a .flow file (and a python module it may name) and load it."""

    def write(text: str, env: str | None = None, name: str = "app.flow",
              modules: tuple[str, ...] = ("jobs/main.py",)) -> LoadResult:
        for module in modules:
            path = tmp_path / module
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("def main():\n    print('hi')\n")
            if path.parent != tmp_path:  # a regular package (W104 otherwise)
                (path.parent / "__init__.py").touch()
        path = tmp_path / name
        path.write_text(text)
        return load(path, env)

    write.dir = tmp_path
    return write


from tests.components_support import (  # noqa: E402,F401  (session fixtures: dockerd, LocalStack)
    busybox_image,
    docker_host,
    dockerd,
    localstack,
    localstack_host,
    python_image,
)
