"""What this target bills for one task, priced from its flowc/pricing/*.toml files.

See flowc.cost.providers for the shared pieces (Line, Pool, Workload).
"""

from __future__ import annotations

from flowc.compiler.ir import App, Service, Task
from flowc.cost import sizing
from flowc.cost.pricing import PriceBook
from flowc.cost.providers import (
    AlwaysOn,
    Line,
    Pool,
    Workload,
    billed_seconds,
    logs_line,
    replica_lines,
)


class K8sPricing:
    """Kubernetes's billed quantities for one task (registered as the target's `pricing`)."""

    name = "k8s"
    regional = False  # its price files (and `--prices` files) name a region
    # price table -> the numeric keys a price file must give (flowc/pricing/k8s-*.toml)
    SCHEMA: dict[str, tuple[str, ...]] = {
        "node": ("vcpu_hour", "gib_hour", "billing_increment_s"),
        "logs": ("ingestion_gib",),
    }

    # -- services (flowc.cost.services): always on, priced per hour -------------------------

    def service(self, service: Service, book: PriceBook, hours: float, count: int
                ) -> tuple[str, sizing.Size, list[Line]]:
        """The node share the pods' requests reserve (as for tasks); the ingress
        controller's load balancer is the cluster's, not charged to a service."""
        size = sizing.Size(service.cpu, service.memory_mib)
        return "Kubernetes Deployment (node share)", size, replica_lines(
            count, size, hours, book.rate("node", "vcpu_hour"), book.rate("node", "gib_hour"),
            "node")

    def worst_replicas(self, service: Service) -> int:
        return service.scaling.max_replicas

    def service_notes(self, app: App) -> list[str]:
        return []

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
            logs_line(w, p.rate("logs", "ingestion_gib"), None),
        ]

    def pools(self, p: PriceBook, days: int) -> list[Pool]:
        return []

    def always_on(self, task: Task, p: PriceBook, hours: float) -> AlwaysOn:
        size = self.size(task, p)
        usd = hours * (size.vcpu * p.rate("node", "vcpu_hour")
                       + size.gib * p.rate("node", "gib_hour"))
        return AlwaysOn("Deployment, 1 pod (its share of a node all month)", size, usd)
