"""What a target's service check reports through: `ServiceFit`, one service's findings.

Each target declares `service_limits` (flowc.targets.registry.Target): a function given a
`ServiceFit` that reports, as E230 (cannot run as declared) or W230 (runs, but ignores or
rounds a setting), what that target cannot honour. flowc.compiler.service_limits calls
every target the service runs on, in registry order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowc.compiler.ir import Service
from flowc.diagnostics import Diagnostic, Span
from flowc.grammar import syntax as s


@dataclass
class ServiceFit:
    service: Service
    own: dict[str, Any]  # the service's own settings by key (their spans)
    out: list[Diagnostic] = field(default_factory=list)

    @property
    def python(self) -> bool:
        return self.service.handler.kind == "python"

    def span(self, key: str) -> Span:
        node = self.own.get(key)
        if node is None:
            return self.service.span
        return node.value.span if isinstance(node, s.Assign) else node.span

    def error(self, target: str, key: str, reason: str, help: str) -> None:
        self.out.append(Diagnostic("E230", f"service `{self.service.name}` cannot run on "
                                   f"{target}: {reason}", self.span(key), help))

    def warn(self, target: str, key: str, reason: str, help: str) -> None:
        self.out.append(Diagnostic("W230", f"service `{self.service.name}` on {target}: "
                                   f"{reason}", self.span(key), help, target=target))

    def without(self, target: str) -> str:
        """The fix hint that drops `target` from the service's targets."""
        rest = ", ".join(t for t in self.service.targets if t != target)
        return f"leave {target} out with `targets = [{rest}]`"
