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
from flowc.targets import operations
from flowc.targets.env_rules import env_diagnostics, flowc_env_diagnostics
from flowc.targets.packaging import PackagingError, select_code_files


def code_diagnostics(app: App, exclude: Sequence[Path] = ()) -> list[Diagnostic]:
    """E403 for each symlink in a python task's or service's code directory that would not
    ship."""
    out: list[Diagnostic] = []
    seen: set[str] = set()
    for task in (*app.tasks, *app.services):
        if not isinstance(task.handler, PythonHandler) or task.code_dir in seen:
            continue
        seen.add(task.code_dir)
        try:
            selection = select_code_files(app.base_path / task.code_dir, exclude)
        except PackagingError:
            continue  # the targets report a missing directory with their own code
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
        out[name] = (env_diagnostics(app, name) + operations.diagnostics(app, name)
                     + list(registry.get(name).load_builder().check(app)))
    return out
