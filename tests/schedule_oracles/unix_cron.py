"""Five-field unix cron evaluated by croniter (the GCP and Kubernetes oracle)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter


def unix_fires(exprs: list[str], tz: str, start: datetime, end: datetime) -> set[datetime]:
    """Union of the fire instants (UTC) of `exprs` (read in `tz`) with start < t <= end."""
    zone = ZoneInfo(tz)
    out: set[datetime] = set()
    for expr in exprs:
        it = croniter(expr, start.astimezone(zone))
        while True:
            t = it.get_next(datetime)
            if t > end:
                break
            out.add(t.astimezone(UTC))
    return out
