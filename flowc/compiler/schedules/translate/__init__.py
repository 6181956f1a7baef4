"""Translate a Schedule to a target's expressions: one module per target, one registry.

Adding a target is one module with `translate(schedule) -> list[str]` and one
line in TARGETS. Shared lowering (checks, splitting, merging) is in `lower`,
field writing in `fields`, five-field unix cron in `unix`.
"""

from __future__ import annotations

from collections.abc import Callable

from flowc.compiler.schedules.errors import Untranslatable
from flowc.compiler.schedules.model import Schedule
from flowc.compiler.schedules.translate import aws, gcp, k8s

TARGETS: dict[str, Callable[[Schedule], list[str]]] = {
    "aws": aws.translate,
    "gcp": gcp.translate,
    "k8s": k8s.translate,
}


def translate(schedule: Schedule, target: str) -> list[str]:
    """Expressions for `target` whose union fires exactly at the schedule's local times.

    Raises Untranslatable (message names the target and the reason; the caller adds
    the task) with `.span` set to the schedule's span.
    """
    try:
        fn = TARGETS[target]
    except KeyError:
        raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}") from None
    try:
        return fn(schedule)
    except Untranslatable as err:
        err.span = err.span or schedule.span
        raise
