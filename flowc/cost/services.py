"""What services cost in a month: always on, so priced per hour, not per run.

Per service and target, two scenarios: expected at the lowest `replicas` all month, and
worst case at the highest (`worst_replicas`). Each replica is billed at the size the
target runs it at: what that means is each target's pricing provider's `service`
(flowc/targets/<name>/pricing.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowc.compiler.ir import App, Service
from flowc.cost import sizing
from flowc.cost.pricing import PriceBook
from flowc.cost.providers import Line
from flowc.targets import registry


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


def _providers(books: dict[str, PriceBook]) -> dict[str, Any]:
    """Target -> its pricing provider, for the priced targets whose provider prices services."""
    out = {}
    for target in registry.all_targets():
        provider = target.load_pricing() if target.name in books else None
        if provider is not None and hasattr(provider, "service"):  # some price tasks only
            out[target.name] = provider
    return out


def estimate_services(app: App, books: dict[str, PriceBook], hours: float
                      ) -> tuple[list[ServiceCost], list[str]]:
    """Every service on every target it runs on that has prices, and notes."""
    providers = _providers(books)
    out: list[ServiceCost] = []
    for service in app.services:
        targets: dict[str, ServiceTargetCost] = {}
        for target, provider in providers.items():
            if not service.runs_on(target):
                continue
            low, high = service.scaling.min_replicas, provider.worst_replicas(service)
            product, size, lines = provider.service(service, books[target], hours, low)
            _, _, worst = provider.service(service, books[target], hours, high)
            targets[target] = ServiceTargetCost(target, product, size, low, high, lines, worst)
        out.append(ServiceCost(service, targets))
    notes = [note for provider in providers.values() for note in provider.service_notes(app)]
    return out, notes
