"""One emulator session: wires the spec, the AWS side, history, events, runners,
scheduler and watcher together, for `flowc dev` (continuous) and `flowc run` (once).

Life cycle: `open()` loads the spec (diagnostics and exit code 1 when it has
errors), takes the state lock (one `flowc dev` per state directory, statelock.py),
opens the history, starts or finds the AWS emulator and provisions it;
`start()` starts the clock, recovers what a crashed session left (recovery.py),
records fires missed while none ran, then starts the scheduler, the heartbeat and
the watcher; `reload()` is called by the watcher; `close()` stops everything in order
(no new fires, in-flight runs get their grace period, runs still open closed as
`interrupted`, state flushed, embedded AWS server stopped, lock released).

Storage faults (full or read-only disk) never crash a session: the first failed write
prints one E532 diagnostic and the session stops taking fires and asks to stop; at
close it reports how many history writes and event lines were lost.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App
from flowc.diagnostics import Diagnostic, SourceCache, named, render_text, session_filter
from flowc.emulator.clock import Clock, iso, make_clock, speed_label
from flowc.emulator.cloud import Cloud
from flowc.emulator.deadletters import Journal
from flowc.emulator.docker_runner import DockerRunner
from flowc.emulator.events import EventBus, JsonlWriter
from flowc.emulator.executor import Executor, RunOutcome, code_dir
from flowc.emulator.history import History
from flowc.emulator.recovery import clock_kind, close_abandoned, record_missed
from flowc.emulator.scheduler import Scheduler
from flowc.emulator.secrets import SECRETS_FILE, env_var_for, local_secret_values
from flowc.emulator.statelock import StateLock, StateLocked
from flowc.emulator.versions import Versions
from flowc.emulator.view import PlainView
from flowc.targets.aws import TARGET as AWS

Loader = Callable[..., Any]  # (path, env=None) -> LoadResult
CLOUD_FILE = "cloud.json"
HEARTBEAT_S = 1.0  # how often a session records that it is alive (missed-fire detection)
SERVICES_FILE = "services.json"  # service name -> the URL of its local proxy


def default_loader(path: str | Path, env: str | None = None) -> Any:
    from flowc.compiler.pipeline import load

    return load(path, env=env)


@dataclasses.dataclass
class Options:
    spec: Path
    env: str | None = None
    speed: float = 1.0
    start: datetime | None = None
    run_for: float | None = None  # virtual seconds; None: until stopped
    state_dir: Path = Path(".flowc")
    events: Path | None = None
    grace: float = 5.0
    watch: bool = True
    pull: bool = False  # pull an image task's image that is missing locally
    isolate: str = "process"  # "docker": python tasks in the k8s target's python image
    only: tuple[str, ...] = ()  # run just these tasks and services (`flowc dev --only`)
    seed: int = 0  # jitter: the same seed gives the same delays
    exclusive: bool = True  # `flowc dev`: the state lock or E530; `flowc run`: if free


class Session:
    def __init__(
        self,
        options: Options,
        view: PlainView,
        loader: Loader = default_loader,
        cloud: Cloud | None = None,
    ):
        self._warnings = session_filter()  # each warning once per session
        self.options = options
        self.view = view
        self.loader = loader
        self.cloud = cloud
        self._owns_cloud = cloud is None
        self.app: App | None = None
        self.history: History | None = None
        self.clock: Clock | None = None
        self.bus: EventBus | None = None
        self.executor: Executor | None = None
        self.scheduler: Scheduler | None = None
        self.watcher: Any = None
        self.services: Any = None  # flowc.emulator.services.Services, once started
        self._announced: dict[str, str | None] = {}  # service -> URL printed
        self.until: datetime | None = None
        self._writer: JsonlWriter | None = None
        self._reload_lock = threading.Lock()
        self._closed = False
        self._stop: threading.Event | None = None  # what `wait` waits on (Ctrl-C)
        self.lock = StateLock(options.state_dir)
        self.fault = threading.Event()  # storage failed: no more fires
        self.refused_fires = 0
        self._fault_lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._cloud_failed = False  # E507 shown

    # loading ------------------------------------------------------------------------

    def _load(self) -> tuple[App | None, list[Diagnostic], SourceCache]:
        try:
            result = self.loader(self.options.spec, env=self.options.env)
        except Exception as exc:  # noqa: BLE001 - a front-end bug is reported, not raised
            diag = Diagnostic(
                "E505", f"could not load {self.options.spec}: {type(exc).__name__}: {exc}",
                help="this is a bug in flowc; `flowc check` on the same file may say more",
            )  # fmt: skip
            return None, [diag], SourceCache()
        if not result.ok:
            return None, list(result.diagnostics), result.sources
        app = dataclasses.replace(result.app, base_dir=str(Path(result.app.base_dir).resolve()))
        if self.options.only:
            app, problem = _only(app, self.options.only)
            if problem is not None:
                return None, [*result.diagnostics, problem], result.sources
        return app, list(result.diagnostics), result.sources

    def show(self, diagnostics: list[Diagnostic], sources: SourceCache | None = None) -> None:
        diagnostics = self._warnings.visible(diagnostics, sources)  # reloads repeat none
        if diagnostics:
            self.view.message(render_text(diagnostics, sources))

    def open(self) -> int:
        """Load and provision. Returns 0, or 1 when the spec has errors."""
        return self.load() or self.connect()

    def load(self) -> int:
        """Load the spec, print its diagnostics. Returns 0, or 1 when it has errors."""
        app, diagnostics, sources = self._load()
        self.show(diagnostics, sources)
        if app is None:
            return 1
        self.app = app
        self.show(self._interpreter_warnings(app))
        return 0

    def _interpreter_warnings(self, app: App) -> list[Diagnostic]:
        """W520, once per version: python tasks run here with flowc's own python (unless
        --isolate docker), not the one their `python_version` names."""
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        if self.options.isolate == "docker":
            return []
        by_version: dict[str, list] = {}
        for t in app.tasks:
            if t.handler.kind == "python" and t.python_version != here:
                by_version.setdefault(t.python_version, []).append(t)
        return [Diagnostic(
            "W520", f"python_version = \"{version}\" ({named([t.name for t in tasks])}), "
            f"but the emulator runs python tasks with "
            f"python {here} ({sys.executable})", tasks[0].span,
            f"run flowc with python {version}, or `flowc dev --isolate docker` "
            f"(python:{version}-slim, as on Kubernetes)")
            for version, tasks in by_version.items()]

    def connect(self) -> int:
        """Open the history and events file, find or start the AWS side and provision it.

        Returns 0, or 1 after printing E508 (state not writable) or E507 (AWS side).
        """
        app = self.app
        assert app is not None
        try:
            if self.options.exclusive:
                self.lock.acquire()
            else:
                self.lock.try_acquire()
            self.history = History(self.options.state_dir, self._history_fault)
            if self.options.events is not None:
                self._writer = JsonlWriter(self.options.events, self._events_fault)
        except StateLocked as exc:
            self.show([exc.diagnostic])
            return 1
        except (OSError, sqlite3.Error) as exc:
            self.show([Diagnostic(
                "E508", f"cannot write the run history or events: {exc}",
                help="pass a writable directory with --state (default .flowc/) and a "
                "writable --events path",
            )])  # fmt: skip
            return 1
        if self.history.moved_aside is not None:
            self.show([Diagnostic(
                "W530", f"the run history {self.history.path} was not a readable database; "
                f"moved it to {self.history.moved_aside.name} and started a fresh one",
                help="keep the old file to investigate, or delete it",
            )])  # fmt: skip
        if self.cloud is None:
            try:
                self.cloud = Cloud.connect(self.options.state_dir, AWS.settings_of(app).region)
            except Exception as exc:  # noqa: BLE001 - e.g. no free port, broken moto install
                self.show([Diagnostic(
                    "E507", f"could not start the embedded AWS emulator: {exc}",
                    help="start LocalStack (LOCALSTACK_HOST, default 127.0.0.1:4566) or fix "
                    "the moto[server] installation",
                )])  # fmt: skip
                return 1
            if self.cloud.kind == "moto" and os.environ.get("LOCALSTACK_HOST"):
                self.show([Diagnostic(
                    "W503", f"LOCALSTACK_HOST={os.environ['LOCALSTACK_HOST']} does not answer; "
                    f"using the embedded AWS emulator at {self.cloud.endpoint}",
                    help="start LocalStack there, or unset LOCALSTACK_HOST",
                )])  # fmt: skip
        self.cloud.journal = Journal(self.options.state_dir)
        self._provision(app)  # in the background: nothing waits for it until it is needed
        return 0

    def settle_cloud(self, stop: threading.Event | None = None) -> int:
        """Wait for the AWS side to be provisioned (or `stop`). Returns 0, or 1 after E507."""
        assert self.cloud is not None
        try:
            while stop is not None and not stop.is_set() and not self.cloud.settled(0.2):
                pass
            if stop is not None and stop.is_set():
                return 0  # Ctrl-C while provisioning: the caller stops
            self.cloud.settle()
        except Exception as exc:  # noqa: BLE001 - the endpoint answered but refused
            self._cloud_failed = True
            self.show([Diagnostic(
                "E507", f"could not provision the AWS side at {self.cloud.endpoint}: {exc}",
                help="check that LocalStack is healthy, or unset LOCALSTACK_HOST to use the "
                "embedded emulator",
            )])  # fmt: skip
            return 1
        return 0

    def _provision(self, app: App) -> None:
        assert self.cloud is not None
        values = local_secret_values([s.name for s in app.secrets], app.base_dir)
        missing = [
            Diagnostic(
                "W501",
                f"secret `{s.name}` has no local value; {_readers(app, s.name)} that read it "
                "will fail to start",
                s.span,
                help=f"set {env_var_for(s.name)} or add `{s.name} = ...` to {SECRETS_FILE} "
                "next to the .flow file (keep that file out of git)",
            )
            for s in app.secrets
            if values.get(s.name) is None
        ]
        self.show(missing)
        self.cloud.provision_in_background(app, values, then=self._write_cloud_file)

    def _write_cloud_file(self) -> None:
        """`<state>/cloud.json`, written only by the session holding the state lock (and
        not after it closed: provisioning may end after a `flowc run`)."""
        if self.cloud is None or not self.lock.held or self._closed:
            return
        path = self.options.state_dir / CLOUD_FILE
        record = dict(self.cloud.describe(), pid=os.getpid())
        try:
            path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            self.view.message(f"flowc: cannot write {path}: {exc}")

    def _remove_cloud_file(self) -> None:
        """Remove cloud.json only if this process wrote it (never another session's)."""
        path = self.options.state_dir / CLOUD_FILE
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError, AttributeError):
            pass

    # storage faults ---------------------------------------------------------------

    def _history_fault(self, reason: str) -> None:
        self._storage_fault(f"the run history {self.options.state_dir / 'history.sqlite'}",
                            reason)

    def _events_fault(self, reason: str) -> None:
        self._storage_fault(f"the events file {self.options.events}", reason)

    def _storage_fault(self, what: str, reason: str) -> None:
        """First failed write: one diagnostic, no more fires, and ask the session to stop."""
        with self._fault_lock:
            first = not self.fault.is_set()
            self.fault.set()
        if first:
            self.show([Diagnostic(
                "E532", f"cannot write {what}: {reason}; flowc stops taking new fires",
                help="free some space or fix the permissions, then start flowc again; fires "
                "that fall while it is stopped are recorded as `missed`",
            )])  # fmt: skip
        if self._stop is not None:
            self._stop.set()

    def storage_report(self) -> str | None:
        """What could not be written, for the exit message (None: nothing was lost)."""
        history = self.history.failed_writes if self.history is not None else 0
        events = self._writer.failed if self._writer is not None else 0
        if not (history or events or self.refused_fires):
            return None
        first = (self.history.first_failure if self.history and history else None) or (
            self._writer.first_failure if self._writer else None)
        return (f"flowc: storage fault: {history} run-history write(s) and {events} event "
                f"line(s) could not be written; {self.refused_fires} fire(s) not taken "
                f"after the fault (first error: {first or 'none'})")

    # crash recovery -----------------------------------------------------------------

    def recover(self) -> None:
        """Close the runs a crashed flowc left (only with the state lock: no one else runs)."""
        if not self.lock.held:
            return
        assert self.history is not None and self.app is not None
        assert self.bus is not None and self.clock is not None
        count = close_abandoned(self.history, self.app, self.cloud, self.bus, self.clock)
        if count:
            self.view.message(f"flowc: closed {count} run(s) left running by a flowc that "
                              "stopped abruptly, as `abandoned` (see `flowc runs`)")

    def _record_missed(self, planned: dict[str, datetime | None],
                       due: dict[str, datetime] | None = None) -> None:
        if not self.lock.held:
            return
        assert self.history is not None and self.app is not None
        assert self.bus is not None and self.clock is not None
        counts = record_missed(self.history, self.app, self.bus, self.clock, planned, due)
        for task, count in counts.items():
            self.view.message(f"flowc: task `{task}` missed {count} fire(s) while no flowc "
                              "ran; recorded as `missed`")

    def _beat(self) -> None:
        assert self.history is not None and self.app is not None and self.clock is not None
        self.history.heartbeat(self.app.name, clock_kind(self.clock), iso(self.clock.now()),
                               iso(self.clock.wall()))  # fmt: skip

    def _heartbeat_loop(self) -> None:
        while not self._closed and not self.fault.is_set():
            self._beat()
            time.sleep(HEARTBEAT_S)

    def _close_open_runs(self) -> None:
        """Runs of this session still open after the grace period: closed, never left."""
        assert self.history is not None
        wall = iso(datetime.now(UTC))
        at = iso(self.clock.now()) if self.clock is not None else wall
        for run in self.history.open_runs():
            if run["run_id"] in self.history.mine:
                self.history.close_attempts(run["run_id"], at, wall, "interrupted")
                self.history.finish_run(run["run_id"], "interrupted", at, wall, None,
                                        error="flowc stopped before the run finished")

    # running ------------------------------------------------------------------------

    def _wire(self) -> None:
        self.clock = make_clock(self.options.speed, self.options.start)
        self.bus = EventBus(self.clock)
        if self._writer is not None:
            self.bus.subscribe(self._writer)
        self.bus.subscribe(self.view.event)
        assert self.history is not None and self.app is not None
        docker = DockerRunner(self.view.output, self.options.pull, self.options.isolate == "docker")
        if any(docker.handles(task) for task in self.app.tasks):
            reaped = docker.reap_leftovers()
            if reaped:
                self.view.message(f"flowc dev: removed {reaped} container(s) left by a flowc "
                                  "that did not stop cleanly")  # fmt: skip
        self.executor = Executor(
            self.clock, self.bus, self.history, self.cloud, self.view.output, self._note,
            self.view.message, docker,
        )
        self.executor.seed = self.options.seed

    def _note(self, diagnostic: Diagnostic) -> None:
        self.show([diagnostic])

    def start(self, stop: threading.Event | None = None) -> int:
        """Start the clock, the scheduler and (unless disabled) the watcher.

        The plan is printed first; the scheduler starts once the AWS side is provisioned
        (so the first failed run finds its queue; `stop` ends that wait). Returns 0, or 1
        after E507."""
        assert self.app is not None
        self._wire()
        assert self.clock is not None and self.executor is not None
        self.clock.set_gate(self, self.clock.epoch())  # virtual time waits for the plan
        self._register_versions(self.app)
        if self.options.run_for is not None:
            self.until = self.clock.epoch() + timedelta(seconds=self.options.run_for)
        self.recover()
        self.scheduler = Scheduler(self.clock, self._fire, self.until, self.view.message)
        self.scheduler.set_app(self.app)
        due: dict[str, datetime] = {}  # `catch_up`: a missed fire to run now, per task
        self._record_missed(self.scheduler.snapshot(), due)
        if self.lock.held:
            self._heartbeat = threading.Thread(target=self._heartbeat_loop,
                                               name="flowc-heartbeat", daemon=True)
            self._heartbeat.start()
        self.clock.set_end(self.until)
        self.executor.until = self.until
        self.clock.set_gate(self, None)
        for name, moment in due.items():
            self.view.message(f"flowc: task `{name}` catches up its fire of {iso(moment)}")
            self._fire(self.app, self.app.task(name), moment)
        if self.options.watch:
            from flowc.emulator.watch import Watcher

            ignore = [self.options.state_dir]
            if self.options.events is not None:
                ignore.append(self.options.events)
            self.watcher = Watcher(
                self.options.spec, self._code_dirs(self.app), self.reload, ignore=ignore
            )
            self.watcher.start()
        if hasattr(self.view, "toggle"):  # the live table: number keys pause and resume
            self.view.toggle = self.toggle_pause
            self.view.paused = lambda: set(self.executor.paused) if self.executor else set()
        self.view.start(self.scheduler.snapshot, self.header(), self.clock.now)
        self.view.message(self.plan())
        if self.settle_cloud(stop):
            return 1
        self.scheduler.start()
        self._start_services(self.app)
        return 0

    def plan(self, shown: int = 8) -> str:
        """The next fire of the first `shown` tasks, soonest first."""
        assert self.scheduler is not None
        nexts = sorted((t, n) for n, t in self.scheduler.snapshot().items() if t is not None)
        listed = ", ".join(f"{name} {iso(moment)}" for moment, name in nexts[:shown])
        more = f" (and {len(nexts) - shown} more)" if len(nexts) > shown else ""
        return f"flowc dev: next fires: {listed or 'none'}{more}"

    # services ---------------------------------------------------------------------

    def _service_specs(self, app: App) -> list[Any]:
        from flowc.emulator.services.spec import from_ir

        values = local_secret_values([s.name for s in app.secrets], app.base_dir)
        return [from_ir(app, service, values) for service in app.services]

    def _start_services(self, app: App) -> None:
        if not app.services:
            return
        from flowc.emulator.services import Services

        assert self.bus is not None
        bus = self.bus
        self.services = Services(
            lambda name: lambda event, **fields: bus.emit(event, service=name, **fields),
            self.view.output, self._note,
        )  # fmt: skip
        self._update_services(app, [])

    def _update_services(self, app: App, paths: list[str]) -> None:
        if self.services is None:
            if app.services:
                self._start_services(app)
            return
        self.services.update(self._service_specs(app), [Path(p) for p in paths])
        urls = self.services.urls()
        for name, url in urls.items():
            if self._announced.get(name, "") != url:
                where = f"at {url}" if url else "(a worker: no port)"
                self.view.message(f"flowc dev: service `{name}` {where}")
        self._announced = dict(urls)
        path = self.options.state_dir / SERVICES_FILE
        try:
            path.write_text(json.dumps(urls, indent=2) + "\n", encoding="utf-8")
        except OSError:
            pass  # the URLs were printed; the file is a convenience

    def _register_versions(self, app: App) -> None:
        """Record each task's code version; start canaries for new ones (versions.py)."""
        if self.executor is None or self.clock is None:
            return
        if self.executor.versions is None:
            self.executor.versions = Versions(self.options.state_dir, app.stack_name)
        exclude = [self.options.events] if self.options.events is not None else []
        try:
            for message in self.executor.versions.update(app, self.clock.now(), exclude):
                self.view.message("flowc dev: " + message)
        except OSError as exc:
            self.view.message(f"flowc dev: cannot record code versions: {exc}")

    def _fire(self, app: App, task: Any, moment: datetime) -> None:
        assert self.executor is not None
        if self.fault.is_set():  # storage failed: refuse (counted) rather than lose it
            self.refused_fires += 1
            return
        self.executor.submit(app, task, moment)

    def header(self) -> str:
        assert self.app is not None and self.cloud is not None and self.clock is not None
        speed = f", speed x{speed_label(self.options.speed)}" if self.options.speed != 1 else ""
        window = f", for {self.options.run_for:g}s virtual" if self.until else ""
        services = f", {len(self.app.services)} service(s)" if self.app.services else ""
        return (
            f"flowc dev: app `{self.app.name}`, {len(self.app.tasks)} task(s){services}"
            f"{speed}{window}; "
            f"virtual clock at {iso(self.clock.now())}; AWS: {self.cloud.kind} at "
            f"{self.cloud.endpoint}; state: {self.options.state_dir}"
        )

    def _code_dirs(self, app: App) -> list[Path]:
        units = [*app.tasks, *app.services]
        return sorted({code_dir(app, u) for u in units if u.handler.kind == "python"})

    def reload(self, paths: list[str], first_event: float | None = None) -> bool:
        """Recompile and swap schedules; on errors keep the last good spec. True if swapped."""
        with self._reload_lock:
            if self._closed or self.scheduler is None or self.bus is None:
                return False
            try:
                if self.options.spec.stat().st_size == 0:
                    return False  # a save in progress (truncated, not yet written)
            except OSError:
                pass  # gone: the loader reports it
            app, diagnostics, sources = self._load()
            base = Path(self.app.base_dir) if self.app else Path(".")
            files = sorted({_relative(p, base) for p in paths})
            if app is None:
                self.show(diagnostics, sources)
                self.view.message("flowc dev: reload failed; still running the last good spec")
                self.bus.emit(
                    "reload_failed", files=files,
                    diagnostics=[d.to_json() for d in diagnostics if d.is_error],
                )  # fmt: skip
                return False
            self.show(diagnostics, sources)  # warnings
            self._register_versions(app)
            diff = self.scheduler.set_app(app)
            self.app = app
            latency = None
            if first_event is not None:
                latency = round((time.monotonic() - first_event) * 1000, 1)
            self.bus.emit(
                "reloaded", files=files, changes=diff.to_json(), latency_ms=latency,
                next={k: iso(v) if v else None for k, v in self.scheduler.snapshot().items()},
            )  # fmt: skip
            try:
                self._provision(app)
            except Exception as exc:  # noqa: BLE001 - keep running; runs report what is missing
                self.view.message(f"flowc dev: could not provision the AWS side: {exc}")
            if self.watcher is not None:
                self.watcher.set_code_dirs(self._code_dirs(app))
            self._update_services(app, paths)
            return True

    def wait(self, stop: threading.Event) -> bool:
        """Block until `stop` is set or the `--for` window is over. True if the window ended."""
        assert self.clock is not None
        self._stop = stop
        if self.fault.is_set():
            stop.set()
        if self.until is None:
            stop.wait()
            return False
        return not self.clock.wait_until(self.until, stop)

    def toggle_pause(self, task: str) -> bool:
        """Pause a task's fires (they emit `skipped`, reason paused), or resume it; True if
        it is paused now. Runs in flight go on."""
        assert self.executor is not None
        paused = self.executor.paused
        now_paused = task not in paused
        (paused.add if now_paused else paused.discard)(task)
        self.view.message(f"flowc dev: task `{task}` {'paused' if now_paused else 'resumed'}")
        return now_paused

    def start_executor(self) -> None:
        """Clock, events and executor without a scheduler (`flowc run`, `flowc dlq redrive`)."""
        assert self.app is not None
        if self.executor is None:
            self._wire()
            self._register_versions(self.app)
            self.recover()
            self._record_missed({})

    def run_once(self, task_name: str, retries: bool = True,
                 input: str | None = None) -> RunOutcome:
        """`flowc run`: one run of one task, in this thread, the same way as `flowc dev`;
        `input` (JSON object text) replaces the task's."""
        self.start_executor()
        assert self.app is not None and self.executor is not None
        self.executor.retries_enabled = retries
        return self.executor.run_now(self.app, self.app.task(task_name), input)

    def close(self, drain: bool = False, grace: float | None = None) -> None:
        """Stop in order. `drain` (the window is over): runs in flight finish their attempt
        (retries due after the window are abandoned, executor.py) unless `wait`'s stop event
        is set meanwhile (Ctrl-C): then they get `grace`."""
        if self._closed:
            return
        self._closed = True
        grace = self.options.grace if grace is None else grace
        if self.scheduler is not None:
            if drain:  # the window's last instant is due exactly now: fire it first
                self.scheduler.wait_done(timeout=max(grace, 1.0))
            self.scheduler.stop()
        if self.watcher is not None:
            self.watcher.stop()
        if self.services is not None:
            self.services.stop(grace)
        if self.executor is not None:
            if drain and self.executor.wait_idle(None, self._stop):
                self.executor.shutdown(0)
            else:
                self.executor.shutdown(grace)
        if self.history is not None:
            self._close_open_runs()
            if self._heartbeat is not None and not self.fault.is_set():
                self._beat()  # downtime starts now
            self.history.close()
        if self._writer is not None:
            self._writer.close()
        report = self.storage_report()
        if report:
            self.view.message(report)
        if self.cloud is not None and self.cloud.failure is not None and not self._cloud_failed:
            self.settle_cloud()  # prints E507 (a `flowc run` does not wait to find out)
        self.view.stop()
        if self.cloud is not None and self._owns_cloud:
            self.cloud.stop()
            self._remove_cloud_file()
        self.lock.release()


def _only(app: App, names: tuple[str, ...]) -> tuple[App, Diagnostic | None]:
    """The app with just the named tasks and services, or a diagnostic for an unknown name."""
    known = [t.name for t in app.tasks] + [s.name for s in app.services]
    for name in names:
        if name not in known:
            from flowc.compiler.values import did_you_mean

            return app, Diagnostic(
                "E506", f"--only {name}: no task or service of that name",
                help=did_you_mean(name, known, "the spec has") or "the spec has "
                + (", ".join(known) or "nothing to run"),
            )  # fmt: skip
    return dataclasses.replace(
        app, tasks=tuple(t for t in app.tasks if t.name in names),
        services=tuple(s for s in app.services if s.name in names),
    ), None  # fmt: skip


def _relative(path: str, base: Path) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(base)) if p.is_relative_to(base) else str(p)


def _readers(app: App, secret: str) -> str:
    """Who W501 warns about: "tasks", "services" or "tasks and services" that use `secret`."""
    kinds = [kind for kind, units in (("tasks", app.tasks), ("services", app.services))
             if any(secret in unit.secrets for unit in units)]
    return " and ".join(kinds) or "tasks and services"
