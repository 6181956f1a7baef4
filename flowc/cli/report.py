"""`flowc report FILE [--env NAME] [--month YYYY-MM] [--out FILE.html] [--open]` (SPEC §7).

Writes one self-contained HTML page: per task, its schedule in words, the month's
calendar for the source and for each target's expressions (the days that differ
marked), the resources and the month's cost per target, and the runs recorded under
--state (flowc/report/). A spec with errors prints its diagnostics and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import typer

from flowc.cli.app import app
from flowc.cli.common import print_diagnostics
from flowc.compiler.pipeline import load
from flowc.diagnostics import Diagnostic, Span, has_errors


@app.command()
def report(
    file: str = typer.Argument(..., help="The .flow file.", metavar="FILE"),
    env: str | None = typer.Option(None, "--env", help="Report on this environment."),
    month: str | None = typer.Option(None, "--month", metavar="YYYY-MM",
                                     help="Month of the calendars and costs (default: this one)."),
    out: Path = typer.Option(Path("flowc.out/report.html"), "--out", metavar="FILE.html",
                             help="Where to write the page."),
    open_page: bool = typer.Option(False, "--open", help="Open the page in a browser."),
    state: str = typer.Option(".flowc", "--state", metavar="DIR",
                              help="Run history of `flowc dev`/`flowc run` to draw."),
) -> None:
    """Write one HTML page showing the app's schedules, targets, costs and runs."""
    from datetime import UTC, datetime

    from flowc.cost.inputs import CommandLine, parse_month
    from flowc.cost.runs import Month
    from flowc.report.page import build_page
    from flowc.report.render import render_html

    result = load(file, env)
    if not result.ok:
        print_diagnostics(result.diagnostics, result.sources)
        raise typer.Exit(1)
    assert result.app is not None
    now = datetime.now(UTC)
    cl = CommandLine()
    chosen, problems = parse_month(month, cl) if month is not None else (None, [])
    out_line, out_column = cl.add("--out", str(out))
    cl.register(result.sources)
    if problems:
        print_diagnostics(problems, result.sources)
        raise typer.Exit(1)
    page = build_page(result.app, chosen or Month(now.year, now.month), result.diagnostics,
                      state_dir=state, sources=result.sources, now=now)
    problem = _write(out, render_html(page), cl.span(out_line, out_column, len(str(out))))
    if problem is not None:
        cl.register(result.sources)  # the cost model registered its own command line
        print_diagnostics([problem], result.sources)
        raise typer.Exit(1)
    if page.warnings:
        print_diagnostics([d for d, _ in page.warnings], result.sources)
    typer.echo(f"report written to {out}", err=True)
    if open_page:
        import webbrowser

        webbrowser.open(out.resolve().as_uri())
    raise typer.Exit(1 if has_errors(d for d, _ in page.warnings) else 0)


def _write(out: Path, html: str, span: Span) -> Diagnostic | None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        return Diagnostic(
            "E901", f"cannot write the report to `{out}`: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else ""), span,
            help="pass --out with a file path in a writable directory, e.g. "
                 "--out flowc.out/report.html")
    return None
