"""Session fixtures for the real components: a private dockerd, LocalStack, offline images.

Each component starts once per pytest session, on first use, and is stopped by pid at
the end. One that cannot be installed or started fails every test that needs it with
the reason (pytest caches a session fixture's error); nothing is skipped.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import components  # noqa: E402  (scripts/components.py, shared with `make demo`)

from flowc.deploy.localcloud import free_port  # noqa: E402

BUSYBOX = components.BUSYBOX_IMAGE
PYTHON = components.PYTHON_IMAGE


@pytest.fixture(scope="session")
def dockerd():
    """A private dockerd (own root, socket and pidfile); its `host` is a DOCKER_HOST value."""
    base = Path(tempfile.mkdtemp(prefix="fdk-", dir="/tmp"))  # a unix socket path is short
    try:
        engine = components.Dockerd(base).start()
    except components.ComponentError as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"Docker is needed here and could not be started: {exc}", pytrace=False)
    yield engine
    engine.remove()


def offline_image(dockerd, build, name: str) -> str:
    """Build (or take from the cache) a rootfs tarball and import it into `dockerd`."""
    try:
        dockerd.import_image(build(), name)
    except components.ComponentError as exc:
        pytest.fail(f"the offline image {name} could not be built: {exc}", pytrace=False)
    return name


@pytest.fixture(scope="session")
def busybox_image(dockerd) -> str:
    """The offline busybox image (Debian's busybox-static), imported into `dockerd`."""
    return offline_image(dockerd, components.busybox_rootfs, BUSYBOX)


@pytest.fixture(scope="session")
def python_image(dockerd) -> str:
    """The offline python image (debootstrap minbase + python3), in `dockerd`."""
    return offline_image(dockerd, components.python_rootfs, PYTHON)


@pytest.fixture
def docker_host(dockerd, monkeypatch) -> str:
    """Point the docker SDK (in this process and in `flowc` subprocesses) at `dockerd`."""
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    return dockerd.host


@pytest.fixture(scope="session")
def localstack():
    """A real LocalStack on a free loopback port (not 4566: other tests expect moto there)."""
    base = Path(tempfile.mkdtemp(prefix="flowc-localstack-"))
    try:
        stack = components.LocalStack(base, free_port()).start()
    except components.ComponentError as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"LocalStack is needed here and could not be started: {exc}", pytrace=False)
    yield stack
    stack.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def localstack_host(localstack, monkeypatch) -> str:
    """Make flowc (here and in subprocesses) find `localstack` as its LocalStack."""
    monkeypatch.setenv("LOCALSTACK_HOST", f"127.0.0.1:{localstack.port}")
    return localstack.url
