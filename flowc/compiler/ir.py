"""The typed, immutable IR every target and the emulator read (never the parse tree).

The checker (`flowc.compiler.check`) builds it with defaults and the selected
environment's overrides already applied, so a consumer never re-derives settings.
Units are normalised: memory in MiB, durations in seconds, cpu in vCPUs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flowc.compiler.schedules.model import Schedule
from flowc.diagnostics import Span


@dataclass(frozen=True)
class SecretRef:
    """`secret.NAME` in an env block: the value lives in the target's secret store."""

    secret: str


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | SecretRef
    span: Span | None = field(default=None, compare=False)


def secret_names(env: tuple[EnvVar, ...]) -> tuple[str, ...]:
    """The secrets an env block reads, in order, without repeats."""
    seen: dict[str, None] = {}
    for var in env:
        if isinstance(var.value, SecretRef):
            seen.setdefault(var.value.secret, None)
    return tuple(seen)


@dataclass(frozen=True)
class Secret:
    name: str
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Alert:
    """`alert METRIC OP THRESHOLD notify "a@b", ...`.

    metric: "errors" (failed runs in a period), "duration" (seconds, max of a run),
    "dead_letters" (runs sent to the dead-letter queue). threshold is a number
    (seconds for duration).
    """

    metric: str
    comparator: str  # one of > >= < <=
    threshold: float
    notify: tuple[str, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PythonHandler:
    module: str
    function: str

    @property
    def kind(self) -> str:
        return "python"

    @property
    def entrypoint(self) -> str:
        return f"{self.module}:{self.function}"


@dataclass(frozen=True)
class ImageHandler:
    image: str
    command: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "image"


Handler = PythonHandler | ImageHandler


@dataclass(frozen=True)
class TargetSchedule:
    """One expression for one target; the union of a task's expressions is exact."""

    target: str
    expression: str  # e.g. "cron(0 9 ? * MON-FRI *)" (aws) or "0 9 * * 1-5" (gcp, k8s)
    timezone: str
    schedule_index: int  # which of the task's schedules it came from


@dataclass(frozen=True)
class Release:
    """How a new version goes live: `release { alias = "live" canary = 10% for = 30m }`.

    canary_percent is the share of runs the new version takes for canary_for_s seconds,
    after which it takes all of them; None means all at once. Where the alias points in a
    deployment is not the spec's: the release log decides it (flowc.releases.plan) and
    hands it to the AWS builder (flowc.targets.base.TaskRelease).
    """

    alias: str = "live"
    canary_percent: float | None = None
    canary_for_s: int | None = None


@dataclass(frozen=True)
class Layer:
    """`layer NAME { requirements = "..." }`: shared dependencies, packaged once."""

    name: str
    requirements: str  # path relative to App.base_dir
    span: Span | None = field(default=None, compare=False)


DEFAULT_PYTHON = "3.12"  # every target's python unless a task says (and services')


@dataclass(frozen=True)
class Window:
    """`from = "2027-01-01"` / `until = "2027-06-30"`: the days (in the schedule's zone,
    both included) when a schedule fires; None: open on that side."""

    start: str | None = None  # YYYY-MM-DD
    end: str | None = None

    def bounds(self, zone: str) -> tuple[datetime | None, datetime | None]:
        """The instants (UTC) the window opens and closes in `zone`: from the start of the
        `from` day to the end of the `until` day."""
        from zoneinfo import ZoneInfo

        def midnight(day: str | None, after: int) -> datetime | None:
            if day is None:
                return None
            local = datetime.combine(date.fromisoformat(day) + timedelta(days=after), time(),
                                     ZoneInfo(zone))
            return local.astimezone(UTC)

        return midnight(self.start, 0), midnight(self.end, 1)


@dataclass(frozen=True)
class Task:
    name: str
    handler: Handler
    schedules: tuple[Schedule, ...]
    timezone: str
    memory_mib: int
    cpu: float | None
    timeout_s: int
    retries: int
    env: tuple[EnvVar, ...]
    on_failure: str | None  # "dead_letter" (the default) or None (`on_failure = discard`)
    alerts: tuple[Alert, ...]
    targets: tuple[str, ...]  # registered target names (flowc.targets), in canonical order
    requirements: str | None  # path relative to App.base_dir, or None
    description: str | None
    code_dir: str  # directory holding the task code, relative to App.base_dir ("." by default)
    target_schedules: tuple[TargetSchedule, ...] = ()  # filled by the checker
    span: Span | None = field(default=None, compare=False)
    release: Release = Release()
    layers: tuple[str, ...] = ()  # names of App.layers this task uses, in order
    # -- operations (SPEC §6; what each target makes of them: README "Operations settings")
    overlap: str = "skip"  # a fire while a run is in flight: skip | allow | replace it
    catch_up_s: int = 0  # fires missed while the scheduler was down run if this recent
    enabled: bool = True  # False: deployed, but no fire starts a run (paused)
    jitter_s: int = 0  # each fire starts up to this many seconds late
    input: str | None = None  # JSON object text given to every run (event / FLOWC_INPUT)
    active_from: str | None = None  # `from = "YYYY-MM-DD"`: the task's first day
    active_until: str | None = None  # `until`: its last day (both in the schedule's zone)
    windows: tuple[Window, ...] = ()  # per schedule (same order): its from/until, resolved
    retry_backoff_s: int | None = None  # wait before the first retry (then doubling)
    max_age_s: int | None = None  # no attempt starts this long after the fire
    python_version: str = DEFAULT_PYTHON  # the interpreter of python tasks, on every target
    # files shipped besides the imported modules (python tasks; flowc/targets/task_code.py)
    include: tuple[str, ...] = ()

    def window(self, index: int) -> Window:
        """The validity window of schedule `index` (open when none was given)."""
        return self.windows[index] if index < len(self.windows) else Window()

    def schedules_for(self, target: str) -> tuple[TargetSchedule, ...]:
        return tuple(s for s in self.target_schedules if s.target == target)

    def runs_on(self, target: str) -> bool:
        return target in self.targets

    @property
    def secrets(self) -> tuple[str, ...]:
        """Names of the secrets this task reads, in env order, without repeats."""
        return secret_names(self.env)


@dataclass(frozen=True)
class Scaling:
    """`replicas = MIN..MAX` with `scale_on = cpu 70%`; fixed replicas have min == max."""

    min_replicas: int
    max_replicas: int
    metric: str = "cpu"  # "cpu" | "memory": average utilisation across replicas
    target_percent: float = 70.0

    @property
    def autoscaled(self) -> bool:
        return self.max_replicas > self.min_replicas


@dataclass(frozen=True)
class ServiceRelease:
    """`release { strategy = rolling | blue_green | canary 10% for 10m }`."""

    strategy: str = "rolling"
    canary_percent: float | None = None
    canary_for_s: int | None = None

    @property
    def alias(self) -> str:
        """The Lambda alias a python service on AWS is invoked through (tasks' default)."""
        return Release.alias


@dataclass(frozen=True)
class Service:
    """A long-running service (`port` set: HTTP behind a load balancer) or worker (no port).

    Alerts use the service metrics: error_rate and cpu/memory (percent), latency_p95
    (seconds), unhealthy (count of unhealthy replicas).
    """

    name: str
    handler: Handler  # PythonHandler: `module:attr` names an ASGI/WSGI app (or worker callable)
    port: int | None
    health: str | None  # HTTP path for readiness and liveness; None for a worker
    scaling: Scaling
    public: bool
    memory_mib: int
    cpu: float
    env: tuple[EnvVar, ...]
    alerts: tuple[Alert, ...]
    targets: tuple[str, ...]
    requirements: str | None
    description: str | None
    code_dir: str = "."
    release: ServiceRelease = ServiceRelease()
    span: Span | None = field(default=None, compare=False)
    layers: tuple[str, ...] = ()  # as Task.layers, so code packaging treats both alike

    @property
    def is_worker(self) -> bool:
        return self.port is None

    def runs_on(self, target: str) -> bool:
        return target in self.targets

    @property
    def secrets(self) -> tuple[str, ...]:
        return secret_names(self.env)


@dataclass(frozen=True)
class Backend:
    """Remote Terraform state: `backend s3 { bucket = "..." key = "..." }`."""

    kind: str  # "s3" | "gcs"
    settings: tuple[tuple[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.settings)


@dataclass(frozen=True)
class App:
    name: str
    source: str  # path of the .flow file as given
    base_dir: str  # directory of the .flow file; task code paths are relative to it
    environment: str | None  # selected environment, or None
    tasks: tuple[Task, ...]
    secrets: tuple[Secret, ...]
    # target name -> that target's settings dataclass (flowc.targets.get(name).settings),
    # as the selected environment's `NAME { }` block gives them; read them with
    # `flowc.targets.get(name).settings_of(app)`.
    settings: dict[str, Any] = field(default_factory=dict)
    environments: tuple[str, ...] = ()  # every environment declared in the file
    layers: tuple[Layer, ...] = ()
    services: tuple[Service, ...] = ()

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def services_for(self, target: str) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.runs_on(target))

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(name)

    def tasks_for(self, target: str) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.runs_on(target))

    @property
    def base_path(self) -> Path:
        return Path(self.base_dir)

    @property
    def stack_name(self) -> str:
        return f"{self.name}-{self.environment}" if self.environment else self.name


def unit_kind(unit: Task | Service) -> str:
    """"task" or "service": the user's word for either, in messages."""
    return "service" if isinstance(unit, Service) else "task"


def to_json(value: Any) -> Any:
    """Plain JSON data for `--emit ir`; each dataclass carries its type name."""
    if hasattr(value, "to_json") and not is_dataclass(value):
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_json"):
            return value.to_json()
        out: dict[str, Any] = {"type": type(value).__name__}
        for f in fields(value):
            v = getattr(value, f.name)
            out[f.name] = to_json(v)
        return out
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


__all__ = [
    "Alert",
    "App",
    "Backend",
    "EnvVar",
    "Handler",
    "ImageHandler",
    "Layer",
    "PythonHandler",
    "Release",
    "Scaling",
    "Schedule",
    "Secret",
    "Service",
    "ServiceRelease",
    "SecretRef",
    "TargetSchedule",
    "Task",
    "asdict",
    "to_json",
    "unit_kind",
]
