"""A CostReport for people (a rich table and summary lines) and for programs (JSON, CSV).

JSON is `CostReport.to_json()`; CSV has one row per task and target plus one `TOTAL` row
per target, with the same numbers, so a spreadsheet can re-add them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from typing import Any

from flowc.cost.model import CostReport, TargetCost
from flowc.cost.providers import CATEGORIES

CSV_COLUMNS = (
    "task", "target", "product", "runs", "distinct_fire_times", "triggers",
    "attempts_worst_case", "duration_s", "duration_source", "vcpu", "memory_mib",
    "gb_seconds", "vcpu_seconds", *(f"{c}_usd" for c in CATEGORIES), "free_tier_usd",
    "total_usd", "worst_case_usd", "always_on_usd", "break_even_runs",
)  # fmt: skip


def money(usd: float) -> str:
    if abs(usd) < 0.005 and usd != 0:
        return "<$0.01" if usd > 0 else "-<$0.01"
    return f"${usd:,.2f}"


def rate(usd: float) -> str:
    """A small amount with 3 significant digits: `$0.00502`."""
    return f"${usd:.3g}" if 0 < usd < 1 else money(usd)


def seconds_text(seconds: float) -> str:
    """`300` -> `5m`, `5400` -> `1h30m`, `0.25` -> `250ms`."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    fraction = seconds - whole
    parts, rest = [], whole
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    if rest or fraction or not parts:
        parts.append(f"{rest + fraction:g}s")
    return "".join(parts)


def compute_quantities(cost: TargetCost) -> tuple[float, float]:
    """(GB-seconds, vCPU-seconds) of the expected scenario."""
    gb = sum(line.quantity for line in cost.lines if line.unit in ("GB-s", "GiB-s"))
    vcpu = sum(line.quantity for line in cost.lines if line.unit == "vCPU-s")
    return gb, vcpu


def _size_text(vcpu: float, memory_mib: int) -> str:
    memory = f"{memory_mib / 1024:g} GiB" if memory_mib >= 1024 else f"{memory_mib} MiB"
    return f"{vcpu:g} vCPU, {memory}" if vcpu else memory


def summary_lines(report: CostReport) -> list[str]:
    """The per-task cheapest-target and break-even lines, then prices and notes."""
    out = ["Cheapest target per task:"]
    for tc in report.tasks:
        cheapest = tc.cheapest()
        if cheapest is None:
            continue
        best, more = cheapest
        total = tc.targets[best].total
        if not more:
            out.append(f"  {tc.task.name}: runs only on {best}, {money(total)}/month")
            continue
        others = ", ".join(f"{t} same" if v < 0.005 else f"{t} +{money(v)}"
                           for t, v in sorted(more.items(), key=lambda kv: kv[1]))
        out.append(f"  {tc.task.name}: {best} at {money(total)}/month ({others})")
    out.append("Break-even against an always-on container (runs a month above which it "
               "costs less):")
    for tc in report.tasks:
        for target, cost in tc.targets.items():
            on = cost.always_on
            head = (f"  {tc.task.name} on {target}: always-on {on.product} "
                    f"({_size_text(on.size.vcpu, on.size.memory_mib)}) costs "
                    f"{money(on.monthly_usd)}/month, a run {rate(cost.per_run_usd)}: ")
            be = cost.break_even_runs
            if cost.busy > 1:  # runs overlap: one always-on container could not keep up
                needed = math.ceil(cost.busy)
                out.append(head + f"runs overlap (busy {cost.busy:.1f}x the month), so "
                           f"always-on needs {needed} containers, "
                           f"{money(needed * on.monthly_usd)}/month")
                continue
            if be is None:
                out.append(head + "never cheaper, even running back to back all month")
                continue
            every = seconds_text(round(cost.month_hours * 3600 / be))
            verdict = "always-on is cheaper" if cost.runs.runs >= be else "scheduled is cheaper"
            out.append(head + f"break-even at {be:,} runs (one every {every}); "
                       f"now {cost.runs.runs:,} runs, {verdict}")
    out.append("Prices:")
    for target, book in report.books.items():
        where = f" {book.region}" if book.region else ""
        out.append(f"  {target}{where}: dated {book.date}, from {', '.join(book.files)}")
    if report.notes:
        out.append("Notes:")
        out.extend(f"  {note}" for note in report.notes)
    return out


def render_table(report: CostReport, width: int | None = None) -> str:
    from rich.console import Console
    from rich.table import Table

    env = f", environment {report.app.environment}" if report.app.environment else ""
    tiers = "free tiers applied" if report.free_tier else "no free tiers"
    table = Table(title=f"flowc cost: {report.app.name}{env}, {report.month} (USD, {tiers}, "
                  "expected: every run succeeds first time)", title_justify="left")
    for name in ("Task", "Target", "Product", "Runs", "Run length", "Compute use"):
        table.add_column(name, justify="right" if name == "Runs" else "left")
    for name in (*(c.capitalize() for c in CATEGORIES), "Total", "Worst case"):
        table.add_column(name, justify="right")
    for tc in report.tasks:
        for i, (target, cost) in enumerate(tc.targets.items()):
            gb, vcpu = compute_quantities(cost)
            use = ", ".join(x for x in (f"{gb:,.0f} GB-s" if gb else "",
                                        f"{vcpu:,.0f} vCPU-s" if vcpu else "") if x)
            cats = cost.by_category()
            table.add_row(tc.task.name if i == 0 else "", target, cost.product,
                          f"{cost.runs.runs:,}",
                          f"{seconds_text(cost.duration.seconds)} ({cost.duration.source})",
                          use or "-", *(money(cats[c]) for c in CATEGORIES),
                          money(cost.total), money(cost.worst_total),
                          end_section=i == len(tc.targets) - 1)
    for target in report.targets:
        totals = report.totals(target)
        table.add_row("TOTAL", target, "", "", "", "",
                      *(money(totals[c]) for c in CATEGORIES), money(totals["total"]),
                      money(totals["worst_case"]), style="bold")
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or shutil.get_terminal_size((200, 24)).columns,
                      force_terminal=False, color_system=None, highlight=False)
    console.print(table)
    if report.services:
        console.print(services_table(report))
    return buffer.getvalue() + "\n".join(summary_lines(report)) + "\n"


def services_table(report: CostReport):
    """Always-on services: one row per service and target, then tasks + services totals."""
    from rich.table import Table

    table = Table(title="Services (always on: expected at the lowest replicas, worst case at "
                  "the highest)", title_justify="left")
    for name in ("Service", "Target", "Product", "Replicas", "Size"):
        table.add_column(name, justify="right" if name == "Replicas" else "left")
    for name in ("Compute", "Load balancer", "Total", "Worst case"):
        table.add_column(name, justify="right")
    for sc in report.services:
        for i, (target, cost) in enumerate(sc.targets.items()):
            cats = {c: sum(line.gross for line in cost.lines if line.category == c)
                    for c in ("compute", "load_balancer")}
            replicas = (f"{cost.replicas}" if cost.replicas == cost.max_replicas
                        else f"{cost.replicas}..{cost.max_replicas}")
            table.add_row(sc.service.name if i == 0 else "", target, cost.product, replicas,
                          _size_text(cost.size.vcpu, cost.size.memory_mib),
                          money(cats["compute"]), money(cats["load_balancer"]),
                          money(cost.total), money(cost.worst_total),
                          end_section=i == len(sc.targets) - 1)
    for target in report.targets:
        table.add_row("TASKS + SERVICES", target, "", "", "", "", "",
                      money(report.grand_total(target)),
                      money(report.grand_total(target, worst=True)), style="bold")
    return table


def render_json(report: CostReport) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"


def csv_rows(report: CostReport) -> list[dict[str, Any]]:
    rows = []
    for tc in report.tasks:
        for target, cost in tc.targets.items():
            gb, vcpu = compute_quantities(cost)
            cats = cost.by_category()
            rows.append({
                "task": tc.task.name, "target": target, "product": cost.product,
                "runs": cost.runs.runs, "distinct_fire_times": cost.runs.distinct,
                "triggers": cost.runs.triggers, "attempts_worst_case": cost.worst_attempts,
                "duration_s": f"{cost.duration.seconds:g}",
                "duration_source": cost.duration.source, "vcpu": f"{cost.size.vcpu:g}",
                "memory_mib": cost.size.memory_mib, "gb_seconds": f"{gb:.3f}",
                "vcpu_seconds": f"{vcpu:.3f}",
                **{f"{c}_usd": f"{cats[c]:.6f}" for c in CATEGORIES},
                "free_tier_usd": f"{cost.free_credit:.6f}", "total_usd": f"{cost.total:.6f}",
                "worst_case_usd": f"{cost.worst_total:.6f}",
                "always_on_usd": f"{cost.always_on.monthly_usd:.6f}",
                "break_even_runs": cost.break_even_runs if cost.break_even_runs else "",
            })
    for target in report.targets:
        totals = report.totals(target)
        rows.append({"task": "TOTAL", "target": target,
                     **{f"{c}_usd": f"{totals[c]:.6f}" for c in CATEGORIES},
                     "free_tier_usd": f"{totals['free_tier']:.6f}",
                     "total_usd": f"{totals['total']:.6f}",
                     "worst_case_usd": f"{totals['worst_case']:.6f}"})
    for sc in report.services:  # always on: no runs, no per-run columns
        for target, cost in sc.targets.items():
            rows.append({"task": f"service:{sc.service.name}", "target": target,
                         "product": cost.product, "vcpu": f"{cost.size.vcpu:g}",
                         "memory_mib": cost.size.memory_mib,
                         "compute_usd": f"{cost.total:.6f}", "total_usd": f"{cost.total:.6f}",
                         "worst_case_usd": f"{cost.worst_total:.6f}"})
    return rows


def render_csv(report: CostReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    return buffer.getvalue()
