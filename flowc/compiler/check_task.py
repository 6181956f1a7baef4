"""Checks one `task NAME { ... }` block and builds its `ir.Task`.

A task's value for a setting comes from the task, else the selected environment,
else `defaults { }`, else the built-in default below. Schedules are parsed and
translated for each of the task's targets here, once, so targets only read them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flowc.compiler import check_operations as operations
from flowc.compiler import ir, schedules, settings
from flowc.compiler.check_release import release_settings, resolve_release
from flowc.compiler.imports import import_problems
from flowc.compiler.schedule_sources import schedule_sources
from flowc.compiler.settings import TASK_SETTINGS, Context, SettingsLayer
from flowc.compiler.values import (
    EMAIL_RE,
    HANDLER_RE,
    Reader,
    did_you_mean,
)
from flowc.diagnostics import Diagnostic
from flowc.grammar import syntax as s
from flowc.targets import registry

# What a task block holds besides its settings (flowc.compiler.settings.TASK_SETTINGS).
STRUCTURE_KEYS = ("python", "image", "command", "schedule", "alert", "release")
TASK_KEYS = STRUCTURE_KEYS + TASK_SETTINGS.keys()
BLOCK_KEYS = ("release", *TASK_SETTINGS.block_keys())

ALERT_METRICS = {"errors": "failed runs in 5 minutes", "duration": "run duration in seconds"}
COMPARATORS = (">", ">=", "<", "<=")
# What `_handler` says about a task's or a service's `python`/`image`/`command`.
HANDLER_WORDS: dict[str, dict[str, str]] = {
    "task": {
        "both": "a task runs either python code or a container image: keep one",
        "neither": 'add `python = "module:function"` or `image = "repo/name:tag"`',
        "command": "remove `command`; the python handler is the `module:function` it names",
        "python": '"jobs.daily:main"', "form": "module:function", "attr": "a function name",
        "image": '"busybox:1.36"', "command_example": '["sh", "-c", "echo hi"]',
    },
    "service": {
        "both": "a service runs either a python app or a container image: keep one",
        "neither": 'add `python = "app.main:app"` (an ASGI or WSGI app) or '
                   '`image = "repo/name:tag"`',
        "command": "remove `command`; flowc serves the `module:app` it names",
        "python": '"app.main:app"', "form": "module:app", "attr": "the ASGI/WSGI app's name",
        "image": '"ghcr.io/acme/api:1.4"', "command_example": '["uvicorn", "app:app"]',
    },
}


class TaskChecker:
    def __init__(self, read: Reader, path: str, base_dir: str, secrets: set[str],
                 shared_release: dict[str, s.Assign] | None = None,
                 layers: dict[str, ir.Layer] | None = None):
        self.read = read
        self.shared_release = shared_release or {}
        self.layers = layers or {}
        self.path = path
        self.base_dir = base_dir
        self.secrets = secrets
        self.used_secrets: set[str] = set()
        # Values of `defaults`/`environment` settings, read once for all tasks, so an
        # error there is reported once, not once per task.
        self._shared_values: dict[int, object] = {}

    def context(self, name: str, kind: str | None) -> Context:
        """What the settings readers of one block see (flowc.compiler.settings)."""
        return Context(self.read, self.base_dir, self.secrets, self.used_secrets, self.layers,
                       name, kind, self._shared_values)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.read.diagnostics

    def check(self, block: s.Block, defaults: SettingsLayer,
              env_layer: SettingsLayer) -> ir.Task | None:
        errors_before = sum(d.is_error for d in self.diagnostics)
        name = block.label.name
        own: dict[str, s.Assign | s.Block] = {}
        alerts: list[s.AlertStmt] = []
        for stmt in block.body:
            if isinstance(stmt, s.AlertStmt):
                alerts.append(stmt)
                continue
            key = stmt.keyword.name if isinstance(stmt, s.Block | s.Decl) else stmt.key.name
            shape_ok = (isinstance(stmt, s.Block) if key in BLOCK_KEYS
                        else isinstance(stmt, s.Assign))
            if key not in TASK_KEYS or not shape_ok:
                if key in BLOCK_KEYS:
                    self.read.error("E109", f"`{key}` is a block", stmt.span,
                                    help=f"write `{key} {{ ... }}`")
                else:
                    self.read.error("E102", f"unknown setting `{key}` in task `{name}`",
                                    stmt.keyword.span if isinstance(stmt, s.Block | s.Decl)
                                    else stmt.key.span,
                                    help=did_you_mean(key, TASK_KEYS, "a task accepts"))
                continue
            if key in own:
                self.read.error("E103", f"`{key}` is set twice in task `{name}`",
                                stmt.keyword.span if isinstance(stmt, s.Block) else stmt.key.span,
                                help="keep one of them")
                continue
            own[key] = stmt

        def pick(key: str):
            return settings.pick(key, own, (env_layer, defaults))

        handler = self._handler(name, block, own)
        ctx = self.context(name, handler.kind if handler is not None else None)
        values = settings.resolve(TASK_SETTINGS, own, (env_layer, defaults), ctx)
        ir_alerts = tuple(a for a in (self._alert(a) for a in alerts) if a is not None)

        sched_node = own.get("schedule")
        if sched_node is None:
            self.read.error("E123", f"task `{name}` has no schedule", block.span,
                            help='add `schedule = "Mon..Fri 09:00"` (or cron(...), every, at(...))')
            parsed: list = []
        else:
            parsed = self._schedules(sched_node.value, values["timezone"] or "UTC")

        whole = operations.task_window(self, values["active_from"], values["active_until"],
                                       (pick("until") or pick("from") or block).span)
        values["windows"] = (operations.entry_windows(self, sched_node.value, whole)
                             if sched_node is not None else ())
        if handler is None:
            return None
        release = resolve_release(
            self.read, name, values["targets"], handler.kind,
            release_settings(self.read, own.get("release"), f"task `{name}` release"),
            self.shared_release)
        task = ir.Task(name=name, handler=handler, schedules=tuple(parsed), alerts=ir_alerts,
                       code_dir=".", span=block.span, release=release, **values)
        self._limits(task, own, pick)
        target_schedules = self._translate(task, sched_node)
        if sum(d.is_error for d in self.diagnostics) > errors_before:
            return None
        return _replace(task, target_schedules=target_schedules)

    # ---- what a task holds besides its settings -----------------------------------------

    def _handler(self, name: str, block: s.Block, own: dict,
                 unit: str = "task") -> ir.Handler | None:
        """The python or image handler of a task (or service: `unit`, see HANDLER_WORDS)."""
        words = HANDLER_WORDS[unit]
        py, image, command = own.get("python"), own.get("image"), own.get("command")
        if py is not None and image is not None:
            self.read.error("E105", f"{unit} `{name}` has both `python` and `image`", image.span,
                            help=words["both"])
            return None
        if py is None and image is None:
            self.read.error("E106", f"{unit} `{name}` has neither `python` nor `image`",
                            block.span, help=words["neither"])
            return None
        if py is not None:
            if command is not None:
                self.read.error("E108", "`command` goes with `image`, not `python`",
                                command.key.span, help=words["command"])
            target = self.read.string("python", py.value, words["python"])
            if target is None:
                return None
            if not HANDLER_RE.match(target):
                self.read.error("E107", f"`python = \"{target}\"` is not `{words['form']}`",
                                py.value.span, help=f"write it like `python = {words['python']}`"
                                f" (a dotted module, a colon, {words['attr']})")
                return None
            module, function = target.split(":")
            mod_path = Path(self.base_dir, *module.split("."))
            if not (mod_path.with_suffix(".py").is_file() or (mod_path / "__init__.py").is_file()):
                self.diagnostics.append(Diagnostic(
                    "W103", f"module `{module}` not found next to the spec", py.value.span,
                    help=f"create {mod_path.with_suffix('.py')}; code is looked up relative "
                    "to the .flow file"))
            problems = import_problems(self.base_dir, module, py.value.span)
            self.diagnostics.extend(problems)
            if any(d.is_error for d in problems):
                return None
            return ir.PythonHandler(module, function)
        ref = self.read.string("image", image.value, words["image"])
        cmd: tuple[str, ...] = ()
        if command is not None:
            cmd = self.read.strings("command", command.value, words["command_example"]) or ()
        if ref is None:
            return None
        if not ref.strip() or any(c.isspace() for c in ref):
            self.read.error("E107", f"`image = \"{ref}\"` is not an image reference",
                            image.value.span, help=f"write it like `image = {words['image']}`")
            return None
        return ir.ImageHandler(ref, cmd)

    def _alert(self, stmt: s.AlertStmt) -> ir.Alert | None:
        metric = self.alert_metric(stmt, ALERT_METRICS, "")
        if metric is None:
            return None
        threshold: float | None
        if metric == "duration":
            threshold = self.read.duration_s("alert duration", stmt.threshold)
        else:
            threshold = self.read.integer(f"alert {metric}", stmt.threshold, 0, 10**6, "0")
        return self.alert(stmt, metric, threshold)

    def alert_metric(self, stmt: s.AlertStmt, metrics, what: str) -> str | None:
        """The alert's metric if it is one of `metrics` and its comparison is supported."""
        metric = stmt.metric.name
        if metric not in metrics:
            self.read.error("E117", f"unknown {what}alert metric `{metric}`", stmt.metric.span,
                            help=did_you_mean(metric, metrics, f"{what}metrics are"))
            return None
        if stmt.comparator not in COMPARATORS:
            self.read.error("E117", f"comparison `{stmt.comparator}` is not supported in alerts",
                            stmt.span, help="use one of " + ", ".join(COMPARATORS))
            return None
        return metric

    def alert(self, stmt: s.AlertStmt, metric: str, threshold: float | None) -> ir.Alert | None:
        """The alert with its notify addresses checked; None if anything was wrong."""
        emails: list[str] = []
        for item in stmt.notify:
            email = self.read.string("notify", item, '"ops@example.com"')
            if email is None:
                continue
            if not EMAIL_RE.match(email):
                self.read.error("E118", f"`{email}` is not an email address", item.span,
                                help='write it like `notify "ops@example.com"`')
                continue
            emails.append(email)
        if threshold is None or len(emails) != len(stmt.notify):
            return None
        return ir.Alert(metric, stmt.comparator, float(threshold), tuple(emails), stmt.span)

    # ---- schedules --------------------------------------------------------------------

    def _schedules(self, value: s.Value, timezone: str) -> list:
        out = []
        for kind, text, span in schedule_sources(value, self.read):
            try:
                out.append(schedules.parse_schedule(kind, text, timezone, span))
                if kind == "at":
                    self._warn_if_past(out[-1], span)
            except schedules.ScheduleError as err:
                # parse_schedule narrows err.span to the faulty token when it can
                self.read.error(err.code, err.message, getattr(err, "span", None) or span,
                                help=err.help)
        return out

    def _warn_if_past(self, sched, span) -> None:
        when = schedules.at_datetime(sched.text).replace(tzinfo=schedules.get_zone(sched.timezone))
        if when < datetime.now(UTC):
            self.diagnostics.append(Diagnostic(
                "W302", f"{sched.source} is in the past ({sched.timezone}): the task never runs",
                span, help="give a future time, or remove this schedule"))

    def _translate(self, task: ir.Task, node) -> tuple[ir.TargetSchedule, ...]:
        out: list[ir.TargetSchedule] = []
        for target in task.targets:
            for index, sched in enumerate(task.schedules):
                span = sched.span or (node.value.span if node is not None else task.span)
                try:
                    expressions = registry.get(target).translate(sched)
                except schedules.Untranslatable as err:
                    self.read.error(err.code, f"task `{task.name}` cannot be scheduled on "
                                    f"{target}: {err.message}", span, help=err.help)
                    continue
                for warning in registry.get(target).schedule_warnings(sched):
                    self.diagnostics.append(Diagnostic(
                        warning.code, f"task `{task.name}` on {target}: {warning.message}",
                        span, warning.help, target=target))
                # A zone written in a calendar string ("Mon 09:00 Europe/Paris") wins.
                out.extend(ir.TargetSchedule(target, e, sched.timezone, index)
                           for e in expressions)
        return tuple(out)

    def _limits(self, task: ir.Task, own: dict, pick) -> None:
        for target in task.targets:
            lim = registry.get(target).limits_for(task.handler.kind)
            where = f"task `{task.name}` on {target} ({lim.runtime})"
            if lim.max_timeout_s is not None and task.timeout_s > lim.max_timeout_s:
                node = pick("timeout")
                self.read.error("E201", f"{where}: timeout {_human(task.timeout_s)} is over "
                                f"the limit of {_human(lim.max_timeout_s)}",
                                node.value.span if node is not None else task.span,
                                help=f"{lim.runtime} allows at most {_human(lim.max_timeout_s)}"
                                + (f"; {lim.longer_help}" if lim.longer_help else ""))
            if lim.max_memory_mib is not None and not (
                    lim.min_memory_mib <= task.memory_mib <= lim.max_memory_mib):
                node = pick("memory")
                self.read.error("E202", f"{where}: memory {task.memory_mib}MB is outside "
                                f"{lim.min_memory_mib}MB..{lim.max_memory_mib}MB",
                                node.value.span if node is not None else task.span,
                                help=f"set `memory` between {lim.min_memory_mib}MB and "
                                f"{lim.max_memory_mib}MB for {lim.runtime}")
            if lim.max_retries is not None and task.retries > lim.max_retries:
                node = pick("retries")
                self.read.error("E203", f"{where}: {task.retries} retries is over the limit of "
                                f"{lim.max_retries}",
                                node.value.span if node is not None else task.span,
                                help=f"set `retries = {lim.max_retries}` or fewer")
            if lim.cpu_ignored and task.cpu is not None and "cpu" in own:
                self.diagnostics.append(Diagnostic(
                    "W201", f"{where}: `cpu` is ignored; CPU follows memory",
                    own["cpu"].value.span, help="raise `memory` for more CPU on this target",
                    target=target))


def _human(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _replace(task: ir.Task, **changes) -> ir.Task:
    from dataclasses import replace

    return replace(task, **changes)
