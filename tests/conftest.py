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


@pytest.fixture(scope="session", autouse=True)
def warm_cloud_idle():
    """The warm embedded AWS servers the tests' state directories get (one each, see
    flowc/emulator/warmcloud.py) stop 3 s after their last command, not 15 minutes."""
    import os

    previous = os.environ.get("FLOWC_CLOUD_IDLE")
    os.environ["FLOWC_CLOUD_IDLE"] = "3"
    yield
    if previous is None:
        os.environ.pop("FLOWC_CLOUD_IDLE", None)
    else:
        os.environ["FLOWC_CLOUD_IDLE"] = previous


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Nothing on the default path skips: a component that is missing (terraform, the
    provider mirror, checkov, systemd-analyze, a mount) fails its tests with the reason."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"a skip on the default path is a failure: {reason}"
