"""Services in the emulator: each one supervised behind its own stable local proxy.

`Services.update(specs, changed_paths)` is the whole interface the session uses: it
starts new services, stops removed ones, and swaps an instance when its spec changed or
a file under its code changed (new instance healthy first, then the proxy switches, then
the old one stops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from flowc.emulator.services.instance import OutputSink
from flowc.emulator.services.spec import ServiceSpec
from flowc.emulator.services.supervisor import Emit, Note, Supervisor, Timing

EmitFor = Callable[[str], Emit]  # service name -> emit(event, **fields) for it


class Services:
    def __init__(
        self, emit_for: EmitFor, output: OutputSink, note: Note, timing: Timing = Timing(),
        proxy_ports: dict[str, int] | None = None,
    ):  # fmt: skip
        self.emit_for = emit_for
        self.output = output
        self.note = note
        self.timing = timing
        self.proxy_ports = proxy_ports or {}
        self.supervisors: dict[str, Supervisor] = {}

    def update(self, specs: Iterable[ServiceSpec], changed: Iterable[Path] = ()) -> None:
        wanted = {spec.name: spec for spec in specs}
        changed = [Path(p) for p in changed]
        for name in [n for n in self.supervisors if n not in wanted]:
            self.supervisors.pop(name).stop()
        for name, spec in wanted.items():
            current = self.supervisors.get(name)
            if current is not None and current.spec.port != spec.port:
                current.stop()  # a new port is a new front door
                current = None
            if current is None:
                supervisor = Supervisor(
                    spec, self.emit_for(name), self.output, self.note,
                    self.proxy_ports.get(name), self.timing,
                )  # fmt: skip
                self.supervisors[name] = supervisor
                supervisor.start()
            elif spec != current.spec:
                current.reload(spec, "spec changed")
            elif any(spec.owns(p) for p in changed):
                current.reload(spec, "code changed")

    def urls(self) -> dict[str, str | None]:
        return {name: s.url for name, s in self.supervisors.items()}

    def stop(self, grace: float | None = None) -> None:
        for supervisor in self.supervisors.values():
            supervisor.stop(grace)
        self.supervisors.clear()


__all__ = ["ServiceSpec", "Services", "Supervisor", "Timing"]
