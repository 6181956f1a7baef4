"""`flowc fmt`: the canonical layout of a .flow file, comments kept.

Rules: two-space indentation; one statement a line; `=` aligned within a run of
consecutive one-line settings; a blank line around top-level blocks; at most one
blank line where the source had several; literals written as the user wrote them.
Formatting is idempotent: formatting formatted text changes nothing.
"""

from __future__ import annotations

from flowc.grammar import syntax as s

INDENT = "  "


def render_value(v: s.Value) -> str:
    if isinstance(v, s.Str | s.Int | s.Float | s.Size | s.Duration | s.Percent | s.Range
                  | s.Phrase):
        return v.raw
    if isinstance(v, s.Ident):
        return v.name
    if isinstance(v, s.ListValue):
        return "[" + ", ".join(render_value(i) for i in v.items) + "]"
    if isinstance(v, s.Call):
        return f"{v.name.name}(" + ", ".join(render_value(a) for a in v.args) + ")"
    if isinstance(v, s.Ref):
        return f"{v.namespace.name}.{v.name.name}"
    if isinstance(v, s.Every):
        return f"every {v.interval.raw}"
    if isinstance(v, s.ObjectValue):
        if not v.pairs:
            return "{}"
        return "{ " + ", ".join(f"{k.name} = {render_value(x)}" for k, x in v.pairs) + " }"
    raise TypeError(type(v))


def _end_line(stmt: s.Statement) -> int:
    if isinstance(stmt, s.Block):
        return stmt.close_line or stmt.span.end_line
    return stmt.span.end_line


class _Formatter:
    def __init__(self, tree: s.File, text: str):
        self.lines = text.splitlines()
        self.pending = sorted(tree.comments, key=lambda c: (c.line, c.column))
        self.out: list[str] = []
        self.tree = tree

    def _is_trailing(self, c: s.Comment) -> bool:
        line = self.lines[c.line - 1] if 0 < c.line <= len(self.lines) else ""
        return line[: c.column - 1].strip() != ""

    def _take_trailing(self, first: int, last: int) -> str:
        taken = [c for c in self.pending if first <= c.line <= last and self._is_trailing(c)]
        for c in taken:
            self.pending.remove(c)
        return "".join(f"  {c.text.rstrip()}" for c in taken)

    def _emit_comments_before(self, line: int, indent: str, prev_end: int) -> int:
        """Emit full-line comments above `line`; returns the source line last emitted."""
        for c in [c for c in self.pending if c.line < line and not self._is_trailing(c)]:
            self.pending.remove(c)
            if c.line - prev_end > 1 and self.out and self.out[-1] != "":
                self.out.append("")
            self.out.append(indent + c.text.rstrip())
            prev_end = c.line
        return prev_end

    def body(self, stmts: tuple[s.Statement, ...], depth: int, prev_end: int,
             top: bool) -> int:
        indent = INDENT * depth
        widths = self._align_widths(stmts)
        prev: s.Statement | None = None
        for stmt in stmts:
            wants_blank = top and prev is not None and (
                isinstance(stmt, s.Block) or isinstance(prev, s.Block))
            first_line = min([c.line for c in self.pending
                              if c.line < stmt.span.line and not self._is_trailing(c)]
                             + [stmt.span.line])
            if (wants_blank or first_line - prev_end > 1) and prev is not None \
                    and self.out and self.out[-1] != "":
                self.out.append("")
            prev_end = self._emit_comments_before(stmt.span.line, indent, prev_end)
            if stmt.span.line - prev_end > 1 and self.out and self.out[-1] != "" \
                    and prev_end != 0 and (prev is not None or prev_end != 0):
                self.out.append("")
            self.statement(stmt, depth, widths.get(id(stmt), 0))
            prev_end = _end_line(stmt)
            prev = stmt
        return prev_end

    def _align_widths(self, stmts) -> dict[int, int]:
        """Key width for each one-line `key = value`, per run of consecutive ones."""
        widths: dict[int, int] = {}
        run: list[s.Assign] = []

        def flush():
            width = max((len(a.key.name) for a in run), default=0)
            for a in run:
                widths[id(a)] = width
            run.clear()

        prev_end = None
        for stmt in stmts:
            if isinstance(stmt, s.Assign) and (prev_end is None or stmt.span.line - prev_end <= 1):
                run.append(stmt)
                prev_end = stmt.span.end_line
                continue
            flush()
            if isinstance(stmt, s.Assign):
                run.append(stmt)
                prev_end = stmt.span.end_line
            else:
                prev_end = None
        flush()
        return widths

    def statement(self, stmt: s.Statement, depth: int, width: int) -> None:
        indent = INDENT * depth
        if isinstance(stmt, s.Assign):
            text = f"{stmt.key.name.ljust(width)} = {render_value(stmt.value)}"
            self.out.append(indent + text + self._take_trailing(stmt.span.line,
                                                                stmt.span.end_line))
        elif isinstance(stmt, s.Decl):
            text = f"{stmt.keyword.name} {stmt.name.name}"
            self.out.append(indent + text + self._take_trailing(stmt.span.line,
                                                                stmt.span.end_line))
        elif isinstance(stmt, s.AlertStmt):
            text = (f"alert {stmt.metric.name} {stmt.comparator} {render_value(stmt.threshold)}"
                    " notify " + ", ".join(render_value(n) for n in stmt.notify))
            self.out.append(indent + text + self._take_trailing(stmt.span.line,
                                                                stmt.span.end_line))
        else:
            self.block(stmt, depth)

    def block(self, block: s.Block, depth: int) -> None:
        indent = INDENT * depth
        head = block.keyword.name + (f" {block.label.name}" if block.label else "")
        close = block.close_line or block.span.end_line
        has_inner_comments = any(block.span.line < c.line < close
                                 or (c.line == close and not self._is_trailing(c))
                                 for c in self.pending)
        if not block.body and not has_inner_comments:
            trailing = self._take_trailing(block.span.line, close)
            self.out.append(f"{indent}{head} {{}}{trailing}")
            return
        # A comment on the header line stays there, unless the block is written on one line.
        header_trailing = "" if close == block.span.line else self._take_trailing(
            block.span.line, block.span.line)
        self.out.append(f"{indent}{head} {{{header_trailing}")
        last = self.body(block.body, depth + 1, block.span.line, top=False)
        inner = INDENT * (depth + 1)
        self._emit_comments_before(close + (0 if close > last else 1), inner, last)
        trailing = self._take_trailing(close, close)
        self.out.append(f"{indent}}}{trailing}")

    def run(self) -> str:
        last = self.body(self.tree.body, 0, 0, top=True)
        self._emit_comments_before(10**9, "", last)
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(self.out) + "\n" if self.out else ""


def format_tree(tree: s.File, text: str) -> str:
    return _Formatter(tree, text).run()
