"""The typer application every `flowc` command registers on (one module per command).

Two things hold for every command: `--quiet` / `-W CODE` (before the command name)
choose which warnings print (flowc.diagnostics.WARNINGS), and no command ends in a
traceback: an OSError or ValueError that escapes a command is reported as E921 with the
path or value it concerns.
"""

from __future__ import annotations

import sys

import typer
import typer.core

from flowc import __version__
from flowc.diagnostics import WARNINGS, Diagnostic, render_text


class _Group(typer.core.TyperGroup):
    """Runs a command; what the filesystem or a value refused becomes a diagnostic."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (OSError, ValueError, OverflowError) as exc:
            sys.stderr.write(render_text([_diagnostic(exc)]))
            raise typer.Exit(1) from None


def _diagnostic(exc: Exception) -> Diagnostic:
    if isinstance(exc, OSError):
        where = " ".join(f"`{p}`" for p in (exc.filename, exc.filename2) if p)
        return Diagnostic(
            "E921", f"cannot use {where or 'a path'}: {exc.strerror or exc}", None,
            "check that the path exists, that a directory is given where one is expected, "
            "and that it is readable and writable")
    return Diagnostic("E921", f"a value is out of range: {exc}", None,
                      "check the values given on the command line and in the spec")


app = typer.Typer(
    name="flowc",
    cls=_Group,
    help="Declare scheduled tasks once in .flow files; compile them to Terraform for "
    "AWS, GCP and Kubernetes, and run them locally with hot reload.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flowc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no warnings, only errors."),
    allow: list[str] = typer.Option([], "-W", "--allow", metavar="CODE",
                                    help="Do not print this warning (e.g. -W W300); repeatable."),
) -> None:
    """flowc: scheduled tasks, exact on every cloud."""
    WARNINGS.reset(quiet, allow)
