"""The data of a report page, gathered from the parts of flowc that own each fact.

- schedules and their words: the checked IR and `Schedule.describe()`;
- calendars: flowc.report.calendar (the source evaluator, each target's expressions
  read back and evaluated);
- resources: the target builders (flowc.report.resources);
- cost: `flowc cost`'s model (flowc.cost.cost_report) for the same month;
- runs: the emulator's history (flowc.report.runs);
- warnings: the compile's diagnostics (front end, target checks and builds).

A section is a `Workload`: a task, or a service (no schedule, so no calendars and no
runs; what the targets create for it). The template draws whatever a workload has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from flowc.compiler.ir import App, Service, Task
from flowc.compiler.schedules.emitted import Emitted, documents_dst
from flowc.compiler.schedules.zones import get_zone
from flowc.cost.model import TargetCost
from flowc.cost.runs import Month
from flowc.diagnostics import Diagnostic, SourceCache, sort_key
from flowc.report.calendar import MonthCalendar, source_calendar, target_calendar
from flowc.report.resources import (
    SHARED,
    Resource,
    TargetResources,
    owner_key,
    target_resources,
)
from flowc.report.runs import Timeline, timelines

SOURCE_TITLE = {"calendar": "systemd calendar", "cron": "Vixie cron", "every": "every",
                "at": "at"}


@dataclass
class ScheduleLine:
    source: str  # as written after `schedule =`
    words: str  # Schedule.describe()
    location: str


@dataclass
class Placement:
    """One workload on one target."""

    target: str
    calendar: MonthCalendar | None
    resources: list[Resource]
    counts: list[tuple[str, int, list[str]]]  # (type, how many, names)
    cost: TargetCost | None = None
    cost_share: float = 0.0  # bar length: this cost over the page's largest, 0..100
    dst_documented: bool = True


@dataclass
class Workload:
    kind: str  # "task" or "service"
    name: str
    what: str  # "python jobs.daily:main", "image busybox:1.36"
    location: str
    description: str | None
    zone: str
    schedules: list[ScheduleLine]  # none for a service
    source: MonthCalendar | None
    placements: list[Placement]
    timeline: Timeline | None = None
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"{self.kind}-{self.name}"


@dataclass
class TargetTotal:
    target: str
    total: float
    worst: float
    share: float  # bar length, 0..100
    resources: int
    shared: list[Resource]


@dataclass
class Page:
    app: App
    month: Month
    generated: datetime
    warnings: list[tuple[Diagnostic, str]]  # (diagnostic, "file:line:col")
    workloads: list[Workload]
    totals: list[TargetTotal]
    cost_notes: list[str]
    state_dir: str


def location(diagnostic_or_span) -> str:
    span = getattr(diagnostic_or_span, "span", diagnostic_or_span)
    if span is None:
        return ""
    return f"{span.file}:{span.line}:{span.column}"


def build_page(app: App, month: Month, diagnostics: list[Diagnostic], *,
               state_dir: str | Path = ".flowc", sources: SourceCache | None = None,
               today: date | None = None, now: datetime | None = None) -> Page:
    """Everything the page shows; never raises for a checked app. `today` (default: `now`
    in each calendar's zone) is marked on the calendars."""
    from flowc.cost import cost_report
    from flowc.targets import registry

    now = now or datetime.now(UTC)
    targets = [t for t in registry.names() if app.tasks_for(t) or app.services_for(t)]
    found = list(diagnostics)
    built: dict[str, TargetResources] = {}
    for target in targets:
        built[target] = target_resources(app, target)
        found.extend(built[target].diagnostics)
    costed = cost_report(app, month=str(month), state_dir=state_dir, sources=sources)
    found.extend(costed.diagnostics)
    report = costed.report
    costs = {tc.task.name: tc.targets for tc in report.tasks} if report else {}
    runs, history_problems = timelines(app, state_dir)
    found.extend(history_problems)
    workloads = [_task(app, task, month, built, costs.get(task.name, {}), runs, today or now)
                 for task in app.tasks]
    workloads += [_service(service, built) for service in app.services]
    _scale_costs(workloads)
    warnings = _unique(found)
    for w in workloads:
        w.warnings = [d for d in warnings if _about(d, w)]
    totals = _totals(report, targets, built)
    return Page(app, month, now, [(d, location(d)) for d in warnings], workloads, totals,
                report.notes if report else [], str(state_dir))


def _task(app: App, task: Task, month: Month, built: dict[str, TargetResources],
          costs: dict[str, TargetCost], runs: dict[str, Timeline],
          today: date | datetime) -> Workload:
    zones = {s.zone for s in task.schedules}
    zone = zones.pop() if len(zones) == 1 else task.timezone
    if isinstance(today, datetime):  # the calendar marks today as it is in its zone
        today = today.astimezone(get_zone(zone)).date()
    kinds = {SOURCE_TITLE[s.kind] for s in task.schedules}
    source = source_calendar(f"source ({', '.join(sorted(kinds))})", task.schedules, month, zone,
                             today)
    placements = []
    for target, resources in built.items():
        if not task.runs_on(target):
            continue
        by_zone: dict[str, list[str]] = {}  # a schedule may name its own zone
        for ts in task.schedules_for(target):
            by_zone.setdefault(ts.timezone, []).append(ts.expression)
        emitted = [Emitted(target, tuple(exprs), tz) for tz, exprs in by_zone.items()]
        placements.append(Placement(
            target=target,
            calendar=target_calendar(target, emitted, month, zone, source, today),
            resources=resources.of(owner_key("task", task.name)),
            counts=resources.counts(owner_key("task", task.name)),
            cost=costs.get(target), dst_documented=documents_dst(target)))
    return Workload(
        kind="task", name=task.name, what=_handler(task), location=location(task.span),
        description=task.description, zone=zone,
        schedules=[ScheduleLine(s.source, s.describe(), location(s.span))
                   for s in task.schedules],
        source=source, placements=placements, timeline=runs.get(task.name))


def _service(service: Service, built: dict[str, TargetResources]) -> Workload:
    key = owner_key("service", service.name)
    placements = [Placement(target=target, calendar=None, resources=resources.of(key),
                            counts=resources.counts(key))
                  for target, resources in built.items() if service.runs_on(target)]
    scaling = service.scaling
    replicas = (f"{scaling.min_replicas}..{scaling.max_replicas} replicas on "
                f"{scaling.metric} {scaling.target_percent:g}%" if scaling.autoscaled
                else f"{scaling.min_replicas} replica{'' if scaling.min_replicas == 1 else 's'}")
    serves = f"port {service.port}" if service.port else "a worker"
    what = f"{_handler(service)} · {serves} · {replicas}" + (" · public" if service.public
                                                            else "")
    return Workload(kind="service", name=service.name, what=what,
                    location=location(service.span), description=service.description,
                    zone="", schedules=[], source=None, placements=placements)


def _handler(workload: Task | Service) -> str:
    handler = workload.handler
    if handler.kind == "python":
        return f"python {handler.entrypoint}"  # type: ignore[union-attr]
    return f"image {handler.image}"  # type: ignore[union-attr]


def _scale_costs(workloads: list[Workload]) -> None:
    largest = max((p.cost.worst_total for w in workloads for p in w.placements if p.cost),
                  default=0.0)
    for w in workloads:
        for p in w.placements:
            if p.cost and largest > 0:
                p.cost_share = round(p.cost.total / largest * 100, 2)


def _totals(report, targets: list[str], built: dict[str, TargetResources]) -> list[TargetTotal]:
    sums = {t: report.totals(t) for t in targets} if report else {}
    largest = max((s["worst_case"] for s in sums.values()), default=0.0)
    out = []
    for t in targets:
        s = sums.get(t, {"total": 0.0, "worst_case": 0.0})
        share = round(s["total"] / largest * 100, 2) if largest > 0 else 0.0
        out.append(TargetTotal(t, s["total"], s["worst_case"], share, built[t].total,
                               built[t].of(SHARED)))
    return out


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: dict[tuple, Diagnostic] = {}
    for d in diagnostics:
        seen.setdefault((d.code, d.message, d.span), d)
    return sorted(seen.values(), key=sort_key)


def _about(d: Diagnostic, w: Workload) -> bool:
    return f"{w.kind} `{w.name}`" in d.message
