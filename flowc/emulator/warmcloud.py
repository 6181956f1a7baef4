"""A warm embedded AWS server shared by the `flowc dev` and `flowc run` of one state
directory (instant start).

Starting moto costs a command 1-2 s (importing moto and boto3, first requests). So the
first command starts a detached moto server (`python -m flowc.emulator.warmcloud`) and
the later ones with the same `--state` reuse it; none waits for it unless it needs it
(a secret, a dead letter, an alert), and then only until it answers. One server per
state directory keeps projects apart (two apps of the same name do not share queues).

Where: `<state>/cloud/` (or `$FLOWC_CLOUD_DIR`): `server.json` (pid, port, endpoint),
`server.log`, a lock file serialising starts, and `clients/<pid>`, one lease per
session using it.

How it stops: by itself, once no session holding a lease is alive and it has served no
request for `FLOWC_CLOUD_IDLE` seconds (default 900); or `kill <pid>` (the pid is in
server.json). Its queues and secrets live as long as it does, so dead letters of one
command can be read by the next. `FLOWC_WARM_CLOUD=0` restores a per-command server.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flowc.deploy.localcloud import (
    HOST,
    answers_moto,
    file_lock,
    free_port,
    is_running,
    terminate,
)

RECORD = "server.json"
LOG = "server.log"
LOCK = "server.lock"
CLIENTS = "clients"
DEFAULT_IDLE_S = 900.0
READY_TIMEOUT_S = 60.0
_WATCH_S = 5.0


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return environ.get("FLOWC_WARM_CLOUD", "1") not in ("0", "false", "no")


def home(state_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("FLOWC_CLOUD_DIR") or Path(state_dir) / "cloud")


@dataclass(frozen=True)
class WarmServer:
    """A handle on the shared server; `wait()` blocks until it answers."""

    endpoint: str
    pid: int
    directory: Path

    def wait(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not answers_moto(self.endpoint, timeout=1.0):
            if not is_running(self.pid):
                raise RuntimeError(f"the embedded AWS server (pid {self.pid}) exited; see "
                                   f"{self.directory / LOG}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the embedded AWS server did not answer at {self.endpoint} "
                                   f"within {timeout:.0f}s; see {self.directory / LOG}")
            time.sleep(0.05)

    def lease(self) -> Path:
        """Keep the server alive while this process runs (released by `release`)."""
        path = self.directory / CLIENTS / str(os.getpid())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(self.pid))
        return path

    def release(self) -> None:
        (self.directory / CLIENTS / str(os.getpid())).unlink(missing_ok=True)


def ensure(state_dir: Path, environ: Mapping[str, str] | None = None) -> WarmServer:
    """The running server, or a new one being started (not waited for), leased to this
    process: under the lock, so a server deciding it is idle cannot stop under it."""
    directory = home(state_dir, environ)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        server = _recorded(directory)
        if server is None or not _is_ours(server.pid):
            server = _launch(directory, environ)
        server.lease()
        return server


def _launch(directory: Path, environ: Mapping[str, str] | None) -> WarmServer:
    """Start a server on a free port and record it (under the lock)."""
    port = free_port()
    log = open(directory / LOG, "ab")  # noqa: SIM115 - handed to the child
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowc.emulator.warmcloud", str(port), str(directory)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=dict(environ or os.environ),
        )  # fmt: skip
    finally:
        log.close()
    server = WarmServer(f"http://{HOST}:{port}", process.pid, directory)
    tmp = directory / (RECORD + ".tmp")
    tmp.write_text(json.dumps({"pid": server.pid, "port": port,
                               "endpoint": server.endpoint}) + "\n")
    os.replace(tmp, directory / RECORD)
    return server


def stop(directory: Path) -> bool:
    """Stop the server recorded in `directory` now (True if one was running)."""
    directory = Path(directory)
    current = _recorded(directory)
    if current is None or not _is_ours(current.pid):
        return False
    terminate(current.pid)
    (directory / RECORD).unlink(missing_ok=True)
    return True


def _recorded(directory: Path) -> WarmServer | None:
    try:
        data = json.loads((directory / RECORD).read_text())
        return WarmServer(str(data["endpoint"]), int(data["pid"]), directory)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_ours(pid: int) -> bool:
    """Whether `pid` is a running warm server (a recycled pid is not)."""
    if not is_running(pid):
        return False
    try:
        return b"flowc.emulator.warmcloud" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the record


def _locked(directory: Path) -> contextlib.AbstractContextManager[None]:
    return file_lock(directory / LOCK)


# -- the server process ----------------------------------------------------------------


def _clients_alive(directory: Path) -> bool:
    alive = False
    for lease in (directory / CLIENTS).glob("*"):
        try:
            if is_running(int(lease.name)):
                alive = True
                continue
        except ValueError:
            pass
        lease.unlink(missing_ok=True)  # a session that ended without releasing
    return alive


def serve(port: int, directory: Path, idle_s: float) -> None:
    """Run moto on `port` until idle: no live lease and no request for `idle_s` seconds."""
    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    backend = DomainDispatcherApplication(create_backend_app)
    last = [time.monotonic()]

    def app(environ, start_response):
        last[0] = time.monotonic()
        return backend(environ, start_response)

    server = make_server(HOST, port, app, True, request_handler=MotoRequestHandler)

    def watch() -> None:
        while True:
            time.sleep(min(_WATCH_S, idle_s))
            with _locked(directory):  # the same lock `ensure` leases under
                if _clients_alive(directory) or time.monotonic() - last[0] <= idle_s:
                    continue
                _forget(directory)  # from here on, a newcomer starts a new server
            server.shutdown()
            return

    threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever()
    finally:
        with _locked(directory):
            _forget(directory)


def _forget(directory: Path) -> None:
    """Remove the record if it is this process's."""
    current = _recorded(directory)
    if current is not None and current.pid == os.getpid():
        (directory / RECORD).unlink(missing_ok=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]), Path(sys.argv[2]),
          float(os.environ.get("FLOWC_CLOUD_IDLE") or DEFAULT_IDLE_S))
