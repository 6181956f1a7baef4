"""What each target bills for one task: priced line items, free tiers, the always-on option.

Each target's pricing provider (flowc/targets/<name>/pricing.py, declared as the target's
`pricing`) maps a `Workload` (a task's attempts, run length, dead letters and secret reads
in one month) to `Line`s priced from its `PriceBook`, with a `SCHEMA` of the price tables
it reads. A line belongs to one of CATEGORIES and may draw on a free-tier
`Pool` (the allowance a billing account gets each month, shared by every task).
A provider that prices services too (flowc.cost.services) has `service(service, book,
hours, count) -> (product, size, lines)`, `worst_replicas(service)` and
`service_notes(app)`.

Assumptions every target shares (docs/cost.md):
- each attempt writes LOG_BYTES_PER_ATTEMPT of logs and reads each of its secrets once;
- a dead-lettered run is one message of DEAD_LETTER_BYTES;
- durations round up to the product's billing increment, per attempt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flowc.cost import sizing

CATEGORIES = ("requests", "compute", "scheduler", "queues", "secrets", "logs")
LOG_BYTES_PER_ATTEMPT = 4096
DEAD_LETTER_BYTES = 2048
GIB = 1024**3


@dataclass(frozen=True)
class Line:
    """One billed quantity: `quantity` `unit`s at `rate` USD each."""

    category: str
    meter: str  # e.g. "lambda_gb_seconds", unique within a target
    quantity: float
    unit: str
    rate: float
    pool: str | None = None  # the free-tier pool it draws on
    fixed: bool = False  # a monthly fee, not proportional to runs

    @property
    def gross(self) -> float:
        return self.quantity * self.rate


@dataclass(frozen=True)
class Pool:
    """A monthly free allowance: in the unit of its lines, or in USD (`in_usd`)."""

    name: str
    allowance: float
    in_usd: bool = False


@dataclass(frozen=True)
class Workload:
    """What one task does on one target in one month, in one scenario."""

    attempts: int  # runs, or runs x (1 + retries) in the worst case
    duration_s: float  # per attempt
    dead_letters: int  # runs sent to the dead-letter queue
    triggers: int  # scheduler resources
    secret_reads: int  # secrets read per attempt
    secret_share: float  # this task's share of the secrets' monthly fees
    days: int  # days in the month


@dataclass(frozen=True)
class AlwaysOn:
    product: str
    size: sizing.Size
    monthly_usd: float


def billed_seconds(duration_s: float, increment_s: float, minimum_s: float = 0.0) -> float:
    """A run's billed length: rounded up to the increment, at least the minimum."""
    if increment_s > 0:
        duration_s = math.ceil(round(duration_s / increment_s, 9)) * increment_s
    return max(duration_s, minimum_s)


def logs_line(w: Workload, rate_per_gib: float, pool: str | None) -> Line:
    gib = w.attempts * LOG_BYTES_PER_ATTEMPT / GIB
    return Line("logs", "log_gib", gib, "GiB", rate_per_gib, pool)


def replica_lines(count: int, size: sizing.Size, hours: float, vcpu_hour: float,
                  gib_hour: float, prefix: str) -> list[Line]:
    """An always-on service's compute: `count` replicas of `size` for `hours`."""
    return [Line("compute", f"{prefix}_vcpu_hours", count * size.vcpu * hours, "vCPU-h",
                 vcpu_hour),
            Line("compute", f"{prefix}_gib_hours", count * size.gib * hours, "GiB-h",
                 gib_hour)]
