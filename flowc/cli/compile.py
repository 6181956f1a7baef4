"""`flowc compile FILE [--target TARGET|all] [--env NAME] [--out DIR] [--emit ir]`.

Writes one Terraform working directory per target (DIR/<target>/cdk.tf.json plus its
assets), or with `--emit ir` the checked IR as DIR/ir.json. Files whose bytes did not
change are not rewritten. Diagnostics are printed in the SPEC format; exit 1 on errors.
A successful compile records a release in `<state>/releases/` when something changed
(flowc/releases/plan.py; the AWS aliases follow the log: canary, promotion, rollback pins).
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from flowc.cli.app import app
from flowc.cli.common import OutputFormat, exit_code, print_diagnostics, storage_diagnostic
from flowc.cli.paths import exit_on_problems, writable_dir
from flowc.compiler.ir import to_json
from flowc.compiler.pipeline import load

ALL = "all"


def _target(value: str) -> str:
    """`--target`: a registered target (flowc.targets) or `all`."""
    from flowc.targets import registry

    if value != ALL and value not in registry.names():
        raise typer.BadParameter(f"{value!r} is not one of "
                                 + ", ".join(repr(n) for n in (*registry.names(), ALL)))
    return value


class Emit(str, Enum):
    terraform = "terraform"
    ir = "ir"


@app.command()
def compile(
    file: str = typer.Argument(..., help="The .flow file.", metavar="FILE"),
    target: str = typer.Option(ALL, "--target", callback=_target, metavar="TARGET",
                               help="Which target to compile (default: all)."),
    env: str | None = typer.Option(None, "--env", help="Apply this environment."),
    out: Path = typer.Option(Path("flowc.out"), "--out", help="Output directory."),
    emit: Emit = typer.Option(Emit.terraform, "--emit",
                              help="terraform (default) or ir (writes DIR/ir.json)."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format",
                                        help="Diagnostics as text (for people) or json."),
    state: Path = typer.Option(Path(".flowc"), "--state",
                               help="Where the release log lives (default .flowc)."),
) -> None:
    """Compile a .flow file to Terraform (cdktf JSON) for AWS, GCP and Kubernetes."""
    from flowc.targets.compile import compile_app, write_if_changed

    exit_on_problems(writable_dir(out, "--out"),
                     None if emit == Emit.ir else writable_dir(state, "--state", parents=False))
    result = load(file, env)
    diagnostics = list(result.diagnostics)
    if not result.ok:
        print_diagnostics(diagnostics, result.sources, format)
        raise typer.Exit(1)
    spec = result.app
    assert spec is not None
    text = format == OutputFormat.text
    if emit == Emit.ir:
        data = (json.dumps(to_json(spec), indent=2, sort_keys=True) + "\n").encode()
        changed = write_if_changed(out / "ir.json", data)
        print_diagnostics(diagnostics, result.sources, format)
        if text:
            typer.echo(f"{out / 'ir.json'}: {'written' if changed else 'unchanged'}", err=True)
        raise typer.Exit(exit_code(diagnostics))
    from flowc.targets import registry

    names = registry.names() if target == ALL else (target,)
    chosen = [n for n in names if spec.tasks_for(n) or spec.services_for(n)]
    if text:
        for name in names:
            if name not in chosen:
                typer.echo(f"{name}: no task or service runs on {name}; nothing to compile",
                           err=True)
    from flowc.releases.plan import prepare

    try:
        release = prepare(spec, state, out / "aws", exclude=[out, state], warn="aws" in chosen)
        diagnostics.extend(release.diagnostics)
        results = compile_app(spec, chosen, out, exclude=[state], releases=release.releases)
        for r in results:
            diagnostics.extend(r.diagnostics)
        if chosen and not any(d.is_error for d in diagnostics):
            release.commit()
    except OSError as exc:  # read-only or full --state / --out
        print_diagnostics([*diagnostics, storage_diagnostic(exc)], result.sources, format)
        raise typer.Exit(1) from None
    print_diagnostics(diagnostics, result.sources, format)
    if text:
        for r in results:
            where = out / r.target
            if r.failed:
                typer.echo(f"{r.target}: not written (errors above)", err=True)
            elif r.written:
                typer.echo(f"{r.target}: {len(r.written)} file(s) written to {where}", err=True)
            else:
                typer.echo(f"{r.target}: {where} is up to date", err=True)
        if chosen and not any(d.is_error for d in diagnostics) and release.new:
            typer.echo(f"release {release.release['id']} recorded in {release.log.path}",
                       err=True)
    raise typer.Exit(exit_code(diagnostics))
