"""The typer application every `flowc` command registers on (one module per command)."""

from __future__ import annotations

import typer

from flowc import __version__

app = typer.Typer(
    name="flowc",
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
) -> None:
    """flowc: scheduled tasks, exact on every cloud."""
