"""One diagnostic type for every error and warning flowc reports, and its renderers.

Text form (SPEC §1):

    path:line:col: error[E123]: message
     3 | task Daily {
       |      ^^^^^
    help: names are lowercase: `daily`
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file; lines and columns are 1-based, end is exclusive."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __post_init__(self) -> None:
        if not self.end_line:
            object.__setattr__(self, "end_line", self.line)
        if not self.end_column:
            object.__setattr__(self, "end_column", self.column + 1)

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


@dataclass(frozen=True)
class Diagnostic:
    code: str  # "E123" or "W123", see flowc/compiler/codes.py
    message: str
    span: Span | None = None
    help: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def severity(self) -> str:
        return WARNING if self.code.startswith("W") else ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_json(self) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "span": self.span.to_json() if self.span else None,
            "help": self.help,
        }


class CompileError(Exception):
    """Raised where a pipeline stage cannot go on; carries every diagnostic found so far."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


class DiagnosticError(Exception):
    """One problem that stops an operation; carries the diagnostic to show the user.

    Subclass it per domain (pricing, runners, terraform) so callers can catch narrowly.
    """

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple:
    if d.span is None:
        return ("", 0, 0, d.code)
    return (d.span.file, d.span.line, d.span.column, d.code)


class SourceCache:
    """Reads source lines for rendering; tolerant of missing or binary files."""

    def __init__(self, texts: dict[str, str] | None = None):
        self._texts = dict(texts or {})

    def add(self, path: str, text: str) -> None:
        self._texts[path] = text

    def line(self, path: str, lineno: int) -> str | None:
        text = self._texts.get(path)
        if text is None:
            try:
                if not Path(path).is_file():  # a FIFO or device would block the read
                    return None
                text = Path(path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            self._texts[path] = text
        lines = text.splitlines()
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return None


def render_text(diagnostics: Iterable[Diagnostic], sources: SourceCache | None = None) -> str:
    """Render diagnostics as SPEC §1 text, one block each, separated by blank lines."""
    sources = sources or SourceCache()
    blocks = [render_one(d, sources) for d in sorted(diagnostics, key=sort_key)]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def render_one(d: Diagnostic, sources: SourceCache) -> str:
    where = ""
    if d.span is not None:
        where = f"{d.span.file}:{d.span.line}:{d.span.column}: "
    out = [f"{where}{d.severity}[{d.code}]: {d.message}"]
    if d.span is not None:
        src = sources.line(d.span.file, d.span.line)
        if src is not None:
            src = src.replace("\t", " ")
            gutter = str(d.span.line)
            pad = " " * len(gutter)
            if d.span.end_line == d.span.line:
                width = max(1, d.span.end_column - d.span.column)
            else:
                width = max(1, len(src) - d.span.column + 1)
            out.append(f"{gutter} | {src}")
            out.append(f"{pad} | {' ' * (d.span.column - 1)}{'^' * width}")
    for note in d.notes:
        out.append(f"note: {note}")
    if d.help:
        out.append(f"help: {d.help}")
    return "\n".join(out)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in sorted(diagnostics, key=sort_key)], indent=2)
