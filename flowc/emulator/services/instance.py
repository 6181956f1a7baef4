"""One running copy of a service: a process group (python) or a container (image).

An instance listens on its own free loopback port (`backend_port`); the proxy in front
of the service is the only thing that knows which instance is live. `on_exit` is
called once, from a watcher thread, when the instance ends by itself (a crash, or a
worker that returned); an instance stopped through `stop()` does not report.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from flowc.deploy.localcloud import free_port
from flowc.diagnostics import Diagnostic
from flowc.emulator.runners import StartError, _killpg, _normalise, _pump, _Tail, host_environment
from flowc.emulator.services.spec import ServiceSpec

SERVE = Path(__file__).with_name("serve.py")
HOST = "127.0.0.1"
PROBE_TIMEOUT_S = 1.0

ExitCallback = Callable[["Instance", int | None, str], None]  # (instance, exit code, tail)
OutputSink = Callable[[str, str, str], None]  # (service, "stdout"|"stderr", line)

_ids = itertools.count(1)


class Instance:
    """What the supervisor needs from either kind."""

    def __init__(self, spec: ServiceSpec, output: OutputSink, on_exit: ExitCallback):
        self.spec = spec
        self.id = next(_ids)
        self.output = output
        self.on_exit = on_exit
        self.backend_port = None if spec.is_worker else free_port()
        self.tail = _Tail()
        self.started = time.monotonic()
        self.exit_code: int | None = None
        self.exited = threading.Event()
        self._stopping = False

    @property
    def url(self) -> str | None:
        return None if self.backend_port is None else f"http://{HOST}:{self.backend_port}"

    def healthy(self) -> bool:
        """One readiness probe: `health` answers below 400 (any answer, with no `health`)."""
        if self.url is None:
            return not self.exited.is_set()
        try:
            with urllib.request.urlopen(
                self.url + (self.spec.health or "/"), timeout=PROBE_TIMEOUT_S
            ) as response:
                return response.status < 400
        except urllib.error.HTTPError as exc:
            return self.spec.health is None or exc.code < 400
        except OSError:
            return False

    def _ended(self, code: int | None) -> None:
        self.exit_code = code
        self.exited.set()
        if not self._stopping:
            self.on_exit(self, code, self.tail.text())

    def stop(self, grace: float) -> None:
        self._stopping = True
        self._terminate(grace)

    def _terminate(self, grace: float) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        return {"instance": self.id, "port": self.backend_port}


class ProcessInstance(Instance):
    """A python service: `serve.py` in its own process group, cwd = the code directory."""

    def __init__(self, spec: ServiceSpec, output: OutputSink, on_exit: ExitCallback):
        super().__init__(spec, output, on_exit)
        if not spec.code_dir.is_dir():
            raise StartError(Diagnostic(
                "E504", f"service `{spec.name}`: code directory {spec.code_dir} does not exist",
                spec.span, help="put the service's code next to the .flow file, or fix `code_dir`",
            ))  # fmt: skip
        env = host_environment()
        env.update(dict(spec.env))
        env["PYTHONUNBUFFERED"] = "1"
        argv = [sys.executable, str(SERVE), str(spec.code_dir), spec.python or ""]
        if self.backend_port is not None:
            env["PORT"] = str(self.backend_port)
            argv.append(str(self.backend_port))
        self.proc = subprocess.Popen(
            argv, cwd=spec.code_dir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        self.pid = self.proc.pid
        for stream, tail in (("stdout", None), ("stderr", self.tail)):
            pipe = getattr(self.proc, stream)
            threading.Thread(
                target=_pump, args=(pipe, spec.name, stream, output, tail), daemon=True
            ).start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        code = self.proc.wait()
        _killpg(self.pid, 9)  # whatever the service left behind
        self._ended(_normalise(code))

    def _terminate(self, grace: float) -> None:
        _killpg(self.pid, 15)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _killpg(self.pid, 9)
            self.proc.wait()
        self.exited.wait(timeout=5)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "pid": self.pid}


class ContainerInstance(Instance):
    """An image service in Docker, hardened as image tasks are (flowc.emulator.docker_runner).

    Two instances of one service must listen side by side during a swap, so each gets
    its own loopback port: on an engine with a bridge network the service's `port` is
    published there (PORT = the declared port); on one without (`--bridge=none`), the
    container shares the host's network and PORT is that free port, which the image's
    server must then listen on (as on Cloud Run).
    """

    def __init__(self, spec: ServiceSpec, output: OutputSink, on_exit: ExitCallback, client):
        super().__init__(spec, output, on_exit)
        from flowc.emulator.docker_runner import LABEL, hardening, owner_label

        options = hardening()
        env = dict(spec.env)
        if spec.port is not None:
            if has_bridge(client):
                options.pop("network_mode")
                options["ports"] = {f"{spec.port}/tcp": (HOST, self.backend_port)}
                env["PORT"] = str(spec.port)
            else:
                env["PORT"] = str(self.backend_port)
        self.container = client.containers.run(
            spec.image, command=list(spec.command) or None, environment=env, detach=True,
            mem_limit=f"{spec.memory_mib}m" if spec.memory_mib else None,
            nano_cpus=int(spec.cpu * 1e9) if spec.cpu else None,
            labels={"flowc.service": spec.name, LABEL: owner_label()}, **options,
        )  # fmt: skip
        threading.Thread(target=self._logs, daemon=True).start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _logs(self) -> None:
        buffer = b""
        try:
            for chunk in self.container.logs(stream=True, follow=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                _pump(lines, self.spec.name, "stdout", self.output, self.tail)
        except Exception:  # noqa: BLE001 - the container went away
            pass

    def _watch(self) -> None:
        try:
            code: int | None = int(self.container.wait()["StatusCode"])
        except Exception:  # noqa: BLE001 - engine gone: report it as an exit
            code = None
        self._ended(code)

    def _terminate(self, grace: float) -> None:
        try:
            self.container.stop(timeout=max(1, int(grace)))
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.exited.wait(timeout=5)


def has_bridge(client) -> bool:
    try:
        return bool(client.networks.list(names=["bridge"]))
    except Exception:  # noqa: BLE001 - cannot tell: assume the common case
        return True


def docker_client(spec: ServiceSpec):
    """The docker SDK client, or StartError E502 when no engine answers."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001 - any failure to reach an engine is the same
        reason = str(exc).split("\n")[0][:200]
        raise StartError(Diagnostic(
            "E502", f"service `{spec.name}` needs Docker, but no Docker engine is reachable "
            f"({reason})", spec.span,
            help="start Docker (or set DOCKER_HOST); `python = \"module:app\"` services run "
            "without it",
        )) from None  # fmt: skip
