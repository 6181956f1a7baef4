"""The local cloud `flowc up` applies to: LocalStack when one answers, else an embedded moto
server that flowc starts detached, so it outlives the command that started it.

`ensure(root)` returns the cloud recorded in `root/cloud.json` when it still answers, else
LocalStack (health check at `LOCALSTACK_HOST`, default 127.0.0.1:4566, shared with the
emulator), else starts moto's server (`python -m flowc.deploy.moto_server`: moto plus
the few APIs it lacks for flowc's output) on a loopback port (the recorded one when
free) in its own session with its log in `root/moto.log`, and records kind, endpoint,
pid and port. `stop(root)` stops that server (only a process that is really the recorded
moto server) and forgets the record. A lock file serialises concurrent `up`s.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from flowc.diagnostics import Diagnostic, DiagnosticError

CLOUD_FILE = "cloud.json"
LOG_FILE = "moto.log"
LOCK_FILE = "cloud.lock"
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
SERVER_MODULE = "flowc.deploy.moto_server"

# Runs the server in a new session and exits at once: the server is never a child of
# flowc (no zombie, no "still running" warning), and it survives the terminal closing.
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "log = open(sys.argv[1], 'wb')\n"
    "p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log,\n"
    "                     stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)\n"
    "print(p.pid, flush=True)\n"
    "os._exit(0)\n"
)


@dataclass
class LocalCloud:
    kind: str  # "moto" | "localstack"
    endpoint: str
    pid: int | None = None
    port: int | None = None
    started: bool = False  # started by this call (not recorded in cloud.json)

    @property
    def description(self) -> str:
        if self.kind == "moto":
            return f"embedded AWS emulator (moto, pid {self.pid}) at {self.endpoint}"
        return f"LocalStack at {self.endpoint}"

    def record(self) -> dict:
        data = asdict(self)
        data.pop("started")
        return data


class LocalCloudError(DiagnosticError):
    """No local cloud could be found or started; carries the diagnostic."""


def recorded(root: Path) -> LocalCloud | None:
    """The cloud recorded under `root`, or None (no record, or an unreadable one)."""
    try:
        data = json.loads((Path(root) / CLOUD_FILE).read_text())
        return LocalCloud(data["kind"], data["endpoint"], data.get("pid"), data.get("port"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure(root: Path, environ: Mapping[str, str] | None = None,
           python: str = sys.executable) -> LocalCloud:
    """The local cloud to apply to: the recorded one if alive, LocalStack, or a new moto."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        rec = recorded(root)
        if rec is not None and alive(rec):
            return rec
        url = localstack_endpoint(environ)
        if url:
            cloud = LocalCloud("localstack", url)
        else:
            preferred = rec.port if rec is not None and rec.kind == "moto" else None
            cloud = _start_with_retries(root, preferred, python)
        _write_record(root, cloud)
        return cloud


def start_moto(root: Path, port: int | None = None, python: str = sys.executable,
               timeout: float = START_TIMEOUT_S) -> LocalCloud:
    """Start a detached moto server on `port` (a free one if None); E601 when it fails."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    endpoint = f"http://{HOST}:{port}"
    log = root / LOG_FILE
    cmd = [python, "-m", SERVER_MODULE, "-H", HOST, "-p", str(port)]
    try:
        launched = subprocess.run([python, "-c", _LAUNCHER, str(log), *cmd],
                                  capture_output=True, text=True, timeout=timeout)
        pid = int(launched.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise LocalCloudError(_start_error(f"could not launch it: {exc}", log)) from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers_moto(endpoint):
            return LocalCloud("moto", endpoint, pid, port, started=True)
        if not is_running(pid):
            raise LocalCloudError(_start_error(f"it exited on port {port}", log))
        time.sleep(0.2)
    terminate(pid)
    raise LocalCloudError(_start_error(f"it did not answer within {timeout:.0f}s", log))


def stop(root: Path) -> LocalCloud | None:
    """Stop the recorded moto server (if it runs) and forget the record; returns it."""
    root = Path(root)
    with _locked(root):
        rec = recorded(root)
        if rec is not None and rec.kind == "moto" and rec.pid and _is_moto(rec.pid):
            terminate(rec.pid)
        (root / CLOUD_FILE).unlink(missing_ok=True)
        return rec


def forget(root: Path) -> None:
    """Drop the record without stopping anything (e.g. LocalStack is not ours to stop)."""
    (Path(root) / CLOUD_FILE).unlink(missing_ok=True)


# -- processes and probes --------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def answers_moto(endpoint: str, timeout: float = 1.0) -> bool:
    """True when a moto server answers at `endpoint` (its dashboard, which LocalStack lacks)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=timeout) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an exited process nobody reaped is not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        if Path("/proc/self").exists():
            return False
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _is_moto(pid: int) -> bool:
    """Whether `pid` is a running moto server (a recycled pid is left alone)."""
    if not is_running(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return True  # no /proc: trust the record
    return b"moto" in cmdline


def terminate(pid: int, grace: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our child
            if not is_running(pid):
                return
            time.sleep(0.05)


def alive(cloud: LocalCloud) -> bool:
    """Whether a recorded cloud still answers (a moto record: its own process too)."""
    if cloud.kind == "moto":
        return bool(cloud.pid) and _is_moto(cloud.pid) and answers_moto(cloud.endpoint)
    try:
        with urllib.request.urlopen(f"{cloud.endpoint}/_localstack/health", timeout=1) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _start_with_retries(root: Path, preferred: int | None, python: str) -> LocalCloud:
    ports = [preferred, None, None] if preferred else [None, None]
    error: LocalCloudError | None = None
    for port in ports:
        try:
            return start_moto(root, port, python)
        except LocalCloudError as exc:  # e.g. the port was taken meanwhile
            error = exc
    assert error is not None
    raise error


def _write_record(root: Path, cloud: LocalCloud) -> None:
    tmp = root / (CLOUD_FILE + ".tmp")
    tmp.write_text(json.dumps(cloud.record(), indent=2) + "\n")
    os.replace(tmp, root / CLOUD_FILE)


def _start_error(reason: str, log: Path) -> Diagnostic:
    try:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    except OSError:
        tail = []
    return Diagnostic(
        "E601", f"the embedded AWS emulator (moto) could not be started: {reason}",
        None, f"see {log}; or start LocalStack and set LOCALSTACK_HOST (default "
              "127.0.0.1:4566)",
        tuple(f"moto: {line}" for line in tail),
    )


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (created with its directory) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _locked(root: Path) -> contextlib.AbstractContextManager[None]:
    return file_lock(root / LOCK_FILE)


DEFAULT_LOCALSTACK = "127.0.0.1:4566"


def parse_localstack_host(given: str) -> tuple[str, int]:
    """`host[:port]` as localstack-client reads LOCALSTACK_HOST (default port 4566).

    Its own parser lives in a module that imports boto3 (half a second at start-up),
    which a `flowc run` that needs no AWS call must not pay."""
    hostname, _, port = given.partition(":")
    if not port:
        return hostname.strip() or "localhost", 4566
    try:
        return hostname.strip() or "localhost", int(port)
    except ValueError:
        raise ValueError(f"could not parse {given} into <hostname>:<port>") from None


# A closed port refuses at once, so waiting longer costs nothing when no LocalStack runs;
# a LocalStack busy on a loaded machine can take over a second to answer its health check.
LOCALSTACK_PROBE_TIMEOUT_S = 3.0


def localstack_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    """The LocalStack edge URL if one answers its health check, else None."""
    environ = os.environ if environ is None else environ
    hostname, port = parse_localstack_host(environ.get("LOCALSTACK_HOST") or DEFAULT_LOCALSTACK)
    scheme = "https" if environ.get("USE_SSL") in ("1", "true") else "http"
    url = f"{scheme}://{hostname}:{port}"
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health",
                                    timeout=LOCALSTACK_PROBE_TIMEOUT_S) as response:
            json.load(response)
            return url if response.status == 200 else None
    except (OSError, ValueError):
        return None
