"""Checks one `service NAME { ... }` block and builds its `ir.Service` (SPEC §5).

Settings layer as for tasks: the service's own, else the selected environment, else
`defaults { }`, else the built-in default below (memory, cpu, targets, env, replicas
may come from the shared layers). What a target cannot honour is reported by
`flowc.compiler.service_limits`, at check and compile alike.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from flowc.compiler import ir, settings
from flowc.compiler.check_task import TaskChecker
from flowc.compiler.service_limits import service_limits
from flowc.compiler.values import did_you_mean
from flowc.diagnostics import Diagnostic
from flowc.grammar import syntax as s

if TYPE_CHECKING:
    from flowc.compiler.settings import SettingsLayer

DEFAULT_MEMORY_MIB = 512
DEFAULT_CPU = 0.25
# The settings a service shares with tasks (flowc.compiler.settings), with its own defaults.
SERVICE_SETTINGS = settings.Table([
    dataclasses.replace(settings.MEMORY, default=DEFAULT_MEMORY_MIB),
    dataclasses.replace(settings.CPU, default=DEFAULT_CPU),
    settings.TARGETS, settings.REQUIREMENTS, settings.ENV, settings.DESCRIPTION,
])
SERVICE_KEYS = ("python", "image", "command", "port", "health", "replicas", "scale_on",
                "public", "alert", "release", *SERVICE_SETTINGS.keys())
BLOCK_KEYS = ("release", *SERVICE_SETTINGS.block_keys())
# What `defaults { }` and `environment NAME { }` may set for every service.
SERVICE_SHARED_KEYS = (*SERVICE_SETTINGS.shared_keys(), "replicas")
MAX_REPLICAS = 1000
SCALE_METRICS = ("cpu", "memory")
DEFAULT_SCALE_PERCENT = 70.0
STRATEGIES = ("rolling", "blue_green", "canary")
DEFAULT_CANARY_FOR_S = 10 * 60
# metric -> (unit the threshold is read in, what it measures)
ALERT_METRICS = {
    "error_rate": ("percent", "share of requests answered 5xx, over 5 minutes"),
    "latency_p95": ("duration", "95th percentile response time, over 5 minutes"),
    "unhealthy": ("count", "replicas failing their health check"),
    "cpu": ("percent", "average CPU utilisation"),
    "memory": ("percent", "average memory utilisation"),
}


class ServiceChecker:
    """Reuses the task checker's readers for what services and tasks share (env, targets,
    memory, cpu, requirements), so both report the same diagnostics for the same mistake."""

    def __init__(self, tasks: TaskChecker):
        self.tasks = tasks
        self.read = tasks.read

    def check(self, block: s.Block, defaults: SettingsLayer,
              env_layer: SettingsLayer) -> ir.Service | None:
        errors_before = sum(d.is_error for d in self.read.diagnostics)
        name = block.label.name
        own, alerts = self._own(block, name)

        def pick(key: str):
            for layer in (own, env_layer.settings, defaults.settings):
                if key in layer:
                    return layer[key]
            return None

        handler = self.tasks._handler(name, block, own, unit="service")
        port = self._int(own.get("port"), "port", 1, 65535, "8000")
        health = self._health(own.get("health"), port, name)
        public = self._public(own.get("public"), port, name)
        scaling = self._scaling(pick("replicas"), own.get("scale_on"), name)
        values = settings.resolve(SERVICE_SETTINGS, own, (env_layer, defaults),
                                  self.tasks.context(name, handler.kind if handler else None))
        release = self._release(own.get("release"), name)
        ir_alerts = tuple(a for a in (self._alert(a, port) for a in alerts) if a is not None)
        if handler is None or scaling is None:
            return None
        service = ir.Service(
            name=name, handler=handler, port=port, health=health, scaling=scaling,
            public=bool(public), alerts=ir_alerts, release=release, span=block.span, **values,
        )  # fmt: skip
        self.read.diagnostics.extend(service_limits(service, own))
        if sum(d.is_error for d in self.read.diagnostics) > errors_before:
            return None
        return service

    def _own(self, block: s.Block, name: str):
        own: dict[str, s.Assign | s.Block] = {}
        alerts: list[s.AlertStmt] = []
        for stmt in block.body:
            if isinstance(stmt, s.AlertStmt):
                alerts.append(stmt)
                continue
            key = stmt.keyword.name if isinstance(stmt, s.Block | s.Decl) else stmt.key.name
            span = stmt.keyword.span if isinstance(stmt, s.Block | s.Decl) else stmt.key.span
            shape_ok = isinstance(stmt, s.Block) if key in BLOCK_KEYS else isinstance(
                stmt, s.Assign)
            if key not in SERVICE_KEYS or not shape_ok:
                if key in BLOCK_KEYS:
                    self.read.error("E109", f"`{key}` is a block", stmt.span,
                                    help=f"write `{key} {{ ... }}`")
                else:
                    self.read.error("E102", f"unknown setting `{key}` in service `{name}`", span,
                                    help=did_you_mean(key, SERVICE_KEYS, "a service accepts"))
                continue
            if key in own:
                self.read.error("E103", f"`{key}` is set twice in service `{name}`", span,
                                help="keep one of them")
                continue
            own[key] = stmt
        return own, alerts

    # ---- settings ---------------------------------------------------------------------

    def _int(self, node, key: str, lo: int, hi: int, example: str) -> int | None:
        return None if node is None else self.read.integer(key, node.value, lo, hi, example)

    def _health(self, node, port: int | None, name: str) -> str | None:
        if node is None:
            return None
        path = self.read.string("health", node.value, '"/health"')
        if path is None:
            return None
        if not path.startswith("/") or any(c.isspace() for c in path):
            self.read.error("E132", f"`health = \"{path}\"` is not an HTTP path", node.value.span,
                            help='write it like `health = "/health"`')
            return None
        if port is None:
            self.read.error("E132", f"service `{name}` has `health` but no `port`",
                            node.key.span, help="a worker has no HTTP health check: add "
                            "`port = 8000`, or remove `health`")
            return None
        return path

    def _public(self, node, port: int | None, name: str) -> bool:
        if node is None:
            return False
        public = self.read.boolean("public", node.value)
        if public and port is None:
            self.read.error("E133", f"service `{name}` is `public` but has no `port`",
                            node.key.span, help="a worker serves no requests: add "
                            "`port = 8000`, or remove `public`")
            return False
        return bool(public)

    def _scaling(self, replicas, scale_on, name: str) -> ir.Scaling | None:
        low = high = 1
        if replicas is not None:
            value = replicas.value
            if isinstance(value, s.Int):
                low = high = value.value
            elif isinstance(value, s.Range):
                low, high = value.low.value, value.high.value
            else:
                self.read.expect("replicas", value, "a number or a range", "3..10")
                return None
            if not (1 <= low <= high <= MAX_REPLICAS):
                self.read.error("E130", f"`replicas = {value.raw}` must be 1..{MAX_REPLICAS}, "
                                "lowest first", value.span,
                                help="for example `replicas = 3` or `replicas = 3..10`")
                return None
        metric, percent = "cpu", DEFAULT_SCALE_PERCENT
        if scale_on is not None:
            value = scale_on.value
            if not (isinstance(value, s.Phrase) and value.word.name in SCALE_METRICS
                    and isinstance(value.amount, s.Percent) and value.during is None):
                self.read.error("E131", "`scale_on` is `cpu N%` or `memory N%`", value.span,
                                help="for example `scale_on = cpu 70%`")
                return None
            metric, percent = value.word.name, value.amount.value
            if not 1 <= percent <= 100:
                self.read.error("E131", f"`scale_on` target {value.amount.raw} is not 1%..100%",
                                value.amount.span, help="for example `scale_on = cpu 70%`")
                return None
            if low == high:
                self.read.diagnostics.append(Diagnostic(
                    "W130", f"service `{name}` has a fixed number of replicas; `scale_on` "
                    "has nothing to scale", scale_on.key.span,
                    help=f"give a range: `replicas = {low}..{max(low * 3, low + 1)}`"))
        return ir.Scaling(low, high, metric, percent)

    def _release(self, block: s.Block | None, name: str) -> ir.ServiceRelease:
        if block is None:
            return ir.ServiceRelease()
        strategy: ir.ServiceRelease | None = None
        for stmt in block.body:
            if not isinstance(stmt, s.Assign) or stmt.key.name != "strategy":
                key = stmt.key.name if isinstance(stmt, s.Assign) else "alert"
                self.read.error("E102", f"unknown setting `{key}` in service `{name}` release",
                                stmt.span, help="a service's `release` block holds "
                                "`strategy = rolling | blue_green | canary 10% for 10m`")
                continue
            if strategy is not None:
                self.read.error("E103", f"`strategy` is set twice in service `{name}` release",
                                stmt.key.span, help="keep one of them")
                continue
            strategy = self._strategy(stmt.value)
        return strategy or ir.ServiceRelease()

    def _strategy(self, value: s.Value) -> ir.ServiceRelease | None:
        if isinstance(value, s.Ident) and value.name in ("rolling", "blue_green"):
            return ir.ServiceRelease(value.name)
        canary = value.word.name == "canary" if isinstance(value, s.Phrase) else (
            isinstance(value, s.Ident) and value.name == "canary")
        if isinstance(value, s.Phrase) and canary and isinstance(value.amount, s.Percent):
            percent = value.amount.value
            during = value.during.seconds if value.during is not None else DEFAULT_CANARY_FOR_S
            if 0 < percent < 100 and during >= 60:
                return ir.ServiceRelease("canary", percent, int(during))
            self.read.error("E134", f"`{value.raw}` needs a share between 0% and 100% and at "
                            "least 1m", value.span, help="for example `canary 10% for 10m`")
            return None
        self.read.error("E134", "`strategy` is `rolling`, `blue_green` or `canary N% for D`",
                        value.span, help=did_you_mean(getattr(value, "name", ""), STRATEGIES,
                                                      "strategies are")
                        or "for example `strategy = canary 10% for 10m`")
        return None

    def _alert(self, stmt: s.AlertStmt, port: int | None) -> ir.Alert | None:
        metric = self.tasks.alert_metric(stmt, ALERT_METRICS, "service ")
        if metric is None:
            return None
        if port is None and metric in ("error_rate", "latency_p95", "unhealthy"):
            self.read.error("E117", f"`{metric}` needs requests, and a worker has no `port`",
                            stmt.metric.span, help="alert a worker on `cpu` or `memory`")
            return None
        unit = ALERT_METRICS[metric][0]
        value = stmt.threshold
        threshold: float | None = None
        if unit == "percent":
            if isinstance(value, s.Percent) and 0 <= value.value <= 100:
                threshold = value.value
            else:
                self.read.expect(f"alert {metric}", value, "a percentage from 0% to 100%", "5%")
        elif unit == "duration":
            if isinstance(value, s.Duration) and value.seconds > 0:
                threshold = value.seconds
            else:
                self.read.expect(f"alert {metric}", value, "a duration", "500ms")
        else:
            threshold = self.read.integer(f"alert {metric}", value, 0, MAX_REPLICAS, "0")
        return self.tasks.alert(stmt, metric, threshold)
