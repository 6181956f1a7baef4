"""Daylight-saving warnings: where a target fires differently from the source.

flowc evaluates a schedule with its source's policy (see evaluate.py): systemd
skips a local time in a spring-forward gap and fires a repeated local time once;
cron fires a gap time when the clock lands after the gap (restricted hour) and a
repeated time twice. Each target declares its scheduler's `DstPolicy`
(flowc/targets/<name>/__init__.py, with the documentation it follows).

For every offset change of the zone in the next years, if the schedule has a
local time in the gap or the repeated hour and the target's policy differs, a
W300 (gap) or W301 (repeated) warning names the first such date.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from flowc.compiler.schedules.errors import ScheduleWarning
from flowc.compiler.schedules.evaluate import plan_for
from flowc.compiler.schedules.model import Schedule
from flowc.compiler.schedules.spec import GAP_SKIP, OVERLAP_BOTH, Spec
from flowc.compiler.schedules.zones import Transition, transitions

YEARS_AHEAD = 4
SKIP, SHIFT, ONCE, TWICE, UNKNOWN = "skip", "shift", "once", "twice", "unknown"


@dataclass(frozen=True)
class DstPolicy:
    """What a target's scheduler does with a local time in a gap / a repeated hour."""

    scheduler: str  # for messages: "EventBridge Scheduler"
    gap: str  # SKIP, SHIFT or UNKNOWN
    overlap: str  # ONCE, TWICE or UNKNOWN

_TARGET_DOES = {
    SKIP: "skips it",
    ONCE: "runs it once",
    TWICE: "runs it twice",
    UNKNOWN: "does not document what it does there",
}


def schedule_warnings(
    schedule: Schedule, target: str, policy: DstPolicy, start: datetime | None = None
) -> list[ScheduleWarning]:
    """DST warnings for this schedule on `target` (empty when they agree)."""
    spec = schedule.spec
    source_gap = SKIP if spec.gap == GAP_SKIP else SHIFT
    source_overlap = TWICE if spec.overlap == OVERLAP_BOTH else ONCE
    target_gap, target_overlap = policy.gap, policy.overlap
    gap, overlap = first_hits(schedule, start)
    out = []
    if gap is not None and target_gap != source_gap:
        wall, tr = gap
        lo, hi = tr.local_window()
        who = "cron" if schedule.kind == "cron" else "systemd"
        flowc = (
            f"skips it, as {who} does"
            if source_gap == SKIP
            else (f"runs it at {hi:%H:%M}, as cron does")
        )
        out.append(
            ScheduleWarning(
                "W300",
                f"{schedule.source} fires at {wall:%H:%M} on {wall:%Y-%m-%d}, which does not "
                f"exist in {schedule.zone} (clocks jump from {lo:%H:%M} to {hi:%H:%M}); flowc "
                f"{flowc}, but {policy.scheduler} {_TARGET_DOES[target_gap]} "
                f"(target {target})",
                f'move the time out of {lo:%H:%M}-{hi:%H:%M}, or use timezone = "UTC"',
            )
        )
    if overlap is not None and target_overlap != source_overlap:
        wall, tr = overlap
        lo, hi = tr.local_window()
        flowc = "runs it once, the first time" if source_overlap == ONCE else "runs it twice"
        out.append(
            ScheduleWarning(
                "W301",
                f"{schedule.source} fires at {wall:%H:%M} on {wall:%Y-%m-%d}, which happens "
                f"twice in {schedule.zone} (clocks go back from {hi:%H:%M} to {lo:%H:%M}); "
                f"flowc {flowc}, but {policy.scheduler} {_TARGET_DOES[target_overlap]} "
                f"(target {target})",
                f'move the time out of {lo:%H:%M}-{hi:%H:%M}, or use timezone = "UTC"',
            )
        )
    return out


def first_hits(
    schedule: Schedule, start: datetime | None = None
) -> tuple[tuple[datetime, Transition] | None, tuple[datetime, Transition] | None]:
    """The first (local time, transition) in a gap and in a repeated hour, if any."""
    now = start or datetime.now(UTC)
    begin = int(now.timestamp()) // 86400 * 86400
    end = begin + YEARS_AHEAD * 366 * 86400
    gap = overlap = None
    for wall, tr in dst_hits(schedule.spec, schedule.zone, begin, end):
        if tr.is_gap and gap is None:
            gap = (wall, tr)
        elif not tr.is_gap and overlap is None:
            overlap = (wall, tr)
        if gap is not None and overlap is not None:
            break
    return gap, overlap


def dst_hits(spec: Spec, zone: str, begin: int, end: int) -> Iterator[tuple[datetime, Transition]]:
    """(first local time, transition) for each offset change of `zone` in [begin, end)
    (epoch seconds) whose skipped or repeated local times the spec fires at."""
    plan = plan_for(spec)
    for tr in transitions(zone, begin, end):
        lo, hi = tr.local_window()
        wall = next(iter(plan.walls_from(lo)), None)
        if wall is not None and wall < hi:
            yield wall, tr
