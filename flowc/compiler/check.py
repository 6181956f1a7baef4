"""Syntax tree to IR: resolve defaults and the selected environment, reject what SPEC rejects.

Layers, lowest first: built-in defaults < `defaults { }` < the selected
`environment NAME { }` < the task's own settings. Every problem becomes a
diagnostic; checking goes on after an error so one run reports them all.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from flowc.compiler import ir
from flowc.compiler.check_release import check_layer, release_settings
from flowc.compiler.check_service import SERVICE_SHARED_KEYS, ServiceChecker
from flowc.compiler.check_task import TaskChecker
from flowc.compiler.settings import TASK_SETTINGS, SettingsLayer
from flowc.compiler.values import Reader, did_you_mean, name_fix
from flowc.diagnostics import Diagnostic, Span
from flowc.grammar import syntax as s
from flowc.targets import registry

TOP_LEVEL = {"app": "decl", "secret": "decl", "defaults": "block", "task": "block",
             "service": "block", "environment": "block", "release": "block", "layer": "block"}
LABELLED = ("task", "service", "environment", "layer")

# Settings that `defaults { }` and `environment NAME { }` may set for every task or service.
SHARED_KEYS = tuple(dict.fromkeys(TASK_SETTINGS.shared_keys() + SERVICE_SHARED_KEYS))
BLOCK_SETTINGS = TASK_SETTINGS.block_keys()


def check_file(tree: s.File, env: str | None = None) -> tuple[ir.App | None, list[Diagnostic]]:
    return _Checker(tree, env).run()


class _Checker:
    def __init__(self, tree: s.File, env: str | None):
        self.tree = tree
        self.path = tree.path
        self.env_name = env
        self.diagnostics: list[Diagnostic] = []
        self.read = Reader(self.diagnostics)

    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span or Span(self.path, 1, 1), help))

    # ---- top level --------------------------------------------------------------------

    def run(self) -> tuple[ir.App | None, list[Diagnostic]]:
        app_name: str | None = None
        defaults = SettingsLayer()
        secrets: dict[str, s.Decl] = {}
        tasks: dict[str, s.Block] = {}
        services: dict[str, s.Block] = {}
        environments: dict[str, s.Block] = {}
        seen_defaults: s.Block | None = None
        release: s.Block | None = None
        layers: dict[str, s.Block] = {}

        for stmt in self.tree.body:
            kw = _keyword(stmt)
            shape = TOP_LEVEL.get(kw) if kw else None
            if shape is None:
                self._unknown_top_level(stmt, kw)
                continue
            if not self._has_shape(stmt, kw, shape):
                continue
            if kw == "app":
                if app_name is not None:
                    self.error("E104", "`app` is declared twice", stmt.span,
                               help="keep one `app NAME` line")
                elif self.read.valid_name(stmt.name, "app"):
                    app_name = stmt.name.name
            elif kw == "secret":
                name = stmt.name
                if name.name in secrets:
                    self.error("E104", f"secret `{name.name}` is declared twice", name.span,
                               help="remove the second declaration")
                elif self.read.valid_name(name, "secret"):
                    secrets[name.name] = stmt
            elif kw == "release":
                if release is not None:
                    self.error("E104", "`release` block appears twice", stmt.span,
                               help="merge them into one `release { }` block")
                release = stmt
            elif kw == "defaults":
                if seen_defaults is not None:
                    self.error("E104", "`defaults` block appears twice", stmt.span,
                               help="merge them into one `defaults { }` block")
                    continue
                seen_defaults = stmt
                defaults = self._layer(stmt, "defaults")
            else:  # task / service / environment / layer
                table = {"task": tasks, "service": services, "environment": environments,
                         "layer": layers}[kw]
                label = stmt.label
                if label.name in table:
                    self.error("E104", f"{kw} `{label.name}` is declared twice", label.span,
                               help=f"rename one of them, or merge the two {kw} blocks")
                elif kw in ("task", "service") and label.name in (services, tasks)[
                        kw == "service"]:
                    other = "service" if kw == "task" else "task"
                    self.error("E104", f"{kw} `{label.name}` has the name of a {other}",
                               label.span, help="tasks and services share one namespace: "
                               "rename one of them")
                elif self.read.valid_name(label, kw):
                    table[label.name] = stmt

        env_layer = SettingsLayer()
        targets_settings: dict[str, dict] = {name: {} for name in registry.names()}
        for name, block in environments.items():
            layer, settings = self._environment(block)
            if name == self.env_name:
                env_layer, targets_settings = layer, settings
        if self.env_name is not None and self.env_name not in environments:
            help_text = did_you_mean(self.env_name, environments, "declared environments")
            self.error("E120", f"environment `{self.env_name}` is not declared in this file",
                       Span(self.path, 1, 1),
                       help=help_text or "add `environment NAME { ... }` or drop `--env`")

        base_dir = str(Path(self.path).parent)
        ir_layers = {name: layer for name, block in layers.items()
                     if (layer := check_layer(self.read, block, base_dir)) is not None}
        task_checker = TaskChecker(self.read, self.path, base_dir, set(secrets),
                                   release_settings(self.read, release, "`release`"), ir_layers)
        ir_tasks = [task_checker.check(block, defaults, env_layer) for block in tasks.values()]
        service_checker = ServiceChecker(task_checker)
        ir_services = [service_checker.check(block, defaults, env_layer)
                       for block in services.values()]
        for name, decl in secrets.items():
            if name not in task_checker.used_secrets:
                self.diagnostics.append(Diagnostic(
                    "W101", f"secret `{name}` is declared but no task uses it", decl.span,
                    help=f"bind it in a task: `env {{ NAME = secret.{name} }}`, or remove it"))
        if not tasks and not services:
            self.diagnostics.append(Diagnostic("W102", "this file declares no task",
                                               Span(self.path, 1, 1),
                                               help="add `task NAME { ... }`"))

        if app_name is None:
            app_name = name_fix(Path(self.path).stem)
        if (any(d.is_error for d in self.diagnostics) or any(t is None for t in ir_tasks)
                or any(v is None for v in ir_services)):
            return None, self.diagnostics
        app = ir.App(
            name=app_name,
            source=self.path,
            base_dir=base_dir,
            environment=self.env_name,
            tasks=tuple(t for t in ir_tasks if t is not None),
            secrets=tuple(ir.Secret(n, d.span) for n, d in secrets.items()),
            settings={name: registry.get(name).settings(**values)
                      for name, values in targets_settings.items()},
            environments=tuple(environments),
            layers=tuple(ir_layers.values()),
            services=tuple(v for v in ir_services if v is not None),
        )
        return app, self.diagnostics

    def _unknown_top_level(self, stmt: s.Statement, kw: str | None) -> None:
        if isinstance(stmt, s.Assign):
            hint = ("settings for every task go in `defaults { ... }`"
                    if stmt.key.name in SHARED_KEYS else
                    did_you_mean(stmt.key.name, TOP_LEVEL, "top level holds"))
            self.error("E121", f"`{stmt.key.name} = ...` cannot stand at the top level",
                       stmt.span, help=hint)
        elif isinstance(stmt, s.AlertStmt):
            self.error("E121", "`alert` belongs inside a task", stmt.span,
                       help="move it into the `task NAME { ... }` it watches")
        else:
            self.error("E121", f"unknown declaration `{kw}`", _keyword_span(stmt),
                       help=did_you_mean(kw or "", TOP_LEVEL, "the top level holds"))

    def _has_shape(self, stmt: s.Statement, kw: str, shape: str) -> bool:
        if shape == "decl" and isinstance(stmt, s.Decl):
            return True
        if shape == "block" and isinstance(stmt, s.Block):
            needs_label = kw in LABELLED
            if needs_label and stmt.label is None:
                self.error("E126", f"a {kw} needs a name", stmt.span,
                           help=f"write `{kw} NAME {{ ... }}`")
                return False
            if not needs_label and stmt.label is not None:
                self.error("E126", f"`{kw}` takes no name", stmt.label.span,
                           help=f"write `{kw} {{ ... }}`")
                return False
            return True
        example = {"app": "app NAME", "secret": "secret NAME", "defaults": "defaults { ... }",
                   "task": "task NAME { ... }", "environment": "environment NAME { ... }",
                   "release": "release { ... }", "layer": "layer NAME { ... }"}[kw]
        self.error("E126", f"`{kw}` is written `{example}`", stmt.span, help=f"write `{example}`")
        return False

    # ---- defaults and environments ----------------------------------------------------

    def _layer(self, block: s.Block, where: str) -> SettingsLayer:
        layer = SettingsLayer()
        for stmt in block.body:
            key = _keyword(stmt)
            if isinstance(stmt, s.Assign | s.Block) and key in SHARED_KEYS:
                if key in BLOCK_SETTINGS and not isinstance(stmt, s.Block):
                    self.error("E109", f"`{key}` is a block", stmt.span,
                               help='write `env { NAME = "value" }`')
                    continue
                if key in layer.settings:
                    self.error("E103", f"`{key}` is set twice in {where}", _keyword_span(stmt),
                               help="keep one of them")
                    continue
                layer.settings[key] = stmt
            elif where != "defaults" and isinstance(stmt, s.Block) and key in registry.names():
                continue  # handled by _environment
            elif where != "defaults" and isinstance(stmt, s.Block) and key == "backend":
                continue
            else:
                self._unknown_setting(stmt, key, where, SHARED_KEYS)
        return layer

    def _unknown_setting(self, stmt: s.Statement, key: str | None, where: str,
                         allowed) -> None:
        if isinstance(stmt, s.AlertStmt):
            self.error("E102", f"`alert` is not allowed in {where}", stmt.span,
                       help="put `alert` inside the task it watches")
            return
        hint = did_you_mean(key or "", allowed, f"{where} accepts")
        self.error("E102", f"unknown setting `{key}` in {where}", _keyword_span(stmt), help=hint)

    def _environment(self, block: s.Block) -> tuple[SettingsLayer, dict[str, dict]]:
        where = f"environment `{block.label.name}`"
        layer = self._layer(block, where)
        settings: dict[str, dict] = {name: {} for name in registry.names()}
        seen_blocks: set[str] = set()
        for stmt in block.body:
            key = _keyword(stmt)
            if not isinstance(stmt, s.Block):
                continue
            if key in registry.names():
                if key in seen_blocks:
                    self.error("E103", f"`{key}` block appears twice in {where}", stmt.span,
                               help="merge the two blocks")
                    continue
                seen_blocks.add(key)
                settings[key].update(self._target_block(stmt, key))
            elif key == "backend":
                backend = self._backend(stmt)
                if backend is not None:
                    target, kind = registry.backend_kinds()[backend.kind]
                    if not kind.environment_level:
                        self.error("E122", f"a `{backend.kind}` backend goes inside a target "
                                   "block", stmt.span, help=f"write `{target.name} {{ backend "
                                   f"{backend.kind} {{ ... }} }}`")
                    elif "backend" in settings[target.name]:
                        self.error("E103", f"two backends for {target.name} in {where}",
                                   stmt.span, help="keep one")
                    else:
                        settings[target.name]["backend"] = backend
        return layer, settings

    def _target_block(self, block: s.Block, target: str) -> dict:
        out: dict = {}
        fields = {f.name: f for f in dataclasses.fields(registry.get(target).settings)}
        allowed = registry.get(target).setting_keys
        for stmt in block.body:
            key = _keyword(stmt)
            if isinstance(stmt, s.Block) and key == "backend":
                backend = self._backend(stmt)
                if backend is not None:
                    out["backend"] = backend
                continue
            if not isinstance(stmt, s.Assign) or key not in allowed:
                self._unknown_setting(stmt, key, f"`{target}`", allowed)
                continue
            if key in out:
                self.error("E103", f"`{key}` is set twice in `{target}`", stmt.key.span,
                           help="keep one of them")
                continue
            value = self._target_value(key, fields[key].type, stmt.value)
            if value is not None:
                out[key] = value
        return out

    def _target_value(self, key: str, kind: str, value: s.Value):
        """A target block's value, read as its settings field's type says."""
        if kind == "tuple[str, ...]":
            return self.read.strings(key, value, '["subnet-0abc"]')
        if kind == "bool":
            return self.read.boolean(key, value)
        if kind not in ("str", "str | None"):
            raise TypeError(f"a target setting of type {kind} has no reader: {key}")
        text = self.read.string(key, value)
        if text is not None and not text:
            self.error("E109", f"`{key}` must not be empty", value.span, help=f"give a {key}")
            return None
        return text

    def _backend(self, block: s.Block) -> ir.Backend | None:
        if block.label is None:
            self.error("E122", "a backend needs a kind", block.span,
                       help="write `backend s3 { ... }` or `backend gcs { ... }`")
            return None
        kind = block.label.name
        known = registry.backend_kinds()
        if kind not in known:
            self.error("E122", f"unknown backend `{kind}`", block.label.span,
                       help=did_you_mean(kind, known, "backends"))
            return None
        required = known[kind][1].required
        settings: dict[str, object] = {}
        for stmt in block.body:
            if not isinstance(stmt, s.Assign):
                self.error("E122", "a backend holds `key = value` settings only", stmt.span,
                           help='for example `bucket = "acme-tf-state"`')
                continue
            value = stmt.value
            if isinstance(value, s.Str | s.Int):
                settings[stmt.key.name] = value.value
            elif isinstance(value, s.Ident) and value.name in ("true", "false"):
                settings[stmt.key.name] = value.name == "true"
            else:
                self.read.expect(stmt.key.name, value, "a string, integer or boolean",
                                 '"value"')
        missing = [k for k in required if k not in settings]
        if missing:
            self.error("E122", f"backend `{kind}` needs " + ", ".join(f"`{m}`" for m in missing),
                       block.span, help=f'add `{missing[0]} = "..."`')
            return None
        return ir.Backend(kind=kind, settings=tuple(sorted(settings.items())))


def _keyword(stmt: s.Statement) -> str | None:
    if isinstance(stmt, s.Assign):
        return stmt.key.name
    if isinstance(stmt, s.Block | s.Decl):
        return stmt.keyword.name
    if isinstance(stmt, s.AlertStmt):
        return "alert"
    return None


def _keyword_span(stmt: s.Statement) -> Span:
    if isinstance(stmt, s.Assign):
        return stmt.key.span
    if isinstance(stmt, s.Block | s.Decl):
        return stmt.keyword.span
    return stmt.span
