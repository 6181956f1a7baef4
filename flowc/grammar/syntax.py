"""The syntax tree: what the source says, with spans, before any checking.

Produced by `flowc.grammar.parser`, read by the checker and by `flowc fmt`.
Values keep their raw text so formatting never changes how a literal is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowc.diagnostics import Span


@dataclass(frozen=True)
class Node:
    span: Span


# ---- values -------------------------------------------------------------------------


@dataclass(frozen=True)
class Str(Node):
    value: str  # unescaped
    raw: str  # as written, with quotes


@dataclass(frozen=True)
class Int(Node):
    value: int
    raw: str


@dataclass(frozen=True)
class Float(Node):
    value: float
    raw: str


@dataclass(frozen=True)
class Size(Node):
    """`512MB`, `1GB`, `512MiB`: stored in MiB (MB and MiB are the same unit, as in AWS)."""

    mib: float
    raw: str


@dataclass(frozen=True)
class Duration(Node):
    seconds: float
    raw: str


@dataclass(frozen=True)
class Percent(Node):
    value: float
    raw: str


@dataclass(frozen=True)
class Ident(Node):
    name: str

    @property
    def raw(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListValue(Node):
    items: tuple[Value, ...]


@dataclass(frozen=True)
class Call(Node):
    name: Ident
    args: tuple[Value, ...]


@dataclass(frozen=True)
class Ref(Node):
    namespace: Ident
    name: Ident


@dataclass(frozen=True)
class Every(Node):
    interval: Duration


@dataclass(frozen=True)
class Range(Node):
    """`3..10`: inclusive bounds."""

    low: Int
    high: Int

    @property
    def raw(self) -> str:
        return f"{self.low.raw}..{self.high.raw}"


@dataclass(frozen=True)
class Phrase(Node):
    """A word with an amount, and optionally a time: `cpu 70%`, `canary 10% for 10m`."""

    word: Ident
    amount: Percent | Duration
    during: Duration | None = None

    @property
    def raw(self) -> str:
        tail = f" for {self.during.raw}" if self.during is not None else ""
        return f"{self.word.name} {self.amount.raw}{tail}"


@dataclass(frozen=True)
class ObjectValue(Node):
    """`{ source = "crm", full = false }`: keys in source order (duplicates are the checker's)."""

    pairs: tuple[tuple[Ident, Value], ...]


Value = (Str | Int | Float | Size | Duration | Percent | Ident | ListValue | Call | Ref | Every
         | Range | Phrase | ObjectValue)


# ---- statements ---------------------------------------------------------------------


@dataclass(frozen=True)
class Assign(Node):
    key: Ident
    value: Value


@dataclass(frozen=True)
class Block(Node):
    keyword: Ident
    label: Ident | None
    body: tuple[Statement, ...]
    close_line: int = 0  # line of the closing brace, for comment placement in fmt


@dataclass(frozen=True)
class Decl(Node):
    keyword: Ident
    name: Ident


@dataclass(frozen=True)
class AlertStmt(Node):
    metric: Ident
    comparator: str
    threshold: Value
    notify: tuple[Value, ...]


Statement = Assign | Block | Decl | AlertStmt


@dataclass(frozen=True)
class Comment:
    line: int
    column: int
    text: str  # including the leading '#'


@dataclass(frozen=True)
class File:
    path: str
    body: tuple[Statement, ...]
    comments: tuple[Comment, ...] = field(default=())


def kind_of(value: Value) -> str:
    """The user's word for a value's kind, for messages ("expected a size, found a string")."""
    return {
        Str: "a string",
        Int: "an integer",
        Float: "a number",
        Size: "a size",
        Duration: "a duration",
        Percent: "a percentage",
        Ident: "a name",
        ListValue: "a list",
        Call: "a call",
        Ref: "a reference",
        Every: "an `every` schedule",
        Range: "a range",
        Phrase: "a phrase",
        ObjectValue: "an object",
    }[type(value)]
