"""The settings table: one declaration per setting a task (or another block kind) takes.

A `Setting` says how its value is read, its built-in default, whether `defaults { }`
and `environment NAME { }` may set it, which `ir` field it fills, and whether it is
part of a deployed function version (`flowc.releases.hashing.function_hash`). The
checker, the layering, the IR construction and the hash all read `TASK_SETTINGS`;
adding a setting is one entry here plus its `ir.Task` field.

Layers, highest first: the block's own value, the selected environment, `defaults { }`,
the built-in default. A value that cannot be read is reported and replaced by the
default, so checking goes on and one run reports every problem.

A new block kind (a `service`) builds its own table from these entries
(`dataclasses.replace(MEMORY, default=512)`) and resolves it with `resolve`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.compiler import check_operations as ops
from flowc.compiler import ir
from flowc.compiler.check_release import task_layers
from flowc.compiler.values import ENV_NAME_RE, Reader, did_you_mean
from flowc.grammar import syntax as s
from flowc.targets import registry

Node = s.Assign | s.Block
ON_FAILURE = ("dead_letter", "discard")  # discard: opt out, failed runs are only logged
# Image tasks default to the smallest size every target runs: ECS Fargate and Cloud Run
# jobs take at least 512 MiB (each target's declared limits).
IMAGE_MEMORY_MIB = 512


@dataclass
class SettingsLayer:
    """Settings one `defaults`/`environment` block gives, as syntax nodes by key.

    (Not `ir.Layer`, which is a `layer NAME { }` of shared dependencies.)
    """

    settings: dict[str, Node] = field(default_factory=dict)


@dataclass
class Context:
    """What readers and defaults may look at besides the value itself."""

    read: Reader
    base_dir: str
    secrets: set[str]  # declared `secret NAME`s
    used_secrets: set[str]  # filled by the env reader: secrets some block reads
    layers: dict[str, ir.Layer]  # declared `layer NAME { }`s
    name: str = ""  # the task's (or service's) name, for messages
    kind: str | None = None  # its handler kind ("python", "image"), None if unknown
    # id(node) -> value, so a `defaults`/`environment` value is read (and any error
    # reported) once for all the blocks that inherit it
    shared_values: dict[int, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Setting:
    key: str  # as written in the spec
    read: Callable[[Context, Any], Any]  # node (or nodes, when `merge`) -> value, None: error
    default: Any = None  # or a function of the Context
    field: str = ""  # the ir field it fills (default: `key`)
    shared: bool = True  # `defaults { }` and `environment NAME { }` may set it
    block: bool = False  # written `key { ... }`, not `key = value`
    merge: bool = False  # every layer's block is read, lowest first (env); else nearest wins
    deploys: bool = False  # part of a deployed function version (function_hash)
    to_ir: Callable[[Any], Any] = lambda value: value  # the read value as the ir field holds it
    hash_form: Callable[[Any], Any] | None = None  # the ir value as function_hash digests it

    @property
    def ir_field(self) -> str:
        return self.field or self.key

    def default_for(self, ctx: Context) -> Any:
        return self.default(ctx) if callable(self.default) else self.default


class Table(tuple):
    """An ordered tuple of Settings (resolution order) with lookups by key."""

    def __new__(cls, settings: Iterable[Setting]) -> Table:
        return super().__new__(cls, tuple(settings))

    def keys(self) -> tuple[str, ...]:
        return tuple(x.key for x in self)

    def get(self, key: str) -> Setting | None:
        return next((x for x in self if x.key == key), None)

    def shared_keys(self) -> tuple[str, ...]:
        return tuple(x.key for x in self if x.shared)

    def block_keys(self) -> tuple[str, ...]:
        return tuple(x.key for x in self if x.block)


def pick(key: str, own: dict[str, Node], layers: Sequence[SettingsLayer]) -> Node | None:
    """The node that gives `key`: the block's own, else the nearest layer's."""
    for settings in (own, *(layer.settings for layer in layers)):
        if key in settings:
            return settings[key]
    return None


def resolve(table: Table, own: dict[str, Node], layers: Sequence[SettingsLayer],
            ctx: Context) -> dict[str, Any]:
    """ir field -> value for every setting of `table`. `layers`: environment, then defaults."""
    values: dict[str, Any] = {}
    for setting in table:
        chain = (own, *(layer.settings for layer in layers)) if setting.shared else (own,)
        if setting.merge:
            nodes = [c[setting.key] for c in reversed(chain) if setting.key in c]
            value = setting.read(ctx, nodes) if nodes else None
        else:
            node = next((c[setting.key] for c in chain if setting.key in c), None)
            value = None if node is None else read_value(setting, ctx, node,
                                                          shared=node is not own.get(setting.key))
        values[setting.ir_field] = setting.to_ir(
            setting.default_for(ctx) if value is None else value)
    return values


def read_value(setting: Setting, ctx: Context, node: Node, shared: bool = False) -> Any:
    """One node's value (None if it cannot be read); a shared node is read once."""
    if not shared:
        return setting.read(ctx, node)
    if id(node) not in ctx.shared_values:
        ctx.shared_values[id(node)] = setting.read(ctx, node)
    return ctx.shared_values[id(node)]


# ---- readers --------------------------------------------------------------------------

def _cpu(ctx: Context, node: s.Assign) -> float | None:
    cpu = ctx.read.number("cpu", node.value, "0.5")
    if cpu is not None and not 0 < cpu <= 64:
        ctx.read.error("E112", f"`cpu` must be more than 0 and at most 64, not {cpu:g}",
                       node.value.span, help="for example `cpu = 0.5` or `cpu = 2`")
        return None
    return cpu


def _on_failure(ctx: Context, node: s.Assign) -> str | None:
    return ctx.read.keyword("on_failure", node.value, ON_FAILURE, "E116",
                            help="write `on_failure = dead_letter` to keep failed runs")


def _targets(ctx: Context, node: s.Assign) -> tuple[str, ...] | None:
    value, read = node.value, ctx.read
    if not isinstance(value, s.ListValue):
        read.expect("targets", value, "a list of targets", "[aws, k8s]")
        return None
    chosen: set[str] = set()
    known = registry.names()
    ok = True
    for item in value.items:
        word = item.name if isinstance(item, s.Ident) else (
            item.value if isinstance(item, s.Str) else None)
        if word not in known:
            shown = word if word is not None else s.kind_of(item)
            read.error("E115", f"unknown target `{shown}`", item.span,
                       help=did_you_mean(str(word), known, "targets are")
                       or "targets are " + ", ".join(known))
            ok = False
        else:
            chosen.add(word)
    if ok and not chosen:
        read.error("E115", "`targets` is empty", value.span,
                   help="list at least one of " + ", ".join(f"`{t}`" for t in known))
        return None
    return tuple(t for t in known if t in chosen) if ok else None


def _requirements(ctx: Context, node: s.Assign) -> str | None:
    rel = ctx.read.string("requirements", node.value, '"requirements.txt"')
    if rel is None:
        return None
    if not (Path(ctx.base_dir) / rel).is_file():
        ctx.read.error("E119", f"requirements file `{rel}` not found next to the spec",
                       node.value.span, help=f"create {Path(ctx.base_dir) / rel} "
                       "or fix the path (it is relative to the .flow file)")
        return None
    return rel


def _default_requirements(ctx: Context) -> str | None:
    return "requirements.txt" if (Path(ctx.base_dir) / "requirements.txt").is_file() else None


def read_env(ctx: Context, blocks: list[s.Block]) -> tuple[ir.EnvVar, ...]:
    """`env { }` blocks, lowest layer first, merged by name; sorted by name."""
    merged: dict[str, ir.EnvVar] = {}
    for block in blocks:
        seen: set[str] = set()
        for stmt in block.body:
            if not isinstance(stmt, s.Assign):
                ctx.read.error("E109", "an `env` block holds `NAME = value` lines",
                               stmt.span, help='write `NAME = "value"` or `NAME = secret.x`')
                continue
            var = stmt.key.name
            if not ENV_NAME_RE.match(var):
                ctx.read.error("E101", f"invalid environment variable name `{var}`",
                               stmt.key.span, help="use letters, digits and `_`")
                continue
            if var in seen:
                ctx.read.error("E103", f"`{var}` is set twice in this `env` block",
                               stmt.key.span, help="keep one of them")
                continue
            seen.add(var)
            value = _env_value(ctx, var, stmt.value)
            if value is not None:
                merged[var] = ir.EnvVar(var, value, stmt.span)
    return tuple(merged[k] for k in sorted(merged))


def _env_value(ctx: Context, var: str, value: s.Value) -> str | ir.SecretRef | None:
    if isinstance(value, s.Str):
        return value.value
    if isinstance(value, s.Int | s.Float):
        return value.raw
    if isinstance(value, s.Ref):
        if value.namespace.name != "secret":
            ctx.read.error("E125", f"unknown reference `{value.namespace.name}.`",
                           value.namespace.span, help="only `secret.NAME` can be referenced")
            return None
        secret = value.name.name
        if secret not in ctx.secrets:
            hint = did_you_mean(secret, ctx.secrets)
            ctx.read.error("E114", f"secret `{secret}` is not declared", value.name.span,
                           help=hint or f"declare it at the top level: `secret {secret}`")
            return None
        ctx.used_secrets.add(secret)
        return ir.SecretRef(secret)
    ctx.read.expect(var, value, "a string or `secret.NAME`", '"value"')
    return None


def _env_hash_form(env: tuple[ir.EnvVar, ...]) -> list:
    return [[v.name, {"secret": v.value.secret} if isinstance(v.value, ir.SecretRef)
             else v.value] for v in env]


def _include(ctx: Context, node: s.Assign) -> tuple[str, ...] | None:
    """`include = ["data/*.json", "templates"]`: files a python task ships besides the
    modules it imports (flowc/targets/task_code.py)."""
    if ctx.kind == "image":
        ctx.read.error("E139", f"`include` is for python tasks; image task `{ctx.name}` ships "
                       "its image", node.key.span, help="remove `include`")
        return ()
    return ctx.read.strings("include", node.value, '["data/*.json"]')


def _layers(ctx: Context, node: s.Assign) -> tuple[str, ...]:
    return task_layers(ctx.read, node, ctx.layers, ctx.name, ctx.kind or "python")


# ---- the task settings ----------------------------------------------------------------

TIMEZONE = Setting("timezone", lambda c, n: c.read.timezone("timezone", n.value), "UTC")
MEMORY = Setting("memory", lambda c, n: c.read.size_mib("memory", n.value),
                 lambda c: IMAGE_MEMORY_MIB if c.kind == "image" else 256,
                 field="memory_mib", deploys=True)
CPU = Setting("cpu", _cpu, None, deploys=True)
TIMEOUT = Setting("timeout", lambda c, n: c.read.duration_s("timeout", n.value), 300,
                  field="timeout_s", deploys=True)
# 2: as AWS Lambda retries an asynchronous invocation by default
RETRIES = Setting("retries", lambda c, n: c.read.integer("retries", n.value, 0, 185, "2"), 2)
# Production-grade by default: failed runs (after retries) are kept, never lost.
ON_FAILURE_SETTING = Setting("on_failure", _on_failure, "dead_letter",
                             to_ir=lambda v: None if v == "discard" else v)
TARGETS = Setting("targets", _targets, lambda c: registry.names())
REQUIREMENTS = Setting("requirements", _requirements, _default_requirements)
ENV = Setting("env", read_env, (), block=True, merge=True, deploys=True,
              hash_form=_env_hash_form)
DESCRIPTION = Setting("description", lambda c, n: c.read.string("description", n.value),
                      shared=False, deploys=True)
LAYERS = Setting("layers", _layers, (), shared=False, deploys=True, to_ir=tuple)
INCLUDE = Setting("include", _include, (), shared=False, deploys=True, to_ir=tuple)

# Operations (SPEC §6): readers in check_operations.py, targets in targets/<name>/operations.py.
OVERLAP = Setting("overlap", ops.read_overlap, "skip")
CATCH_UP = Setting("catch_up", ops.Duration(1, ops.MAX_CATCH_UP_S, "1h", zero=True), 0,
                   field="catch_up_s")
ENABLED = Setting("enabled", ops.read_enabled, True)
JITTER = Setting("jitter", ops.Duration(1, ops.MAX_JITTER_S, "5m", zero=True), 0,
                 field="jitter_s")
INPUT = Setting("input", ops.read_input, None, deploys=True)  # FLOWC_INPUT in the function
FROM = Setting("from", ops.read_day_setting, field="active_from")
UNTIL = Setting("until", ops.read_day_setting, field="active_until")
RETRY_BACKOFF = Setting("retry_backoff", ops.Duration(1, ops.MAX_BACKOFF_S, "30s"), None,
                        field="retry_backoff_s")
MAX_AGE = Setting("max_age", ops.Duration(60, ops.MAX_AGE_S, "1h"), None, field="max_age_s")
PYTHON_VERSION = Setting("python_version", ops.read_python_version, ir.DEFAULT_PYTHON,
                         deploys=True)  # the function's runtime

TASK_SETTINGS = Table([TIMEZONE, MEMORY, CPU, TIMEOUT, RETRIES, ON_FAILURE_SETTING, TARGETS,
                       REQUIREMENTS, ENV, DESCRIPTION, LAYERS, INCLUDE, OVERLAP, CATCH_UP, ENABLED,
                       JITTER, INPUT, FROM, UNTIL, RETRY_BACKOFF, MAX_AGE, PYTHON_VERSION])
