"""Every rule a target applies to the IR before building: `flowc check` and `flowc compile`
both call `target_rules`, so `check` says ok exactly when `compile` can build.

    diagnostics = target_rules(app)                  # every target a task runs on
    diagnostics = target_rules(app, ["aws"])          # `flowc compile --target aws`

What runs: the shipped-files rule (symlinks leaving the code directory, E403), flowc's
own env namespace and NUL bytes (E451/E452), then per target its env rules
(`flowc.targets.env_rules`) and the target's builder's own `check` (subnets, alerts,
package sizes...). Cross-target rules run once, so each cause is reported once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flowc.compiler.ir import App, PythonHandler, unit_kind
from flowc.diagnostics import Diagnostic
from flowc.targets.env_rules import env_diagnostics, flowc_env_diagnostics
from flowc.targets.packaging import CodeSelection, PackagingError, select_code_files
from flowc.targets.task_code import included


def code_diagnostics(app: App, exclude: Sequence[Path] = ()) -> list[Diagnostic]:
    """E403 for each symlink in a python task's or service's code directory that would not
    ship; E409 for each `include` pattern that names none of the files that do."""
    out: list[Diagnostic] = []
    selections: dict[str, CodeSelection | None] = {}
    for task in (*app.tasks, *app.services):
        if not isinstance(task.handler, PythonHandler):
            continue
        first = task.code_dir not in selections
        if first:
            try:
                selections[task.code_dir] = select_code_files(app.base_path / task.code_dir,
                                                              exclude)
            except PackagingError:
                selections[task.code_dir] = None  # the targets report a missing directory
        selection = selections[task.code_dir]
        if selection is None:
            continue
        for pattern, names in included(getattr(task, "include", ()), selection.files).items():
            if not names:
                out.append(Diagnostic(
                    "E409", f"`include` of task `{task.name}` names `{pattern}`, which matches "
                    "no file flowc ships from the code directory", task.span,
                    "give a path relative to the .flow file (a file, a directory or a glob "
                    "like `data/*.json`), and check .gitignore/.flowcignore do not exclude it"))
        if not first:
            continue
        for name, why in selection.refused.items():
            out.append(Diagnostic(
                "E403", f"`{name}` in the code directory of {unit_kind(task)} `{task.name}` is "
                f"{why}; "
                "flowc ships only files inside the code directory", task.span,
                f"copy the file into the code directory, or add `{name}` to .flowcignore"))
    return out


def target_rules(app: App, targets: Sequence[str] | None = None,
                 exclude: Sequence[Path] = ()) -> dict[str, list[Diagnostic]]:
    """Diagnostics per target name ("" for the ones every target shares)."""
    from flowc.targets import registry

    names = [n for n in (targets if targets is not None else registry.names())
             if app.tasks_for(n) or app.services_for(n)]
    out: dict[str, list[Diagnostic]] = {"": code_diagnostics(app, exclude)
                                        + flowc_env_diagnostics(app, names) if names else []}
    for name in names:
        target = registry.get(name)
        out[name] = (env_diagnostics(app, name)
                     + (target.operations(app) if target.operations else [])
                     + list(target.load_builder().check(app)))
    return out
