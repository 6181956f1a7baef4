"""Shared fixtures: a temporary spec directory and a helper to check source text."""

from __future__ import annotations

import contextlib
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


# Every process the suite starts inherits this marker (servers that detach, warm clouds,
# supervisors, dockerd): at the end the session stops, by pid, whatever still carries it.
SESSION_MARKER = "FLOWC_TEST_SESSION"


def pytest_sessionstart(session):
    import os
    import uuid

    os.environ[SESSION_MARKER] = f"{os.getpid()}-{uuid.uuid4().hex}"


def _processes_of_this_session() -> list[int]:
    import os

    needle = f"{SESSION_MARKER}={os.environ.get(SESSION_MARKER, '?')}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone, or not ours to read
            continue
    return found


def pytest_sessionfinish(session, exitstatus):
    """Stop what the tests left running (SIGTERM, then SIGKILL) and say what it was."""
    import os
    import signal
    import time

    config = session.config
    if not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        return  # the xdist controller: its children are the workers, which sweep their own
    left = _processes_of_this_session()
    if not left:
        return
    names = {}
    for pid in left:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                names[pid] = fh.read().replace(b"\0", b" ").decode(errors="replace")[:120]
        except OSError:
            continue
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _processes_of_this_session():
        time.sleep(0.2)
    for pid in _processes_of_this_session():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and names:
        reporter.ensure_newline()
        reporter.write_line(f"stopped {len(names)} process(es) the tests left running:")
        for pid, cmd in sorted(names.items()):
            reporter.write_line(f"  {pid} {cmd}")


# The suite runs on two pytest-xdist workers (make test). Tests that use the real Docker
# engine or LocalStack all go to one worker, so the session starts one of each.
COMPONENT_FIXTURES = frozenset({"dockerd", "busybox_image", "python_image", "docker_host",
                                "localstack", "localstack_host"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if COMPONENT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("components"))


def pytest_configure(config):
    """xdist's workers inherit COLUMNS=80 from execnet; drop it so the CLI sees the same
    terminal (none) as in a plain run, where rich and shutil use their own defaults."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER") and not os.isatty(1):
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
