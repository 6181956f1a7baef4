"""What the emulator needs to know to run one service, independent of how it was declared.

`ServiceSpec` is filled from the IR (`from_ir`) by the session; tests build it directly.
Two specs compare equal exactly when a running instance can keep serving unchanged, so
a reload restarts a service only when its spec changed or its code did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    code_dir: Path  # cwd of the process; python services import from here
    python: str | None = None  # "module:attr", an ASGI or WSGI app (a callable for a worker)
    image: str | None = None
    command: tuple[str, ...] = ()
    port: int | None = None  # the port the service listens on; None: a worker
    health: str | None = None  # HTTP path polled before routing; None: ready once running
    env: tuple[tuple[str, str], ...] = ()
    memory_mib: int | None = None
    cpu: float | None = None
    span: object | None = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        return "python" if self.python else "image"

    @property
    def is_worker(self) -> bool:
        return self.port is None

    def owns(self, path: Path) -> bool:
        """A changed file that means new code for this service (a python service's tree)."""
        return self.kind == "python" and path.resolve().is_relative_to(self.code_dir.resolve())


def from_ir(app, service, secret_values: dict[str, str | None]) -> ServiceSpec:
    """The emulator's view of an `ir.Service`; secrets without a local value are left out
    (`flowc dev` has already warned about them, W501)."""
    from flowc.compiler.ir import PythonHandler, SecretRef

    env: list[tuple[str, str]] = []
    for var in service.env:
        if isinstance(var.value, SecretRef):
            value = secret_values.get(var.value.secret)
            if value is None:
                continue
            env.append((var.name, value))
        else:
            env.append((var.name, var.value))
    env += [("FLOWC_APP", app.name), ("FLOWC_SERVICE", service.name)]
    handler = service.handler
    python = handler.entrypoint if isinstance(handler, PythonHandler) else None
    return ServiceSpec(
        name=service.name, code_dir=(Path(app.base_dir) / service.code_dir).resolve(),
        python=python, image=None if python else handler.image,
        command=() if python else tuple(handler.command), port=service.port,
        health=service.health, env=tuple(env), memory_mib=service.memory_mib, cpu=service.cpu,
        span=service.span,
    )  # fmt: skip
