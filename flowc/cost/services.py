"""What services cost in a month: always on, so priced per hour, not per run.

Per service and target, two scenarios: expected at the lowest `replicas` all month, and
worst case at the highest. Each replica is billed at the size the target runs it at:
- aws, image service: Fargate vCPU-hours and GB-hours per task, plus one Application Load
  Balancer's hours when it has a port (LCUs depend on traffic and are not estimated);
  python service: Lambda and API Gateway bill per request only: nothing fixed (noted);
- gcp: Cloud Run instance-hours at the instance-based rates (`jobs` in the price file),
  at least 1 vCPU per instance as the GCP target sets it; min instances are kept warm;
- k8s: the node share the pods' requests reserve (as for tasks); the ingress
  controller's load balancer is shared by the cluster and not charged to a service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowc.compiler.ir import App, Service
from flowc.cost import sizing
from flowc.cost.pricing import PriceBook
from flowc.cost.providers import Line
from flowc.targets import registry

MIN_CLOUD_RUN_CPU = 1.0  # as flowc.targets.gcp.services sizes a Cloud Run service


@dataclass
class ServiceTargetCost:
    target: str
    product: str
    size: sizing.Size  # one replica
    replicas: int
    max_replicas: int
    lines: list[Line]  # at the lowest replica count
    worst_lines: list[Line]  # at the highest

    @property
    def total(self) -> float:
        return sum(line.gross for line in self.lines)

    @property
    def worst_total(self) -> float:
        return sum(line.gross for line in self.worst_lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "size": {"vcpu": self.size.vcpu, "memory_mib": self.size.memory_mib},
            "replicas": self.replicas, "max_replicas": self.max_replicas,
            "usage": {line.meter: {"quantity": round(line.quantity, 6), "unit": line.unit,
                                   "rate_usd": line.rate} for line in self.lines},
            "total_usd": round(self.total, 6), "worst_case_usd": round(self.worst_total, 6),
        }  # fmt: skip


@dataclass
class ServiceCost:
    service: Service
    targets: dict[str, ServiceTargetCost]

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service.name, "kind": self.service.handler.kind,
                "worker": self.service.is_worker,
                "targets": {t: c.to_json() for t, c in self.targets.items()}}


def _replica_lines(count: int, size: sizing.Size, hours: float, vcpu_hour: float,
                   gib_hour: float, prefix: str) -> list[Line]:
    return [Line("compute", f"{prefix}_vcpu_hours", count * size.vcpu * hours, "vCPU-h",
                 vcpu_hour),
            Line("compute", f"{prefix}_gib_hours", count * size.gib * hours, "GiB-h",
                 gib_hour)]


def _aws(service: Service, book: PriceBook, hours: float, count: int
         ) -> tuple[str, sizing.Size, list[Line]]:
    if service.handler.kind == "python":
        return ("AWS Lambda + API Gateway HTTP API (per request)",
                sizing.lambda_size(service.memory_mib), [])
    size = sizing.fargate_size(service.memory_mib, service.cpu)
    lines = _replica_lines(count, size, hours, book.rate("fargate", "vcpu_hour"),
                           book.rate("fargate", "gb_hour"), "fargate")
    if not service.is_worker:
        lines.append(Line("load_balancer", "alb_hours", hours, "ALB-h",
                          book.rate("alb", "hour")))
    return "ECS Fargate service" + ("" if service.is_worker else " + ALB"), size, lines


def _gcp(service: Service, book: PriceBook, hours: float, count: int
         ) -> tuple[str, sizing.Size, list[Line]]:
    size = sizing.Size(max(MIN_CLOUD_RUN_CPU, service.cpu), service.memory_mib)
    if service.handler.kind == "python":
        product = "Cloud Run functions (min instances warm)"
    elif service.is_worker:
        product = "Cloud Run worker pool"
    else:
        product = "Cloud Run service (min instances warm)"
    seconds = 3600
    return product, size, _replica_lines(
        count, size, hours, book.rate("jobs", "vcpu_second") * seconds,
        book.rate("jobs", "gib_second") * seconds, "run")


def _k8s(service: Service, book: PriceBook, hours: float, count: int
         ) -> tuple[str, sizing.Size, list[Line]]:
    size = sizing.Size(service.cpu, service.memory_mib)
    return "Kubernetes Deployment (node share)", size, _replica_lines(
        count, size, hours, book.rate("node", "vcpu_hour"), book.rate("node", "gib_hour"),
        "node")


PRICERS = {"aws": _aws, "gcp": _gcp, "k8s": _k8s}


def worst_count(service: Service, target: str) -> int:
    """Replicas in the worst case: a GCP worker pool does not scale (fixed at the lowest)."""
    if target == "gcp" and service.is_worker:
        return service.scaling.min_replicas
    return service.scaling.max_replicas


def estimate_services(app: App, books: dict[str, PriceBook], hours: float
                      ) -> tuple[list[ServiceCost], list[str]]:
    """Every service on every target it runs on that has prices, and notes."""
    out: list[ServiceCost] = []
    notes: list[str] = []
    for service in app.services:
        targets: dict[str, ServiceTargetCost] = {}
        for target in registry.names():
            if not service.runs_on(target) or target not in books or target not in PRICERS:
                continue
            price = PRICERS[target]
            low, high = service.scaling.min_replicas, worst_count(service, target)
            product, size, lines = price(service, books[target], hours, low)
            _, _, worst = price(service, books[target], hours, high)
            targets[target] = ServiceTargetCost(target, product, size, low, high, lines, worst)
            if target == "aws" and service.handler.kind == "python":
                notes.append(f"service {service.name} on aws: Lambda and the HTTP API bill "
                             "per request; with no traffic assumed, nothing is fixed")
        out.append(ServiceCost(service, targets))
    if any(not s.is_worker and s.runs_on("aws") and s.handler.kind == "image"
           for s in app.services):
        notes.append("services on aws: load balancer LCU-hours depend on traffic and are "
                     "not included")
    return out, notes
