"""What a target will run: its emitted expressions, read back and evaluated.

A target's expressions (what translate/ wrote into `Task.target_schedules`) are read
back into the schedule model by that target's dialect reader, then evaluated by the
same evaluator as the source, under the target's documented daylight-saving behaviour
(its declared `dst` policy, flowc/targets/<name>/__init__.py): EventBridge Scheduler skips a time in
a gap and runs a repeated time once; the CronJob controller skips a gap and walks a
repeated hour twice. Where a target does not document it (Cloud Scheduler) the
evaluation follows the wall clock (a gap time never shows, a repeated one shows twice)
and `uncertain_days` names the days that depend on it.

    emitted = Emitted("aws", ("cron(0 9 ? * MON-FRI *)",), "Europe/Berlin")
    emitted.fires_between(start, end)   # aware datetimes, ascending
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property, lru_cache

from flowc.compiler.schedules.dst import (
    ONCE,
    SHIFT,
    SKIP,
    TWICE,
    UNKNOWN,
    dst_hits,
)
from flowc.compiler.schedules.evaluate import iter_spec_seconds
from flowc.compiler.schedules.read_aws import UnreadableExpression
from flowc.compiler.schedules.spec import (
    GAP_SHIFT,
    GAP_SKIP,
    OVERLAP_BOTH,
    OVERLAP_FIRST,
    Spec,
)
from flowc.compiler.schedules.zones import get_zone
from flowc.targets import registry

_GAP = {SHIFT: GAP_SHIFT, UNKNOWN: GAP_SKIP}  # anything else: skipped
_OVERLAP = {ONCE: OVERLAP_FIRST, TWICE: OVERLAP_BOTH, UNKNOWN: OVERLAP_BOTH}


@lru_cache(maxsize=1024)
def target_spec(target: str, expression: str) -> Spec:
    """One expression of `target` as a Spec carrying the target's DST behaviour."""
    declared = registry.get(target) if target in registry.names() else None
    if declared is None or declared.read_cron is None:
        raise ValueError(f"unknown target {target!r}; known: {', '.join(registry.names())}")
    gap, overlap = declared.dst.gap, declared.dst.overlap
    rules = tuple(dict.fromkeys(rule.normalized() for rule in declared.read_cron(expression)))
    return Spec(rules=rules, gap=_GAP.get(gap, GAP_SKIP), overlap=_OVERLAP[overlap])


_GAP_WORDS = {SKIP: "skips a time the clocks skip", SHIFT: "runs a skipped time after the jump",
              UNKNOWN: "does not document a time the clocks skip"}
_OVERLAP_WORDS = {ONCE: "runs a repeated time once", TWICE: "runs a repeated time twice",
                  UNKNOWN: "does not document a repeated time"}


def dst_words(gap: str, overlap: str) -> str:
    """A DST policy in words: "skips a time the clocks skip, runs a repeated time once"."""
    return f"{_GAP_WORDS[gap]}, {_OVERLAP_WORDS[overlap]}"


def target_dst_words(target: str) -> str:
    policy = registry.get(target).dst
    words = f"{policy.scheduler} " + dst_words(policy.gap, policy.overlap)
    return words if documents_dst(target) else words + " (drawn as the wall clock reads)"


def documents_dst(target: str) -> bool:
    """Does the target say what it does in a DST gap and in a repeated hour?"""
    policy = registry.get(target).dst
    return UNKNOWN not in (policy.gap, policy.overlap)


@dataclass(frozen=True)
class Emitted:
    """The expressions one target runs for a task (their union), read in `timezone`."""

    target: str
    expressions: tuple[str, ...]
    timezone: str

    @cached_property
    def specs(self) -> tuple[Spec, ...]:
        """Raises UnreadableExpression for an expression flowc cannot evaluate."""
        return tuple(target_spec(self.target, e) for e in self.expressions)

    def fires_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Every fire t with start < t <= end, ascending, aware in the timezone.

        Each expression is its own trigger in the cloud, so an instant two of them
        share appears twice: the target runs the task twice then.
        """
        zone = get_zone(self.timezone)
        end_s = end.timestamp()
        streams = [_until(iter_spec_seconds(spec, self.timezone, start), end_s)
                   for spec in self.specs]
        return [datetime.fromtimestamp(ts, zone) for ts in heapq.merge(*streams)]

    def uncertain_days(self, start: datetime, end: datetime) -> set[date]:
        """Local days with a fire in a gap or repeated hour the target does not document."""
        if documents_dst(self.target):
            return set()
        begin, stop = int(start.timestamp()), int(end.timestamp()) + 1
        return {wall.date() for spec in self.specs
                for wall, _tr in dst_hits(spec, self.timezone, begin, stop)}


def _until(stream, end_s: float):
    for ts in stream:
        if ts > end_s:
            return
        yield ts


__all__ = ["Emitted", "UnreadableExpression", "documents_dst", "dst_words",
           "target_dst_words", "target_spec"]
