"""Five-field unix cron (Vixie fields, Sunday = 0), shared by GCP and Kubernetes.

Both day fields restricted means OR here, so a days-only and a weekdays-only
piece with the same times become one expression; their fields are then never
written with a leading `*` (`1-31/2`, not `*/2`), which historic Vixie cron
would read as unrestricted. One-time `at()`, years, seconds, weekday-AND-day
and days counted back from the end of February cannot be said (Untranslatable).
"""

from __future__ import annotations

from flowc.compiler.schedules.errors import Untranslatable
from flowc.compiler.schedules.model import Schedule
from flowc.compiler.schedules.translate.fields import NO_STEP, cron_field
from flowc.compiler.schedules.translate.lower import Dialect, Piece, lower, merge, merge_either


def translate(schedule: Schedule, dialect: Dialect) -> list[str]:
    if schedule.kind == "at":
        raise Untranslatable(
            "E320",
            f"{schedule.source} is a one-time run, and {dialect.label} has no year field, so "
            f"it would repeat every year (target {dialect.target})",
            "run this task on aws only (`targets = [aws]`), where EventBridge Scheduler has "
            "at(), or give it a recurring schedule",
        )
    pieces = merge(merge_either(lower(schedule, dialect)))
    return [expression(p) for p in pieces]


def expression(p: Piece) -> str:
    star = not p.either  # with OR semantics no field may start with `*`
    dom = "*" if p.days is None else cron_field(p.days, 1, 31, star=star)
    dow = (
        "*"
        if p.weekdays is None
        else cron_field(((w + 1) % 7 for w in p.weekdays), 0, 6, star=star, step=NO_STEP)
    )
    return " ".join(
        (
            cron_field(p.minutes, 0, 59),
            cron_field(p.hours, 0, 23),
            dom,
            cron_field(p.months, 1, 12),
            dow,
        )
    )
