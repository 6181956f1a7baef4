"""What each target bills for one task: priced line items, free tiers, the always-on option.

One class per target maps a `Workload` (a task's attempts, run length, dead letters and
secret reads in one month) to `Line`s priced from its `PriceBook`; `PROVIDERS` is the only
place that lists them. A line belongs to one of CATEGORIES and may draw on a free-tier
`Pool` (the allowance a billing account gets each month, shared by every task).

Assumptions every target shares (README "flowc cost"):
- each attempt writes LOG_BYTES_PER_ATTEMPT of logs and reads each of its secrets once;
- a dead-lettered run is one message of DEAD_LETTER_BYTES;
- durations round up to the product's billing increment, per attempt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flowc.compiler.ir import App, Task
from flowc.cost import sizing
from flowc.cost.pricing import PriceBook

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


def _logs(w: Workload, rate_per_gib: float, pool: str | None) -> Line:
    gib = w.attempts * LOG_BYTES_PER_ATTEMPT / GIB
    return Line("logs", "log_gib", gib, "GiB", rate_per_gib, pool)


class Aws:
    name = "aws"

    def region(self, app: App) -> str:
        return app.aws.region

    def product(self, task: Task) -> str:
        return "AWS Lambda" if task.handler.kind == "python" else "ECS Fargate"

    def size(self, task: Task, p: PriceBook) -> sizing.Size:
        if task.handler.kind == "python":
            return sizing.lambda_size(task.memory_mib)
        return sizing.fargate_size(task.memory_mib, task.cpu)

    def lines(self, task: Task, w: Workload, p: PriceBook) -> list[Line]:
        size = self.size(task, p)
        out: list[Line] = []
        if task.handler.kind == "python":
            seconds = billed_seconds(w.duration_s, p.rate("lambda", "billing_increment_ms") / 1000)
            out.append(Line("requests", "lambda_requests", w.attempts, "requests",
                            p.rate("lambda", "request_per_million") / 1e6, "lambda_requests"))
            out.append(Line("compute", "lambda_gb_seconds", w.attempts * seconds * size.gib,
                            "GB-s", p.rate("lambda", "gb_second"), "lambda_gb_seconds"))
        else:
            seconds = billed_seconds(w.duration_s, p.rate("fargate", "billing_increment_s"),
                                     p.rate("fargate", "minimum_seconds"))
            out.append(Line("compute", "fargate_vcpu_seconds", w.attempts * seconds * size.vcpu,
                            "vCPU-s", p.rate("fargate", "vcpu_hour") / 3600))
            out.append(Line("compute", "fargate_gb_seconds", w.attempts * seconds * size.gib,
                            "GB-s", p.rate("fargate", "gb_hour") / 3600))
        out.append(Line("scheduler", "scheduler_invocations", w.attempts, "invocations",
                        p.rate("scheduler", "invocation_per_million") / 1e6, "scheduler"))
        out.append(Line("queues", "sqs_requests", w.dead_letters, "requests",
                        p.rate("queue", "request_per_million") / 1e6, "sqs"))
        out.append(Line("secrets", "secret_months", w.secret_share, "secret-months",
                        p.rate("secrets", "secret_month"), fixed=True))
        out.append(Line("secrets", "secret_api_calls", w.attempts * w.secret_reads, "calls",
                        p.rate("secrets", "api_calls_per_10k") / 1e4))
        out.append(_logs(w, p.rate("logs", "ingestion_gb"), "logs"))
        return out

    def pools(self, p: PriceBook, days: int) -> list[Pool]:
        return [Pool("lambda_requests", p.rate("lambda", "free_requests")),
                Pool("lambda_gb_seconds", p.rate("lambda", "free_gb_seconds")),
                Pool("scheduler", p.rate("scheduler", "free_invocations")),
                Pool("sqs", p.rate("queue", "free_requests")),
                Pool("logs", p.rate("logs", "free_gb"))]

    def always_on(self, task: Task, p: PriceBook, hours: float) -> AlwaysOn:
        size = sizing.fargate_size(task.memory_mib, task.cpu)
        usd = hours * (size.vcpu * p.rate("fargate", "vcpu_hour")
                       + size.gib * p.rate("fargate", "gb_hour"))
        return AlwaysOn("ECS Fargate service, 1 task", size, usd)


class Gcp:
    name = "gcp"

    def region(self, app: App) -> str:
        return app.gcp.region

    def product(self, task: Task) -> str:
        return "Cloud Run functions" if task.handler.kind == "python" else "Cloud Run jobs"

    def size(self, task: Task, p: PriceBook) -> sizing.Size:
        if task.handler.kind == "python":
            return sizing.function_size(task.memory_mib, task.cpu)
        return sizing.run_job_size(task.memory_mib, task.cpu)

    def lines(self, task: Task, w: Workload, p: PriceBook) -> list[Line]:
        size = self.size(task, p)
        table = "functions" if task.handler.kind == "python" else "jobs"
        seconds = billed_seconds(w.duration_s, p.rate(table, "billing_increment_ms") / 1000)
        out: list[Line] = []
        if table == "functions":
            out.append(Line("requests", "run_requests", w.attempts, "requests",
                            p.rate("functions", "request_per_million") / 1e6, "run_requests"))
        out.append(Line("compute", f"{table}_vcpu_seconds", w.attempts * seconds * size.vcpu,
                        "vCPU-s", p.rate(table, "vcpu_second"), "run_cpu"))
        out.append(Line("compute", f"{table}_gib_seconds", w.attempts * seconds * size.gib,
                        "GiB-s", p.rate(table, "gib_second"), "run_memory"))
        out.append(Line("scheduler", "scheduler_job_days", w.triggers * w.days, "job-days",
                        p.rate("scheduler", "job_31_days") / 31, "scheduler", fixed=True))
        billed = max(DEAD_LETTER_BYTES, p.rate("queue", "minimum_bytes_per_request"))
        out.append(Line("queues", "pubsub_gib", w.dead_letters * billed / GIB, "GiB",
                        p.rate("queue", "throughput_tib") / 1024, "pubsub"))
        out.append(Line("secrets", "secret_version_months", w.secret_share, "version-months",
                        p.rate("secrets", "version_month"), "secret_versions", fixed=True))
        out.append(Line("secrets", "secret_accesses", w.attempts * w.secret_reads, "accesses",
                        p.rate("secrets", "access_per_10k") / 1e4, "secret_accesses"))
        out.append(_logs(w, p.rate("logs", "ingestion_gib"), "logs"))
        return out

    def pools(self, p: PriceBook, days: int) -> list[Pool]:
        return [Pool("run_requests", p.rate("functions", "free_requests")),
                Pool("run_cpu", p.rate("run_free_tier", "cpu_usd"), in_usd=True),
                Pool("run_memory", p.rate("run_free_tier", "memory_usd"), in_usd=True),
                Pool("scheduler", p.rate("scheduler", "free_jobs") * days),
                Pool("pubsub", p.rate("queue", "free_gib")),
                Pool("secret_versions", p.rate("secrets", "free_versions")),
                Pool("secret_accesses", p.rate("secrets", "free_accesses")),
                Pool("logs", p.rate("logs", "free_gib"))]

    def always_on(self, task: Task, p: PriceBook, hours: float) -> AlwaysOn:
        size = self.size(task, p)
        usd = hours * 3600 * (size.vcpu * p.rate("jobs", "vcpu_second")
                              + size.gib * p.rate("jobs", "gib_second"))
        return AlwaysOn("Cloud Run service, CPU always allocated, 1 min instance", size, usd)


class K8s:
    name = "k8s"

    def region(self, app: App) -> str | None:
        return None

    def product(self, task: Task) -> str:
        return "Kubernetes CronJob"

    def size(self, task: Task, p: PriceBook) -> sizing.Size:
        return sizing.k8s_size(task.memory_mib, task.cpu)

    def lines(self, task: Task, w: Workload, p: PriceBook) -> list[Line]:
        size = self.size(task, p)
        seconds = billed_seconds(w.duration_s, p.rate("node", "billing_increment_s"))
        return [
            Line("compute", "node_vcpu_seconds", w.attempts * seconds * size.vcpu, "vCPU-s",
                 p.rate("node", "vcpu_hour") / 3600),
            Line("compute", "node_gib_seconds", w.attempts * seconds * size.gib, "GiB-s",
                 p.rate("node", "gib_hour") / 3600),
            _logs(w, p.rate("logs", "ingestion_gib"), None),
        ]

    def pools(self, p: PriceBook, days: int) -> list[Pool]:
        return []

    def always_on(self, task: Task, p: PriceBook, hours: float) -> AlwaysOn:
        size = self.size(task, p)
        usd = hours * (size.vcpu * p.rate("node", "vcpu_hour")
                       + size.gib * p.rate("node", "gib_hour"))
        return AlwaysOn("Deployment, 1 pod (its share of a node all month)", size, usd)


Provider = Aws | Gcp | K8s
PROVIDERS: dict[str, Provider] = {"aws": Aws(), "gcp": Gcp(), "k8s": K8s()}
