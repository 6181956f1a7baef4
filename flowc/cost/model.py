"""The cost model: runs, durations and billable quantities per task and target, priced.

`estimate(...)` builds a `CostReport` from the checked IR:
- runs in the month per task and target (flowc.cost.runs, the schedule evaluator);
- the assumed run length (flowc.cost.durations);
- each target's priced lines (flowc.cost.providers) in two scenarios: expected (every run
  succeeds at its first attempt) and worst case (every run fails and is retried
  `retries` times, each attempt billed like a run, then dead-lettered);
- free tiers, which belong to a billing account, applied to the month's total on a target
  and credited back to tasks in proportion to what each uses of the allowance;
- per task: the cheapest target, and the break-even against an always-on container.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from flowc.compiler.ir import App, Task
from flowc.cost.durations import Measured, RunLength, choose
from flowc.cost.pricing import PriceBook
from flowc.cost.providers import CATEGORIES, AlwaysOn, Line, Pool, Workload
from flowc.cost.runs import Month, MonthFires, RunCount
from flowc.cost.sizing import Size
from flowc.targets import registry


@dataclass
class TargetCost:
    """One task on one target in one month."""

    target: str
    product: str
    size: Size
    runs: RunCount
    retries: int
    duration: RunLength
    lines: list[Line]  # expected scenario
    credits: dict[str, float]  # meter -> free-tier credit (USD), expected scenario
    worst_lines: list[Line]
    worst_credits: dict[str, float]
    always_on: AlwaysOn
    per_run_usd: float  # one more run, before free tiers
    month_hours: float

    @property
    def worst_attempts(self) -> int:
        return self.runs.runs * (1 + self.retries)

    def by_category(self, worst: bool = False) -> dict[str, float]:
        lines, credits = (self.worst_lines, self.worst_credits) if worst else (
            self.lines, self.credits)
        out = dict.fromkeys(CATEGORIES, 0.0)
        for line in lines:  # a credit never exceeds its line; max() drops float dust
            out[line.category] += max(0.0, line.gross - credits.get(line.meter, 0.0))
        return out

    @property
    def total(self) -> float:
        return sum(self.by_category().values())

    @property
    def worst_total(self) -> float:
        return sum(self.by_category(worst=True).values())

    @property
    def gross(self) -> float:
        return sum(line.gross for line in self.lines)

    @property
    def free_credit(self) -> float:
        return sum(self.credits.values())

    def usage(self) -> dict[str, float]:
        return {line.meter: line.quantity for line in self.lines}

    @property
    def busy(self) -> float:
        """Run time over the month's length: above 1, runs overlap."""
        return self.runs.runs * self.duration.seconds / (self.month_hours * 3600)

    @property
    def break_even_runs(self) -> int | None:
        """Runs a month above which the always-on option costs less; None if never."""
        if self.per_run_usd <= 0:
            return None
        runs = math.floor(self.always_on.monthly_usd / self.per_run_usd + 1e-9) + 1
        if runs * self.duration.seconds >= self.month_hours * 3600 - 1e-6:
            return None  # it would have to run back to back all month, or more
        return runs

    def to_json(self) -> dict[str, Any]:
        be = self.break_even_runs
        return {
            "product": self.product,
            "size": {"vcpu": self.size.vcpu, "memory_mib": self.size.memory_mib},
            "runs": self.runs.runs,
            "distinct_fire_times": self.runs.distinct,
            "triggers": self.runs.triggers,
            "attempts_worst_case": self.worst_attempts,
            "duration_s": self.duration.seconds,
            "usage": {line.meter: {"quantity": _r(line.quantity), "unit": line.unit,
                                   "rate_usd": line.rate} for line in self.lines},
            "cost_usd": {k: _r(v) for k, v in self.by_category().items()},
            "gross_usd": _r(self.gross),
            "free_tier_usd": _r(self.free_credit),
            "total_usd": _r(self.total),
            "worst_case_usd": _r(self.worst_total),
            "always_on": {"product": self.always_on.product,
                          "size": {"vcpu": self.always_on.size.vcpu,
                                   "memory_mib": self.always_on.size.memory_mib},
                          "monthly_usd": _r(self.always_on.monthly_usd),
                          "per_run_usd": _r(self.per_run_usd, 8),
                          "break_even_runs": be,
                          "busy_fraction": _r(self.busy),
                          "always_on_cheaper": be is not None and self.runs.runs >= be},
        }


@dataclass
class TaskCost:
    task: Task
    duration: RunLength
    targets: dict[str, TargetCost] = field(default_factory=dict)

    def cheapest(self) -> tuple[str, dict[str, float]] | None:
        """(cheapest target, {other target: how much more it costs})."""
        if not self.targets:
            return None
        best = min(self.targets, key=lambda t: (round(self.targets[t].total, 6),
                                                registry.names().index(t)))
        low = self.targets[best].total
        return best, {t: c.total - low for t, c in self.targets.items() if t != best}

    def to_json(self) -> dict[str, Any]:
        cheapest = self.cheapest()
        return {
            "task": self.task.name,
            "kind": self.task.handler.kind,
            "timezone": self.task.timezone,
            "memory_mib": self.task.memory_mib,
            "cpu": self.task.cpu,
            "timeout_s": self.task.timeout_s,
            "retries": self.task.retries,
            "duration": {"seconds": self.duration.seconds, "source": self.duration.source,
                         "detail": self.duration.detail},
            "targets": {t: c.to_json() for t, c in self.targets.items()},
            "cheapest": None if cheapest is None else {
                "target": cheapest[0], "total_usd": _r(self.targets[cheapest[0]].total),
                "more_expensive_by_usd": {t: _r(v) for t, v in cheapest[1].items()}},
        }


@dataclass
class CostReport:
    app: App
    month: Month
    free_tier: bool
    books: dict[str, PriceBook]
    tasks: list[TaskCost]
    notes: list[str] = field(default_factory=list)
    services: list[Any] = field(default_factory=list)  # flowc.cost.services.ServiceCost

    def service_totals(self, target: str) -> dict[str, float]:
        costs = [sc.targets[target] for sc in self.services if target in sc.targets]
        return {"total": sum(c.total for c in costs),
                "worst_case": sum(c.worst_total for c in costs)}

    def grand_total(self, target: str, worst: bool = False) -> float:
        """Tasks and services on `target`, in the expected (or worst) scenario."""
        key = "worst_case" if worst else "total"
        return self.totals(target)[key] + self.service_totals(target)[key]

    @property
    def targets(self) -> list[str]:
        return [t for t in registry.names() if t in self.books]

    def totals(self, target: str) -> dict[str, float]:
        costs = [tc.targets[target] for tc in self.tasks if target in tc.targets]
        out = dict.fromkeys(CATEGORIES, 0.0)
        for cost in costs:
            for category, usd in cost.by_category().items():
                out[category] += usd
        out["total"] = sum(c.total for c in costs)
        out["gross"] = sum(c.gross for c in costs)
        out["free_tier"] = sum(c.free_credit for c in costs)
        out["worst_case"] = sum(c.worst_total for c in costs)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app.name,
            "environment": self.app.environment,
            "month": str(self.month),
            "currency": "USD",
            "free_tier": self.free_tier,
            "prices": {t: b.to_json() for t, b in self.books.items()},
            "tasks": [tc.to_json() for tc in self.tasks],
            "totals": {t: {k: _r(v) for k, v in self.totals(t).items()}
                       for t in self.targets},
            "notes": list(self.notes),
            **({"services": [sc.to_json() for sc in self.services],
                "service_totals": {t: {k: _r(v) for k, v in self.service_totals(t).items()}
                                   for t in self.targets},
                "grand_totals": {t: {"total": _r(self.grand_total(t)),
                                     "worst_case": _r(self.grand_total(t, worst=True))}
                                 for t in self.targets}} if self.services else {}),
        }


def _r(value: float, digits: int = 6) -> float:
    return round(value, digits)


def free_credits(lines: dict[str, list[Line]], pools: list[Pool]) -> dict[str, dict[str, float]]:
    """Free-tier credit per task and meter: each pool covers the target's monthly total up
    to its allowance, shared out in proportion to what each line draws."""
    credits: dict[str, dict[str, float]] = defaultdict(dict)
    for pool in pools:
        members = [(task, line) for task, task_lines in lines.items() for line in task_lines
                   if line.pool == pool.name]
        drawn = [line.gross if pool.in_usd else line.quantity for _, line in members]
        total = sum(drawn)
        if total <= 0:
            continue
        covered = min(total, pool.allowance)
        for (task, line), amount in zip(members, drawn, strict=True):
            share = amount / total * covered
            credit = share if pool.in_usd else share * line.rate
            credits[task][line.meter] = credits[task].get(line.meter, 0.0) + credit
    return credits


def _secret_shares(app: App, target: str) -> dict[str, float]:
    """Each task's share of the monthly fees of the secrets it reads on `target`."""
    users: dict[str, int] = defaultdict(int)
    for task in app.tasks_for(target):
        for secret in task.secrets:
            users[secret] += 1
    return {t.name: sum(1 / users[s] for s in t.secrets) for t in app.tasks_for(target)}


def _dst_notes(task: Task, target: str, count: RunCount, month: Month) -> list[str]:
    """Where the month has a daylight-saving change that `target` handles differently."""
    if month.hours(task.timezone) == month.days * 24:
        return []
    start, _end = month.window(task.timezone)
    out = []
    for index in count.schedules:
        for warning in registry.get(target).schedule_warnings(task.schedules[index], start):
            if f" on {month}-" in warning.message:
                out.append(f"{task.name} on {target}: runs are counted as flowc's evaluator "
                           f"fires them; {warning.message} [{warning.code}]")
    return out


def estimate(app: App, month: Month, books: dict[str, PriceBook], given: dict[str, float],
             measured: dict[str, Measured], free_tier: bool = True) -> CostReport:
    """Price every task on every target it runs on (`books` holds one PriceBook per target)."""
    fires = {task.name: MonthFires(task, month) for task in app.tasks}
    costs = {task.name: TaskCost(task, choose(task, given, measured)) for task in app.tasks}
    notes: list[str] = []
    for target in registry.names():
        if target not in books:
            continue
        provider, book = registry.get(target).load_pricing(), books[target]
        shares = _secret_shares(app, target)
        expected: dict[str, list[Line]] = {}
        worst: dict[str, list[Line]] = {}
        partial: dict[str, tuple] = {}
        for task in app.tasks_for(target):
            count = fires[task.name].for_target(target)
            length = costs[task.name].duration
            w = Workload(attempts=count.runs, duration_s=length.seconds, dead_letters=0,
                         triggers=count.triggers, secret_reads=len(task.secrets),
                         secret_share=shares[task.name], days=month.days)
            dead = count.runs if task.on_failure == "dead_letter" else 0
            w_worst = replace(w, attempts=count.runs * (1 + task.retries), dead_letters=dead)
            one = replace(w, attempts=1, triggers=0, secret_share=0.0)
            expected[task.name] = provider.lines(task, w, book)
            worst[task.name] = provider.lines(task, w_worst, book)
            per_run = sum(line.gross for line in provider.lines(task, one, book)
                          if not line.fixed)
            partial[task.name] = (count, per_run)
            if count.from_source:
                notes.append(f"{task.name}: the IR has no {target} expressions; runs counted "
                             "from the source schedules")
            notes += _dst_notes(task, target, count, month)
            if count.runs != count.distinct:
                notes.append(f"{task.name} on {target}: {count.runs - count.distinct} fire "
                             "time(s) come from two schedules; each schedule is its own "
                             "trigger, so the task runs (and is billed) once per trigger")
        pools = provider.pools(book, month.days) if free_tier else []
        credits, worst_credits = free_credits(expected, pools), free_credits(worst, pools)
        for task in app.tasks_for(target):
            count, per_run = partial[task.name]
            costs[task.name].targets[target] = TargetCost(
                target=target, product=provider.product(task), size=provider.size(task, book),
                runs=count, retries=task.retries, duration=costs[task.name].duration,
                lines=expected[task.name], credits=credits.get(task.name, {}),
                worst_lines=worst[task.name], worst_credits=worst_credits.get(task.name, {}),
                always_on=provider.always_on(task, book, month.hours(task.timezone)),
                per_run_usd=per_run, month_hours=month.hours(task.timezone))
    return CostReport(app, month, free_tier, books, list(costs.values()), notes)
