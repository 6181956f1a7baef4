"""Tasks in Docker containers, hardened like the Kubernetes target.

`DockerRunner` runs image tasks (and, with `flowc dev --isolate docker`, python tasks
in the Kubernetes target's `python_image` with their code mounted read-only at /code)
through the docker SDK (engine from DOCKER_HOST, else the default socket).

Every container runs as on the cluster: uid/gid 65532, read-only root filesystem with
a tmpfs at /tmp, no new privileges, all capabilities dropped, the task's memory and cpu
as limits; `--network host`, so a task reaches LocalStack or the embedded AWS server
on loopback.

- An image missing locally is a start error (E509, not retried) unless the runner was
  made with `pull=True` (`flowc dev --pull`): flowc never reaches a registry unasked.
- The timeout stops the container (SIGTERM, then SIGKILL after STOP_GRACE_S).
- An engine that goes away mid-run ends that attempt with an error (E511), so the run
  goes to its dead-letter queue; the next attempt reconnects.
- Containers carry labels naming the flowc process that owns them (`flowc.owner` =
  host:pid). `reap_leftovers()` (at session start) removes those whose owner is dead,
  e.g. after `kill -9`; `terminate_all()` removes this process's own.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from flowc.compiler.ir import ImageHandler, PythonHandler, Task
from flowc.diagnostics import Diagnostic
from flowc.emulator.runners import (
    BOOTSTRAP,
    TIMEOUT_EXIT,
    Attempt,
    AttemptResult,
    OutputSink,
    StartError,
    _normalise,
    _pump,
    _Tail,
    require_code_dir,
)
from flowc.targets.k8s import TARGET as K8S
from flowc.targets.k8s.manifests import CODE_DIR, UID
from flowc.targets.k8s.operations import k8s_python_image

STOP_GRACE_S = 2  # seconds between SIGTERM and SIGKILL when a container is stopped
TMPFS = {"/tmp": "rw,nosuid,nodev,size=256m,mode=1777"}
POOL_SIZE = 64  # > 3 connections x the executor's 16 concurrent attempts
LABEL = "flowc.owner"  # host:pid of the flowc process running the container


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def hardening() -> dict[str, Any]:
    """docker-py `containers.run` arguments matching the k8s target's security context."""
    return {
        "user": f"{UID}:{UID}",
        "read_only": True,
        "tmpfs": dict(TMPFS),
        "security_opt": ["no-new-privileges"],
        "cap_drop": ["ALL"],
        "network_mode": "host",
    }


class EngineGone(Exception):
    """The Docker engine stopped answering while an attempt was running."""


class DockerRunner:
    """Runs attempts in containers; one client per runner, reconnected after a failure."""

    def __init__(self, output: OutputSink, pull: bool = False, isolate: bool = False):
        self.output = output
        self.pull = pull
        self.isolate = isolate  # python tasks too, in the app's `k8s { python_image }`
        self.owner = owner_label()
        self._client: Any = None
        self._containers: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pulled: set[str] = set()

    def handles(self, task: Task) -> bool:
        return isinstance(task.handler, ImageHandler) or self.isolate

    # the engine ---------------------------------------------------------------------

    def _connect(self, task: Task) -> Any:
        with self._lock:
            if self._client is not None:
                return self._client
        try:
            import docker

            # each attempt holds up to 3 connections (wait + stdout + stderr streams)
            client = docker.from_env(timeout=10, max_pool_size=POOL_SIZE)
            client.ping()
        except Exception as exc:  # any failure to reach an engine is the same to the user
            reason = str(exc).split("\n")[0][:200]
            raise StartError(
                Diagnostic(
                    "E502",
                    f"task `{task.name}` needs Docker, but no Docker engine is reachable "
                    f"({reason})",
                    task.span,
                    help="start Docker (or set DOCKER_HOST); python tasks run without it",
                )
            ) from None
        with self._lock:
            self._client = client
        return client

    def _forget_engine(self) -> None:
        with self._lock:
            self._client = None

    def _alive(self, client: Any) -> bool:
        try:
            client.ping()
            return True
        except Exception:
            return False

    def reap_leftovers(self) -> int:
        """Remove containers of flowc processes on this host that are gone; returns how many."""
        try:
            import docker

            client = docker.from_env(timeout=5)
            containers = client.containers.list(all=True, filters={"label": LABEL})
        except Exception:  # no engine: nothing can be left in it
            return 0
        host = socket.gethostname()
        reaped = 0
        for container in containers:
            owner_host, _, pid = container.labels.get(LABEL, "").rpartition(":")
            if owner_host != host or not pid.isdigit() or _pid_alive(int(pid)):
                continue
            try:
                container.remove(force=True)
                reaped += 1
            except Exception:
                pass
        client.close()
        return reaped

    # images -------------------------------------------------------------------------

    def _ensure_image(self, client: Any, task: Task, image: str) -> None:
        import docker

        try:
            client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        source = ("`k8s { python_image }` (--isolate docker)"
                  if isinstance(task.handler, PythonHandler) else "the task's `image`")
        if not self.pull:
            raise StartError(
                Diagnostic(
                    "E509",
                    f"task `{task.name}`: image `{image}` is not present in the local Docker "
                    "engine, and flowc does not pull unless asked",
                    task.span,
                    help=f"run `docker pull {image}` (or build it: `docker build -t {image} .`), "
                    f"or start flowc with --pull; the name comes from {source}",
                )
            )
        try:
            client.images.pull(image)
        except docker.errors.APIError as exc:
            raise StartError(
                Diagnostic(
                    "E510",
                    f"task `{task.name}`: `docker pull {image}` failed: "
                    f"{exc.explanation or exc}",
                    task.span,
                    help="check the image name and that the registry is reachable, or build "
                    f"it locally with `docker build -t {image} .`",
                )
            ) from None

    # one attempt --------------------------------------------------------------------

    def _container_args(self, attempt: Attempt) -> dict[str, Any]:
        task = attempt.task
        handler = task.handler
        env = dict(attempt.env)
        args: dict[str, Any] = {}
        if isinstance(handler, PythonHandler):
            env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", HOME="/tmp",
                       FLOWC_DEADLINE=str(time.time() + task.timeout_s))  # fmt: skip
            args.update(
                image=k8s_python_image(K8S.settings_of(attempt.app).python_image,
                                       attempt.task),
                command=["python3", "-c", BOOTSTRAP, CODE_DIR, handler.module, handler.function],
                volumes={str(attempt.code_dir): {"bind": CODE_DIR, "mode": "ro"}},
                working_dir=CODE_DIR,
            )
        else:
            assert isinstance(handler, ImageHandler)
            args.update(image=handler.image, command=list(handler.command) or None)
        args.update(hardening())
        args.update(
            environment=env,
            mem_limit=f"{task.memory_mib}m",
            memswap_limit=f"{task.memory_mib}m",  # no swap beyond the limit, as on the cluster
            nano_cpus=int(task.cpu * 1e9) if task.cpu else None,
            labels={LABEL: self.owner, "flowc.app": attempt.app.name, "flowc.task": task.name,
                    "flowc.run": attempt.run_id},  # fmt: skip
            detach=True,
        )
        return args

    def run(self, attempt: Attempt) -> AttemptResult:
        task = attempt.task
        if isinstance(task.handler, PythonHandler):
            require_code_dir(attempt)  # else Docker would create the bind mount's source
        client = self._connect(task)
        args = self._container_args(attempt)
        self._ensure_image(client, task, args["image"])
        container = self._create(client, task, args)
        with self._lock:
            self._containers[container.id] = container
        started = time.monotonic()
        tail = _Tail()
        error, diagnostic, timed_out, status = None, None, False, None
        try:
            self._start(client, task, container)
            with self._lock:
                stopped = container.id not in self._containers
            if stopped:  # terminate_all() ran between create and start: stop it again
                _stop(container, 0)
            sink = attempt.sink(self.output)  # the live view and the run's kept log
            readers = [
                threading.Thread(target=self._pump_logs,
                                 args=(container, task.name, True, None, sink), daemon=True),
                threading.Thread(target=self._pump_logs,
                                 args=(container, task.name, False, tail, sink), daemon=True),
            ]  # fmt: skip
            for reader in readers:
                reader.start()
            status, timed_out = self._wait(client, container, task)
            for reader in readers:
                reader.join(timeout=2)
        except EngineGone as exc:
            self._forget_engine()
            diagnostic = _engine_gone(task, exc.__cause__ or exc)
            error = diagnostic.message
            tail.add(f"flowc: {error}")
        finally:
            with self._lock:
                interrupted = self._containers.pop(container.id, None) is None
            _remove(container)
        if timed_out:
            tail.add(f"flowc: task timed out after {task.timeout_s}s; container stopped")
        return AttemptResult(
            exit_code=TIMEOUT_EXIT if timed_out else status,
            timed_out=timed_out,
            interrupted=interrupted and not timed_out and error is None,
            stderr_tail=tail.text(),
            duration_s=time.monotonic() - started,
            error=error,
            diagnostic=diagnostic,
        )

    def _create(self, client: Any, task: Task, args: dict[str, Any]) -> Any:
        try:
            return client.containers.create(**args)
        except Exception as exc:
            raise StartError(self._start_failure(client, task, exc)) from None

    def _start(self, client: Any, task: Task, container: Any) -> None:
        try:
            container.start()
        except Exception as exc:  # the caller's `finally` removes the container
            raise StartError(self._start_failure(client, task, exc)) from None

    def _start_failure(self, client: Any, task: Task, exc: Exception) -> Diagnostic:
        if not self._alive(client):
            self._forget_engine()
            return _engine_gone(task, exc)
        reason = getattr(exc, "explanation", None) or str(exc)
        return Diagnostic(
            "E512",
            f"task `{task.name}`: Docker could not start its container: {reason}",
            task.span,
            help="check the task's `command` exists in the image and runs as a non-root user "
            f"(uid {UID}) on a read-only root filesystem",
        )

    def _wait(self, client: Any, container: Any, task: Task) -> tuple[int | None, bool]:
        """(exit code, timed out); raises EngineGone when the engine stops answering."""
        import requests

        deadline = time.monotonic() + task.timeout_s
        try:
            return _normalise(int(container.wait(timeout=task.timeout_s)["StatusCode"])), False
        except requests.exceptions.RequestException as exc:  # timed out, or the engine died
            if time.monotonic() < deadline - 0.5 or not self._alive(client):
                raise EngineGone() from exc
        try:
            container.stop(timeout=STOP_GRACE_S)  # SIGTERM, then SIGKILL
        except Exception as exc:
            if not self._alive(client):
                raise EngineGone() from exc
        return None, True

    def _pump_logs(self, container: Any, task: str, stdout: bool, tail: _Tail | None,
                   sink: OutputSink) -> None:
        stream = "stdout" if stdout else "stderr"
        buffer = b""
        try:
            for chunk in container.logs(stream=True, follow=True, stdout=stdout, stderr=not stdout):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                _pump(lines, task, stream, sink, tail)
        except Exception:  # the container or the engine went away
            pass
        if buffer:
            _pump([buffer], task, stream, sink, tail)

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._containers)

    def terminate_run(self, run_id: str, grace: float = 2.0) -> None:
        """Stop the container of one run (`overlap = replace`); it ends as interrupted."""
        with self._lock:
            ours = [c for c in self._containers.values()
                    if (getattr(c, "labels", None) or {}).get("flowc.run") == run_id]
            for container in ours:
                self._containers.pop(container.id, None)
        for container in ours:
            threading.Thread(target=_stop, args=(container, round(grace)), daemon=True).start()

    def terminate_all(self, grace: float) -> None:
        """Stop running containers (SIGTERM, SIGKILL after `grace`), then remove all of ours."""
        with self._lock:
            containers = list(self._containers.values())
            self._containers.clear()
            client = self._client
        stoppers = [
            threading.Thread(target=_stop, args=(c, max(0, round(grace))), daemon=True)
            for c in containers
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=grace + 10)
        if client is not None:
            try:
                for container in client.containers.list(
                    all=True, filters={"label": f"{LABEL}={self.owner}"}
                ):
                    _remove(container)
            except Exception:  # the engine is gone, and so are its containers
                pass


def _engine_gone(task: Task, exc: BaseException) -> Diagnostic:
    reason = str(exc).split("\n")[0][:200] or type(exc).__name__
    return Diagnostic(
        "E511",
        f"task `{task.name}`: the Docker engine stopped answering during the run ({reason})",
        task.span,
        help="restart Docker; the failed run is in the task's dead-letter queue and history",
    )


def _stop(container: Any, grace: int) -> None:
    try:
        container.stop(timeout=grace)
    except Exception:
        pass


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except Exception:  # already gone, or the engine is
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
