"""Kubernetes CronJob: five-field cron with `timeZone` (robfig/cron; no L, W, # or years)."""

from __future__ import annotations

from flowc.compiler.schedules.model import Schedule
from flowc.compiler.schedules.translate import unix
from flowc.compiler.schedules.translate.lower import Dialect

DIALECT = Dialect(target="k8s", label="the Kubernetes CronJob's five-field cron")


def translate(schedule: Schedule) -> list[str]:
    return unix.translate(schedule, DIALECT)
