"""What a target declares, and the registry of declared targets.

Like sqlglot's dialects: each back end is one package, `flowc/targets/<name>/`, whose
`__init__.py` declares one `Target` (its facts, as data) and is registered once, in
`flowc/targets/__init__.py`. Everything else -- the names `targets = [...]` accepts, the
keys of an environment's `<name> { }` block, runtime limits, schedule translation and
DST warnings, `--target` choices, cost -- reads the registry, never a list of names.

A declaration stays cheap to import (`flowc check` imports every one): the builder and
the pricing provider are named as "module:attribute" and imported on first use.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowc.compiler.schedules.dst import DstPolicy, schedule_warnings
from flowc.compiler.schedules.errors import ScheduleWarning, Untranslatable
from flowc.compiler.schedules.model import Schedule
from flowc.compiler.schedules.spec import Rule

if TYPE_CHECKING:
    from flowc.diagnostics import Diagnostic
    from flowc.targets.service_fit import ServiceFit


@dataclass(frozen=True)
class RuntimeLimits:
    """What the product running one kind of task allows; None: no limit flowc knows."""

    runtime: str  # the product's name, for messages
    min_memory_mib: int | None = None
    max_memory_mib: int | None = None
    max_timeout_s: int | None = None
    max_retries: int | None = None
    cpu_ignored: bool = False  # the product sizes CPU from memory
    supports_canary: bool = False  # can split scheduled runs between two versions
    longer_help: str = ""  # what to do when the timeout does not fit


@dataclass(frozen=True)
class ReservedEnv:
    """Env var names the product running one kind of task sets itself (E-code in
    flowc.targets.env_rules when a spec sets one)."""

    runtime: str  # who reserves them, for messages
    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackendKind:
    """A Terraform state backend a target accepts: `backend KIND { ... }`."""

    kind: str  # "s3", "gcs", "kubernetes"
    required: tuple[str, ...]  # settings it must have
    environment_level: bool = False  # may also stand directly in `environment NAME { }`


@dataclass(frozen=True)
class Target:
    """One back end's facts. `settings` is the dataclass of its environment block.

    The block `NAME { key = value }` accepts each field of `settings` but `backend`;
    a field's type says how its value is read (see flowc.compiler.check). `builder`
    names an object with `check(app) -> [Diagnostic]` and `build(app, stack)`;
    `pricing` a cost provider (flowc.cost.providers), or None when flowc has no prices.
    """

    name: str  # as written in `targets = [...]`, `--target` and the environment block
    title: str  # for people: "AWS"
    settings: type  # frozen dataclass; every field has a default
    limits: Mapping[str, RuntimeLimits]  # task kind ("python", "image") -> limits
    cron: Callable[[Schedule], list[str]]  # the target's cron dialect; raises Untranslatable
    dst: DstPolicy  # what its scheduler does in DST gaps and repeated hours
    builder: str  # "module:attribute"
    backends: tuple[BackendKind, ...] = ()
    pricing: str | None = None  # "module:attribute"
    # reads its own expressions back into the schedule model (`flowc report`); None: no reader
    read_cron: Callable[[str], tuple[Rule, ...]] | None = None
    # reports what it cannot honour of a service (E230/W230, flowc.targets.service_fit)
    service_limits: Callable[[ServiceFit], None] | None = None
    # what it cannot do of its tasks' operations settings (flowc/targets/operations.py)
    operations: Callable[[Any], list[Diagnostic]] | None = None
    # unit kind ("python", "image"; "image service" etc. where a service's runtime differs
    # from a task's) -> env var names that runtime reserves
    reserved_env: Mapping[str, ReservedEnv] = dataclasses.field(default_factory=dict)

    @property
    def setting_keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.settings) if f.name != "backend")

    def settings_of(self, app: Any) -> Any:
        """The app's settings for this target (the defaults when it sets none)."""
        return app.settings.get(self.name) or self.settings()

    def limits_for(self, kind: str) -> RuntimeLimits:
        return self.limits.get(kind) or RuntimeLimits(self.title)

    def translate(self, schedule: Schedule) -> list[str]:
        """Expressions whose union fires exactly at the schedule's local times.

        Raises Untranslatable (the message names the reason; the caller adds the task)
        with `.span` set to the schedule's span.
        """
        try:
            return self.cron(schedule)
        except Untranslatable as err:
            err.span = err.span or schedule.span
            raise

    def schedule_warnings(self, schedule: Schedule,
                          start: datetime | None = None) -> list[ScheduleWarning]:
        """Where this target's scheduler and flowc disagree around DST changes."""
        return schedule_warnings(schedule, self.name, self.dst, start)

    def load_builder(self) -> Any:
        return _load(self.builder)

    def load_pricing(self) -> Any | None:
        return _load(self.pricing) if self.pricing else None


@functools.cache
def _load(ref: str) -> Any:
    """The object "module:attribute" names (an instance, if it names a class)."""
    module, _, attr = ref.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    return obj() if isinstance(obj, type) else obj


_REGISTRY: dict[str, Target] = {}


def register(target: Target) -> Target:
    """Add a target (its name must be new); returns it, so a declaration can be one line."""
    if target.name in _REGISTRY:
        raise ValueError(f"target {target.name!r} is registered twice")
    _REGISTRY[target.name] = target
    return target


def unregister(name: str) -> None:
    """Remove a target (tests that declare their own use it to clean up)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> Target:
    """The target registered as `name` (KeyError if none)."""
    return _REGISTRY[name]


def names() -> tuple[str, ...]:
    """Every registered target's name, in registration order (the canonical order)."""
    return tuple(_REGISTRY)


def all_targets() -> tuple[Target, ...]:
    return tuple(_REGISTRY.values())


def backend_kinds() -> dict[str, tuple[Target, BackendKind]]:
    """Backend kind -> the target that accepts it and its declaration."""
    return {b.kind: (t, b) for t in _REGISTRY.values() for b in t.backends}
