"""Keeps one service up: start, wait for health, route, restart on crash or on failed
liveness probes, swap on reload.

One thread per service owns every state change, fed by an inbox (reloads, exits, stop),
so a crash during a swap or a reload during a back-off never race. Events (through
`emit`): service_started (an instance launched), service_ready (healthy and now live),
service_crashed (the live instance ended, failed `live_failures` liveness probes in a
row, or a new one never became healthy; `reason` says which), service_restarted (a new
instance launched after a crash, with its back-off),
service_stopped (an instance retired by a swap or at shutdown), reload_failed (the new
instance of a reload never became healthy: it is stopped, the old one keeps serving).

Liveness, as a Kubernetes livenessProbe with its defaults (periodSeconds 10,
failureThreshold 3, timeoutSeconds 1): once live, `health` is probed every
`live_every_s`; after `live_failures` failures in a row the instance counts as crashed,
but it keeps serving while its replacement starts (after the crash back-off) and becomes
healthy; then the proxy switches and the failing one is stopped, as in a reload. A
replacement that never gets healthy is one more crash (longer back-off, old one still
serving). Workers have no `health`: only their exit counts.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowc.emulator.runners import StartError
from flowc.emulator.services.instance import (
    ContainerInstance,
    Instance,
    OutputSink,
    ProcessInstance,
    docker_client,
)
from flowc.emulator.services.proxy import ServiceProxy
from flowc.emulator.services.spec import ServiceSpec

Emit = Callable[..., Any]  # emit(event, **fields)
Note = Callable[[Any], None]  # a Diagnostic to show


@dataclass(frozen=True)
class Timing:
    """How patient the supervisor is; tests shrink these."""

    ready_s: float = 30.0  # a new instance must answer `health` within this
    probe_every_s: float = 0.1
    backoff_first_s: float = 0.5
    backoff_max_s: float = 30.0
    stable_s: float = 10.0  # up this long after ready: the next crash starts back-off anew
    drain_s: float = 30.0  # requests in flight to a retired instance get this long
    grace_s: float = 5.0  # SIGTERM, then SIGKILL after this
    live_every_s: float = 10.0  # liveness probe period (Kubernetes periodSeconds)
    live_failures: int = 3  # failed probes in a row that restart (failureThreshold)

    def backoff(self, crashes: int) -> float:
        return min(self.backoff_max_s, self.backoff_first_s * 2 ** max(0, crashes - 1))


@dataclass(frozen=True)
class _Reload:
    spec: ServiceSpec
    reason: str


@dataclass(frozen=True)
class _Exited:
    instance: Instance
    code: int | None
    tail: str


_STOP = object()


class Supervisor:
    def __init__(
        self, spec: ServiceSpec, emit: Emit, output: OutputSink, note: Note,
        proxy_port: int | None = None, timing: Timing = Timing(),
    ):  # fmt: skip
        self.spec = spec
        self.emit = emit
        self.output = output
        self.note = note
        self.timing = timing
        self.proxy: ServiceProxy | None = None
        if not spec.is_worker:
            port = spec.port if proxy_port is None else proxy_port
            try:
                self.proxy = ServiceProxy(spec.name, port)
            except OSError:  # the declared port is taken: any free one, printed
                self.proxy = ServiceProxy(spec.name, 0)
        self.current: Instance | None = None
        self.ready_at = 0.0
        self.crashes = 0
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"service-{spec.name}",
                                        daemon=True)  # fmt: skip
        self._docker = None
        self._failed = ("", "")  # why the last new instance did not become ready, its tail
        self._probe_at = 0.0  # next liveness probe of the live instance (monotonic)
        self._probe_failures = 0  # in a row
        self._replace_at: float | None = None  # failed liveness: start a replacement then

    @property
    def url(self) -> str | None:
        return self.proxy.url if self.proxy else None

    def start(self) -> None:
        if self.proxy is not None:
            self.proxy.start()
        self._thread.start()

    def reload(self, spec: ServiceSpec, reason: str = "reload") -> None:
        self._inbox.put(_Reload(spec, reason))

    def stop(self, grace: float | None = None) -> None:
        self._stopping.set()
        self._inbox.put(_STOP)
        self._thread.join(timeout=(grace or self.timing.grace_s) + 10)
        if self.current is not None:
            self._retire(self.current, grace)
            self.current = None
        if self.proxy is not None:
            self.proxy.stop()

    # the loop ----------------------------------------------------------------------

    def _next(self, timeout: float | None = None) -> Any:
        """The next inbox item; later reloads supersede earlier ones. None on timeout."""
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        while isinstance(item, _Reload):
            try:
                later = self._inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(later, _Reload):
                item = later
            else:
                self._inbox.put(item)  # keep the reload, handle the other first
                item = later
                break
        return item

    def _loop(self) -> None:
        reason = "start"
        while not self._stopping.is_set():
            if self.current is None:  # down: (re)start, after a back-off when crashing
                delay = self.timing.backoff(self.crashes) if self.crashes else 0.0
                item = self._next(timeout=delay) if delay else None
                if item is _STOP:
                    return
                if isinstance(item, _Reload):  # new code: try it now
                    self.spec, reason = item.spec, item.reason
                elif self.crashes:
                    reason = "crash"
                    self.emit("service_restarted", attempt=self.crashes, backoff_s=delay)
                if self._stopping.is_set():
                    return
                instance = self._launch(self.spec, reason)
                if instance is not None and self._await_ready(instance):
                    self._promote(instance)
                    continue
                if not self._stopping.is_set():
                    self.crashes += 1
                    why, tail = self._failed
                    self.emit("service_crashed", reason=why, stderr_tail=tail or None)
                continue
            item = self._next(timeout=self._until_liveness_step())
            if item is None:
                self._liveness_step()
                continue
            if item is _STOP:
                return
            if isinstance(item, _Exited) and item.instance is self.current:
                self._crashed(item)
            elif isinstance(item, _Reload):
                self._swap(item.spec, item.reason)

    # steps -------------------------------------------------------------------------

    def _launch(self, spec: ServiceSpec, reason: str) -> Instance | None:
        try:
            if spec.kind == "python":
                instance: Instance = ProcessInstance(spec, self.output, self._on_exit)
            else:
                if self._docker is None:
                    self._docker = docker_client(spec)
                instance = ContainerInstance(spec, self.output, self._on_exit, self._docker)
        except StartError as exc:
            self.note(exc.diagnostic)
            self._failed = (exc.diagnostic.message, "")
            return None
        except Exception as exc:  # noqa: BLE001 - e.g. image pull failed: report, retry
            self._failed = (f"could not start: {type(exc).__name__}: {exc}", "")
            return None
        self.emit("service_started", reason=reason, **instance.describe())
        return instance

    def _await_ready(self, instance: Instance) -> bool:
        """Poll until healthy. On failure the instance is stopped and the reason emitted."""
        deadline = time.monotonic() + self.timing.ready_s
        if instance.spec.is_worker:  # no probe: running a moment without exiting is ready
            deadline = time.monotonic() + min(self.timing.ready_s, 0.3)
        while True:
            if instance.exited.wait(self.timing.probe_every_s):
                why = f"exited with code {instance.exit_code} before it was ready"
                break
            if self._stopping.is_set():
                instance.stop(0)
                return False
            if instance.spec.is_worker:
                if time.monotonic() >= deadline:
                    return True
                continue
            if instance.healthy():
                return True
            if time.monotonic() >= deadline:
                why = f"not healthy after {self.timing.ready_s:g}s ({instance.spec.health})"
                break
        instance.stop(self.timing.grace_s)
        self._failed = (why, instance.tail.text())
        self.emit("service_stopped", **instance.describe())
        return False

    def _promote(self, instance: Instance) -> None:
        old = self.current
        self.current = instance
        self.ready_at = time.monotonic()
        self._probe_at = self.ready_at + self.timing.live_every_s
        self._probe_failures = 0
        self._replace_at = None
        if self.proxy is not None:
            self.proxy.route(instance.url)
        self.emit("service_ready", url=self.url, **instance.describe())
        if old is not None:
            self._retire(old)

    def _retire(self, instance: Instance, grace: float | None = None) -> None:
        if self.proxy is not None and instance.url is not None:
            self.proxy.drain(instance.url, self.timing.drain_s if grace is None else grace)
        instance.stop(self.timing.grace_s if grace is None else grace)
        self.emit("service_stopped", **instance.describe())

    def _swap(self, spec: ServiceSpec, reason: str) -> None:
        instance = self._launch(spec, reason)
        if instance is not None and self._await_ready(instance):
            self.spec = spec
            self._promote(instance)
            return
        if self._stopping.is_set():
            return
        why, tail = self._failed
        self.emit("reload_failed", service=self.spec.name, reason=why, stderr_tail=tail or None)

    def _crashed(self, exited: _Exited) -> None:
        self._count_crash()
        self._replace_at = None  # nothing left to keep serving: the down path restarts
        if self.proxy is not None:
            self.proxy.route(None)  # hold requests until the restart is ready
        self.current = None
        self.emit("service_crashed", exit_code=exited.code, stderr_tail=exited.tail or None,
                  reason=f"exited with code {exited.code}", **exited.instance.describe())

    def _count_crash(self) -> None:
        if time.monotonic() - self.ready_at >= self.timing.stable_s:
            self.crashes = 0
        self.crashes += 1

    # liveness ----------------------------------------------------------------------

    def _until_liveness_step(self) -> float | None:
        """Seconds until the next probe or replacement; None: nothing to probe (worker)."""
        if self.current is None or self.current.spec.is_worker:
            return None
        due = self._probe_at if self._replace_at is None else self._replace_at
        return max(0.0, due - time.monotonic())

    def _liveness_step(self) -> None:
        instance = self.current
        if instance is None:
            return
        if self._replace_at is not None:
            self._replace_unhealthy(instance)
            return
        self._probe_at = time.monotonic() + self.timing.live_every_s
        if instance.healthy():
            self._probe_failures = 0
            return
        self._probe_failures += 1
        if self._probe_failures < self.timing.live_failures:
            return
        self._count_crash()
        self._probe_failures = 0
        self._replace_at = time.monotonic() + self.timing.backoff(self.crashes)
        self.emit("service_crashed", exit_code=None, stderr_tail=instance.tail.text() or None,
                  reason=f"failed {self.timing.live_failures} liveness probes in a row "
                         f"({instance.spec.health}); it keeps serving until a replacement "
                         "is healthy", **instance.describe())  # fmt: skip

    def _replace_unhealthy(self, old: Instance) -> None:
        """Start a replacement for a live instance that failed liveness; swap when healthy."""
        self.emit("service_restarted", attempt=self.crashes,
                  backoff_s=self.timing.backoff(self.crashes), reason="liveness")
        instance = self._launch(self.spec, "liveness")
        if instance is not None and self._await_ready(instance):
            self._promote(instance)  # retires `old` after draining it
            return
        if self._stopping.is_set():
            return
        self.crashes += 1
        why, tail = self._failed
        self._replace_at = time.monotonic() + self.timing.backoff(self.crashes)
        self.emit("service_crashed", reason=why, stderr_tail=tail or None)

    def _on_exit(self, instance: Instance, code: int | None, tail: str) -> None:
        self._inbox.put(_Exited(instance, code, tail))
