"""`flowc cost`: what a spec will cost on each target in one calendar month, before deploying.

    result = cost_report(app, month="2026-12", durations=["daily_report=30s"])
    if result.report: print(render_table(result.report))
    diagnostics (E8xx, W8xx) point into the spec, a price file or the command line

Modules: runs (fires per month, from the schedule evaluator), durations (how long a run
lasts), sizing (what each product bills a task at), pricing (TOML price files),
providers (what each target bills), model (the priced report), report (table/JSON/CSV).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flowc.compiler.ir import App
from flowc.cost.durations import measured_durations
from flowc.cost.inputs import CommandLine, parse_durations, parse_month
from flowc.cost.model import CostReport, estimate
from flowc.cost.pricing import PricingError, known_regions, load_price_book, read_overrides
from flowc.cost.runs import month_after
from flowc.diagnostics import Diagnostic, SourceCache, Span, has_errors
from flowc.targets import registry


@dataclass
class CostResult:
    report: CostReport | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: SourceCache = field(default_factory=SourceCache)


def cost_report(app: App, *, month: str | None = None, durations: list[str] | tuple = (),
                free_tier: bool = True, price_files: list[str] | tuple = (),
                state_dir: str | Path = ".flowc", now: datetime | None = None,
                sources: SourceCache | None = None) -> CostResult:
    """Check the options, load prices, and price every task; never raises for bad input."""
    sources = sources if sources is not None else SourceCache()
    cl = CommandLine()
    diagnostics: list[Diagnostic] = []
    chosen = month_after(now or datetime.now(UTC))
    if month is not None:
        parsed, found = parse_month(month, cl)
        diagnostics += found
        chosen = parsed or chosen
    given, found = parse_durations(list(durations), app, cl)
    diagnostics += found
    books = {}
    try:
        overrides = read_overrides(list(price_files))
    except PricingError as err:
        overrides = []
        diagnostics.append(err.diagnostic)
    else:
        for target in registry.names():
            pricing = registry.get(target).load_pricing()
            if pricing is None or not (app.tasks_for(target) or app.services_for(target)):
                continue
            region = pricing.region(app)
            try:
                book = load_price_book(target, region, overrides)
            except PricingError as err:
                diagnostics.append(err.diagnostic)
                continue
            if book is None:
                diagnostics.append(_unknown_region(app, target, region or "", overrides))
            else:
                books[target] = book
    cl.register(sources)
    if has_errors(diagnostics):
        return CostResult(None, diagnostics, sources)
    measured, notes = measured_durations(app, state_dir)
    report = estimate(app, chosen, books, given, measured, free_tier)
    report.notes[:0] = notes
    if app.services:
        from flowc.cost.services import estimate_services

        report.services, service_notes = estimate_services(app, books, chosen.hours("UTC"))
        report.notes += service_notes
    return CostResult(report, diagnostics, sources)


def _unknown_region(app: App, target: str, region: str, overrides: list) -> Diagnostic:
    known = known_regions(target, overrides)
    listed = ", ".join(f"`{r}`" for r in known) or "none"
    return Diagnostic(
        "E801", f"flowc has no {target} prices for region `{region}`",
        region_span(app, target),
        help=f"known {target} regions: {listed}; or pass your own rates with "
             f"`--prices FILE` (a copy of flowc/pricing/{target}-{known[0] if known else 'REGION'}"
             f".toml with `region = \"{region}\"`)")


def region_span(app: App, target: str) -> Span:
    """Where the selected environment sets `target`'s region; else the start of the file."""
    from flowc.grammar import syntax as s
    from flowc.grammar.parser import parse_file

    tree, _text, _diags = parse_file(app.source)
    for stmt in tree.body if tree is not None else ():
        if not (isinstance(stmt, s.Block) and stmt.keyword.name == "environment"
                and stmt.label is not None and stmt.label.name == app.environment):
            continue
        for inner in stmt.body:
            if isinstance(inner, s.Block) and inner.keyword.name == target:
                for setting in inner.body:
                    if isinstance(setting, s.Assign) and setting.key.name == "region":
                        return setting.value.span
                return inner.keyword.span
    return Span(app.source, 1, 1)


__all__ = ["CostResult", "cost_report"]
