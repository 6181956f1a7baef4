"""One diagnostic type for every error and warning flowc reports, and its renderers.

Text form (SPEC §1):

    path:line:col: error[E123]: message
     3 | task Daily {
       |      ^^^^^
    help: names are lowercase: `daily`
"""

from __future__ import annotations

import json
import re
from collections import Counter
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
    target: str | None = None  # the one target it concerns (aws, gcp, k8s), if any

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


NAMED_AT_MOST = 5  # names a diagnostic spells out before "and N more"


def named(names: Sequence[str], limit: int = NAMED_AT_MOST) -> str:
    """"`a`, `b` and 3 more": a diagnostic about many tasks stays one readable line."""
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    rest = len(names) - limit
    return f"{shown} and {rest:,} more" if rest > 0 else shown


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

    def text(self, path: str) -> str | None:
        text = self._texts.get(path)
        if text is None:
            try:
                if not Path(path).is_file():  # a FIFO or device would block the read
                    return None
                text = Path(path).read_text(encoding="utf-8", errors="replace")
            except (OSError, ValueError):
                return None
            self._texts[path] = text
        return text

    def line(self, path: str, lineno: int) -> str | None:
        text = self.text(path)
        if text is None:
            return None
        lines = text.splitlines()
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return None


def render_text(diagnostics: Iterable[Diagnostic], sources: SourceCache | None = None) -> str:
    """Render diagnostics as SPEC §1 text, one block each, separated by blank lines.

    Identical diagnostics (same code, message, place and help) are shown once, with a
    note saying how many times they were reported.
    """
    sources = sources or SourceCache()
    counts = Counter(diagnostics)
    blocks = []
    for d in sorted(counts, key=sort_key):
        if counts[d] > 1:
            d = Diagnostic(d.code, d.message, d.span, d.help,
                           (*d.notes, f"reported {counts[d]} times"))
        blocks.append(render_one(d, sources))
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


# `# flowc: allow W300 W301` anywhere in a spec silences those warnings for that file.
ALLOW_COMMENT = re.compile(r"#\s*flowc:\s*allow\b([^\n#]*)", re.IGNORECASE)


def allowed_codes(text: str) -> set[str]:
    """The warning codes a spec's `# flowc: allow ...` comments silence."""
    return {code.upper() for m in ALLOW_COMMENT.finditer(text)
            for code in re.findall(r"\b[Ww]\d{3}\b", m.group(1))}


class WarningFilter:
    """Which warnings one command shows: each distinct warning once (a reload that finds it
    again says nothing new), none that `--quiet`, `-W CODE` or a `# flowc: allow CODE`
    comment in the warning's file silences. Errors always show.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self, quiet: bool = False, allowed: Iterable[str] = ()) -> None:
        self.quiet = quiet
        self.allowed = {code.upper() for code in allowed}
        self._shown: set[Diagnostic] = set()
        self.printed = False  # the command printed diagnostics already

    def visible(self, diagnostics: Iterable[Diagnostic],
                sources: SourceCache | None = None) -> list[Diagnostic]:
        sources = sources or SourceCache()
        out = []
        for d in diagnostics:
            if not d.is_error:
                if self.quiet or d.code in self.allowed or d in self._shown:
                    continue
                text = sources.text(d.span.file) if d.span is not None else None
                if text is not None and d.code in allowed_codes(text):
                    continue
                self._shown.add(d)
            out.append(d)
        return out


WARNINGS = WarningFilter()  # the running command's (reset by the `flowc` callback)


def session_filter() -> WarningFilter:
    """A fresh filter with the command's --quiet/-W choices (one per `flowc dev` session)."""
    out = WarningFilter()
    out.reset(WARNINGS.quiet, WARNINGS.allowed)
    return out
