"""Source to checked IR in one call: read, parse, check (PLACEHOLDER until issue 2 lands).

    result = load("reports.flow", env="prod")
    if result.ok: use result.app
    else: render result.diagnostics (they carry spans into result.sources)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flowc.compiler.diagnostics import Diagnostic, SourceCache, has_errors
from flowc.compiler.ir import App


@dataclass
class LoadResult:
    app: App | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: SourceCache = field(default_factory=SourceCache)

    @property
    def ok(self) -> bool:
        return self.app is not None and not has_errors(self.diagnostics)


def load(path: str | Path, env: str | None = None) -> LoadResult:
    raise NotImplementedError("front end lands with issue 2")
