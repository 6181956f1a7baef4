"""What this target bills for one task, priced from its flowc/pricing/*.toml files.

See flowc.cost.providers for the shared pieces (Line, Pool, Workload).
"""

from __future__ import annotations

from flowc.compiler.ir import App, Service, Task
from flowc.cost import sizing
from flowc.cost.pricing import PriceBook
from flowc.cost.providers import (
    DEAD_LETTER_BYTES,
    GIB,
    AlwaysOn,
    Line,
    Pool,
    Workload,
    billed_seconds,
    logs_line,
    replica_lines,
)
from flowc.targets.gcp import TARGET as GCP
from flowc.targets.gcp.limits import service_cpu


class GcpPricing:
    """GCP's billed quantities for one task (registered as the target's `pricing`)."""

    name = "gcp"
    regional = True  # its price files (and `--prices` files) name a region
    # price table -> the numeric keys a price file must give (flowc/pricing/gcp-*.toml)
    SCHEMA: dict[str, tuple[str, ...]] = {
        "functions": ("vcpu_second", "gib_second", "request_per_million",
                      "billing_increment_ms", "free_requests"),
        "jobs": ("vcpu_second", "gib_second", "billing_increment_ms"),
        "run_free_tier": ("cpu_usd", "memory_usd"),
        "scheduler": ("job_31_days", "free_jobs"),
        "queue": ("throughput_tib", "minimum_bytes_per_request", "free_gib"),
        "secrets": ("version_month", "access_per_10k", "free_versions", "free_accesses"),
        "logs": ("ingestion_gib", "free_gib"),
    }

    # -- services (flowc.cost.services): always on, priced per hour -------------------------

    def service(self, service: Service, book: PriceBook, hours: float, count: int
                ) -> tuple[str, sizing.Size, list[Line]]:
        """Cloud Run instance-hours at the instance-based rates (`jobs` in the price file),
        at the vCPU the GCP target gives the service; min instances are kept warm."""
        size = sizing.Size(service_cpu(service.cpu), service.memory_mib)
        if service.handler.kind == "python":
            product = "Cloud Run functions (min instances warm)"
        elif service.is_worker:
            product = "Cloud Run worker pool"
        else:
            product = "Cloud Run service (min instances warm)"
        seconds = 3600
        return product, size, replica_lines(
            count, size, hours, book.rate("jobs", "vcpu_second") * seconds,
            book.rate("jobs", "gib_second") * seconds, "run")

    def worst_replicas(self, service: Service) -> int:
        """A worker pool does not scale: it stays at the lowest count."""
        if service.is_worker:
            return service.scaling.min_replicas
        return service.scaling.max_replicas

    def service_notes(self, app: App) -> list[str]:
        return []

    def region(self, app: App) -> str:
        return GCP.settings_of(app).region

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
        out.append(logs_line(w, p.rate("logs", "ingestion_gib"), "logs"))
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
