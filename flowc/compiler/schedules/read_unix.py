"""Read a five-field cron expression (Cloud Scheduler, Kubernetes CronJob) back into the
schedule model: Vixie's fields and day rule, as flowc's own cron parser reads them."""

from __future__ import annotations

from flowc.compiler.schedules.errors import ScheduleError
from flowc.compiler.schedules.parse_cron import parse_cron
from flowc.compiler.schedules.read_aws import UnreadableExpression
from flowc.compiler.schedules.spec import Rule


def read_unix(expression: str) -> tuple[Rule, ...]:
    """Five-field cron (Cloud Scheduler, Kubernetes CronJob): Vixie's fields and day rule."""
    try:
        return parse_cron(expression).rules
    except ScheduleError as err:
        raise UnreadableExpression(f"`{expression}`: {err.message}") from None
