"""Text to syntax tree: one cached LALR parser that builds syntax nodes as it reduces,
errors as diagnostics.

Nothing here raises past its callers: `parse_text` returns the tree (or None) and
every problem as a `Diagnostic` with a span and, where one exists, a fix.
"""

from __future__ import annotations

import bisect
import functools
import os
import re
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import UnexpectedEOF

from flowc.diagnostics import CompileError, Diagnostic, Span
from flowc.grammar import syntax as s

MAX_NESTING = 64
MAX_SYNTAX_ERRORS = 20

SIZE_UNITS_MIB = {
    "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0, "TB": 1024.0 * 1024,
    "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "TiB": 1024.0 * 1024,
}
DURATION_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}

# Terminal names in the user's words, for "expected ..." messages.
TOKEN_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "an integer",
    "FLOAT": "a number",
    "SIZE": "a size like `512MB`",
    "DURATION": "a duration like `5m`",
    "PERCENT": "a percentage like `10%`",
    "COMPARATOR": "a comparison like `>`",
    "EQUAL": "`=`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "`,`",
    "DOT": "`.`",
    "EVERY": "`every`",
    "ALERT": "`alert`",
    "NOTIFY": "`notify`",
    "$END": "the end of the file",
}


class _RuleFailed(Exception):
    """A `_ToSyntax` rule raised: a bug in flowc, reported as E009 rather than a traceback."""

    def __init__(self, exc: Exception):
        super().__init__(str(exc))
        self.orig_exc = exc


class _Reductions:
    """What the cached parser calls at each reduction: the `_ToSyntax` rule of the same name,
    on the reader of the parse in progress. Lark binds its callbacks once, when it builds the
    parser; building syntax nodes while parsing (instead of a lark tree, then a second walk)
    halves the time to read a 10,000-task file."""

    def __init__(self):
        self._local = threading.local()  # one reader per thread parsing

    @property
    def reader(self) -> _ToSyntax:
        return self._local.reader

    @reader.setter
    def reader(self, value: _ToSyntax) -> None:
        self._local.reader = value

    def __default__(self, data: str, children: list, meta) -> object:
        if data.startswith("_"):  # `_stmt` and lark's own repetition rules: spliced into the parent
            return Tree(data, children)
        try:
            return getattr(self._local.reader, data)(children)
        except Exception as exc:
            raise _RuleFailed(exc) from exc


_REDUCTIONS = _Reductions()


@functools.cache
def _lark() -> Lark:
    grammar = (Path(__file__).parent / "flow.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        maybe_placeholders=True,
        start=["start", "value"],
        transformer=_REDUCTIONS,
    )


def _join(first: Span, last: Span) -> Span:
    """The span from the start of `first` to the end of `last`."""
    return Span(first.file, first.line, first.column, last.end_line, last.end_column)


def _span(path: str, tok: Token) -> Span:
    return Span(path, tok.line, tok.column, tok.end_line, tok.end_column)


def _between(path: str, first: Token, last: Token) -> Span:
    """From the start of token `first` to the end of token `last` (e.g. a list's brackets)."""
    return Span(path, first.line, first.column, last.end_line, last.end_column)


def _values(items) -> tuple:
    """The values among a rule's children, without its punctuation and absent optionals."""
    return tuple(i for i in items if i is not None and not isinstance(i, Token))


def _unescape(raw: str) -> tuple[str, str | None]:
    """Decode a string literal's escapes; returns (value, error message or None)."""
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "0": "\0"}
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt == "u":
            digits = body[i + 2 : i + 6]
            if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                out.append(chr(int(digits, 16)))
                i += 6
            else:
                return "".join(out), "`\\u` must be followed by four hex digits"
        else:
            return "".join(out), f"unknown escape `\\{nxt}`"
    return "".join(out), None


class _ToSyntax:
    """One method a grammar rule (flow.lark), from the rule's children to a
    `flowc.grammar.syntax` node; collects literal errors as diagnostics. Rules marked `!` in
    the grammar keep their punctuation tokens, for the spans of brackets and braces."""

    def __init__(self, path: str):
        self.path = path
        self.diagnostics: list[Diagnostic] = []

    # -- statements
    def start(self, items):
        return tuple(items)

    def assign(self, items):
        key, value = items
        return s.Assign(span=_join(key.span, value.span), key=key, value=value)

    def block(self, items):
        key, label, _, *body, close = items
        # The block's span covers its head only: that is what a caret should point at.
        head_end = label.span if label is not None else key.span
        return s.Block(span=_join(key.span, head_end), keyword=key, label=label,
                       body=tuple(body), close_line=close.end_line)

    def decl(self, items):
        key, label = items
        return s.Decl(span=_join(key.span, label.span), keyword=key, name=label)

    def alert(self, items):
        alert, metric, comparator, threshold, _, *notify = items
        notify = _values(notify)
        return s.AlertStmt(span=_join(_span(self.path, alert), notify[-1].span), metric=metric,
                           comparator=str(comparator), threshold=threshold, notify=notify)

    def key(self, items):
        return s.Ident(span=_span(self.path, items[0]), name=str(items[0]))

    label = key

    # -- values
    def string(self, items):
        tok = items[0]
        value, error = _unescape(str(tok))
        if error:
            self.diagnostics.append(Diagnostic("E003", f"bad string literal: {error}",
                                               _span(self.path, tok),
                                               help='escapes are \\" \\\\ \\n \\t \\r \\0 \\uXXXX'))
        return s.Str(span=_span(self.path, tok), value=value, raw=str(tok))

    def int(self, items):
        tok = items[0]
        return s.Int(span=_span(self.path, tok), value=int(tok), raw=str(tok))

    def float(self, items):
        tok = items[0]
        return s.Float(span=_span(self.path, tok), value=float(tok), raw=str(tok))

    def size(self, items):
        tok = str(items[0])
        unit = tok.lstrip("0123456789.")
        number = float(tok[: len(tok) - len(unit)])
        return s.Size(span=_span(self.path, items[0]), mib=number * SIZE_UNITS_MIB[unit], raw=tok)

    def duration(self, items):
        return _duration(self.path, items[0])

    def percent(self, items):
        tok = str(items[0])
        return s.Percent(span=_span(self.path, items[0]), value=float(tok[:-1]), raw=tok)

    def ident(self, items):
        return s.Ident(span=_span(self.path, items[0]), name=str(items[0]))

    def list(self, items):
        return s.ListValue(span=_between(self.path, items[0], items[-1]), items=_values(items))

    def object(self, items):
        pairs = tuple(i for i in items if isinstance(i, tuple))
        return s.ObjectValue(span=_between(self.path, items[0], items[-1]), pairs=pairs)

    def pair(self, items):
        key, value = items
        return (key, value)

    def call(self, items):
        name_tok, *args = items
        return s.Call(span=_between(self.path, name_tok, items[-1]),
                      name=s.Ident(span=_span(self.path, name_tok), name=str(name_tok)),
                      args=_values(args))

    def ref(self, items):
        a, b = items
        return s.Ref(span=Span(self.path, a.line, a.column, b.end_line, b.end_column),
                     namespace=s.Ident(span=_span(self.path, a), name=str(a)),
                     name=s.Ident(span=_span(self.path, b), name=str(b)))

    def range(self, items):
        low, high = (s.Int(span=_span(self.path, t), value=int(t), raw=str(t)) for t in items)
        return s.Range(span=_join(low.span, high.span), low=low, high=high)

    def phrase(self, items):
        word_tok, amount_tok, during_tok = items
        word = s.Ident(span=_span(self.path, word_tok), name=str(word_tok))
        if amount_tok.type == "PERCENT":
            amount = s.Percent(span=_span(self.path, amount_tok), value=float(amount_tok[:-1]),
                               raw=str(amount_tok))
        else:
            amount = _duration(self.path, amount_tok)
        during = _duration(self.path, during_tok) if during_tok is not None else None
        return s.Phrase(span=_join(word.span, (during or amount).span), word=word,
                        amount=amount, during=during)

    def every(self, items):
        interval = _duration(self.path, items[0])
        span = interval.span
        return s.Every(span=Span(self.path, span.line, max(1, span.column - 6),
                                 span.end_line, span.end_column), interval=interval)


def _duration(path: str, tok) -> s.Duration:
    total = 0.0
    for number, unit in re.findall(r"([0-9]+)(ms|s|m|h|d)", str(tok)):
        total += int(number) * DURATION_UNITS_S[unit]
    return s.Duration(span=_span(path, tok), seconds=total, raw=str(tok))


def _nesting_error(text: str, path: str) -> Diagnostic | None:
    """Refuse absurd nesting before the (recursive) transformer sees it."""
    depth = 0
    line, col = 1, 0
    in_string = in_comment = escaped = False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            in_comment = in_string = False
            continue
        if in_comment:
            continue
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "[{(":
            depth += 1
            if depth > MAX_NESTING:
                return Diagnostic("E006", f"nesting deeper than {MAX_NESTING} levels",
                                  Span(path, line, col),
                                  help="flatten the list or block; .flow files need little nesting")
        elif ch in "]})":
            depth = max(0, depth - 1)
    return None


def _describe_expected(expected) -> str:
    words = sorted({TOKEN_WORDS.get(t, f"`{t.lower()}`") for t in expected if t in TOKEN_WORDS}
                   | {f"`{t.lower()}`" for t in expected if t not in TOKEN_WORDS})
    if not words:
        return ""
    if len(words) > 6:
        words = words[:6] + ["..."]
    return ", ".join(words)


def _syntax_diagnostic(err: UnexpectedInput, text: str, path: str) -> Diagnostic:
    if isinstance(err, UnexpectedCharacters):
        span = Span(path, err.line, err.column)
        ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        if ch == '"':
            line_text = text.splitlines()[err.line - 1] if text.splitlines() else ""
            end = len(line_text) + 1
            return Diagnostic("E002", "unterminated string",
                              Span(path, err.line, err.column, err.line, max(end, err.column + 1)),
                              help='close the string with `"` on the same line')
        shown = repr(ch) if ch.isprintable() and ch.strip() else f"U+{ord(ch):04X}" if ch else "?"
        return Diagnostic("E001", f"unexpected character {shown}", span,
                          help="names are [a-z][a-z0-9_]*; text goes in double quotes")
    if isinstance(err, UnexpectedToken):
        tok = err.token
        expected = _describe_expected(err.expected)
        if tok.type == "$END":
            lines = text.splitlines() or [""]
            span = Span(path, len(lines), len(lines[-1]) + 1)
            missing_brace = "RBRACE" in err.expected
            return Diagnostic("E004", "unexpected end of file" + (f": expected {expected}"
                                                                  if expected else ""), span,
                              help="a block is missing its closing `}`" if missing_brace else None)
        span = _span(path, tok)
        found = f"`{tok}`" if str(tok) else tok.type
        if "EQUAL" in err.expected:
            help_text = "settings are written `key = value`"
        elif {"STRING", "INT", "SIZE", "DURATION"} <= set(err.expected):
            help_text = 'a value goes here, e.g. `"text"`, `3`, `512MB`, `5m` or `[a, b]`'
        elif "RBRACE" in err.expected:
            help_text = "settings go one after another inside `{ }`; is a `}` or `=` missing?"
        else:
            help_text = "check this line for a missing `=`, `{`, `}`, `,` or quote"
        return Diagnostic("E005", f"unexpected {found}" + (f": expected {expected}"
                                                           if expected else ""), span,
                          help=help_text)
    if isinstance(err, UnexpectedEOF):
        return Diagnostic("E004", "unexpected end of file", Span(path, 1, 1))
    return Diagnostic("E005", "syntax error", Span(path, getattr(err, "line", 1) or 1,
                                                   getattr(err, "column", 1) or 1))


@dataclass
class _Parsed:
    value: object = None  # the start rule's syntax node; None on any error
    errors: list[Diagnostic] = field(default_factory=list)  # syntax errors
    literal_errors: list[Diagnostic] = field(default_factory=list)  # bad escapes, ...
    failed: _RuleFailed | None = None


def _parse(text: str, path: str, start: str) -> _Parsed:
    """Run the LALR parser with error recovery, building syntax nodes as it goes."""
    if (nest := _nesting_error(text, path)) is not None:
        return _Parsed(errors=[nest])
    parsed = _Parsed()
    errors = parsed.errors
    lines_seen: set[int] = set()

    def on_error(err: UnexpectedInput) -> bool:
        diag = _syntax_diagnostic(err, text, path)
        line = diag.span.line if diag.span else 0
        if line not in lines_seen:  # one error a line: the rest are usually echoes
            lines_seen.add(line)
            errors.append(diag)
        return len(errors) < MAX_SYNTAX_ERRORS

    reader = _REDUCTIONS.reader = _ToSyntax(path)
    try:
        value = _lark().parse(text, start=start, on_error=on_error)
    except UnexpectedInput as err:
        diag = _syntax_diagnostic(err, text, path)
        if not errors or (diag.span and diag.span.line not in lines_seen):
            errors.append(diag)
        return parsed
    except _RuleFailed as exc:
        parsed.failed = exc
        return parsed
    if not errors:
        parsed.value, parsed.literal_errors = value, reader.diagnostics
    return parsed


def parse_text(text: str, path: str) -> tuple[s.File | None, list[Diagnostic]]:
    """Parse a whole .flow source. The tree is None when there are syntax errors."""
    parsed = _parse(text, path, "start")
    quick = None if parsed.errors or parsed.failed else _quick_scan(text)
    bad_units, comments = ([], quick) if quick is not None else _scan(text, path)
    if bad_units:  # the parser trips over them later; report them at their own token
        first = bad_units[0].span
        return None, bad_units + [e for e in parsed.errors
                                  if e.span is not None and (e.span.line, e.span.column)
                                  < (first.line, first.column)]
    if parsed.errors:
        return None, parsed.errors
    if parsed.failed is not None:  # a bug in a rule: still no traceback for the user
        return None, [Diagnostic("E009", "internal error while reading the file: "
                                 f"{parsed.failed.orig_exc}",
                                 Span(path, 1, 1), help="please report this with the file")]
    return s.File(path=path, body=parsed.value, comments=comments), parsed.literal_errors


SIZE_UNITS = "KB MB GB TB KiB MiB GiB TiB"
DURATION_UNITS = "ms s m h d"
_NUMBER_TOKENS = ("INT", "FLOAT", "SIZE", "DURATION", "PERCENT")


def _scan(text: str, path: str) -> tuple[list[Diagnostic], tuple[s.Comment, ...]]:
    """One pass of the context-free lexer, keeping what the parser drops: the comments (`#`
    inside strings is not one) and numbers glued to letters that make no unit (`12XB`,
    `5min`): one E110/E111 each, at the whole word, instead of a syntax error at whatever
    token comes next. Stops at a character no token starts with: the parser reports it."""
    bad_units: list[Diagnostic] = []
    comments: list[s.Comment] = []
    prev = None
    try:
        for tok in _lark().lex(text, dont_ignore=True):
            if tok.type == "COMMENT":
                comments.append(s.Comment(line=tok.line, column=tok.column, text=str(tok)))
            elif (prev is not None and tok.type == "NAME" and prev.type in _NUMBER_TOKENS
                    and tok.start_pos == prev.end_pos):
                bad_units.append(_bad_unit(path, prev, tok))
            prev = tok
    except UnexpectedInput:
        pass
    return bad_units, tuple(comments)


@functools.cache
def _quick_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(strings, comments and number-like words, one number token), from the grammar's own
    terminals."""
    terminal = {t.name: t.pattern.to_regexp() for t in _lark().terminals}
    words = re.compile(f"(?:{terminal['STRING']})|(?P<comment>{terminal['COMMENT']})"
                       r"|(?<![A-Za-z0-9_])(?P<number>-?[0-9][0-9A-Za-z_%.]*)")
    number = re.compile("|".join(f"(?:{terminal[name]})" for name in _NUMBER_TOKENS))
    return words, number


def _quick_scan(text: str) -> tuple[s.Comment, ...] | None:
    """`_scan` in one regular-expression pass, for text that parsed: its comments, or None
    when a number-like word outside strings and comments is not exactly one number token
    (a unit error may be there: `_scan` decides). A 10,000-task file: 0.05 s, not 0.5 s."""
    words, number = _quick_patterns()
    comments = []
    line_starts: list[int] | None = None
    for match in words.finditer(text):
        if match.group("number") is not None:
            if not number.fullmatch(match.group("number")):
                return None
        elif match.group("comment") is not None:
            if line_starts is None:
                line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
            line = bisect.bisect_right(line_starts, match.start())
            comments.append(s.Comment(line=line, column=match.start() - line_starts[line - 1] + 1,
                                      text=match.group("comment")))
    return tuple(comments)


def _bad_unit(path: str, number: Token, letters: Token) -> Diagnostic:
    word = str(number) + str(letters)
    unit = word.lstrip("-0123456789.")
    span = Span(path, number.line, number.column, letters.end_line, letters.end_column)
    if unit[-1:].upper() == "B":
        return Diagnostic("E110", f"unknown size unit `{unit}` in `{word}`",
                          span, help=f"sizes take {SIZE_UNITS}, e.g. `512MB`")
    return Diagnostic("E111", f"unknown duration unit `{unit}` in `{word}`", span,
                      help=f"durations take {DURATION_UNITS}, combinable, e.g. `5m` or `1h30m`")


def _not_regular(mode: int) -> str | None:
    """What a path that is not a regular file is, in words (None for a regular file)."""
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return None


def read_source(path: str | Path) -> tuple[str | None, list[Diagnostic]]:
    """Read a .flow file as UTF-8; unreadable or non-text files become diagnostics."""
    p = str(path)
    try:
        kind = _not_regular(os.stat(path).st_mode)
        if kind:  # reading a FIFO or a device could block forever
            return None, [Diagnostic("E008", f"cannot read file: it is {kind}, not a regular file",
                                     Span(p, 1, 1), help="pass the path of a .flow file")]
        data = Path(path).read_bytes()
    except OSError as exc:
        return None, [Diagnostic("E008", f"cannot read file: {exc.strerror or exc}",
                                 Span(p, 1, 1), help="check the path")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, [Diagnostic("E007", "the file is not UTF-8 text", Span(p, line, col),
                                 help="save the file as UTF-8")]
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, []


def parse_file(path: str | Path) -> tuple[s.File | None, str | None, list[Diagnostic]]:
    text, diags = read_source(path)
    if text is None:
        return None, None, diags
    tree, diags = parse_text(text, str(path))
    return tree, text, diags


def parse_value_text(text: str, path: str = "<expr>") -> s.Value:
    """Parse one value as written after `key =` (used by `flowc schedule EXPR`).

    Raises CompileError with diagnostics when it does not parse.
    """
    parsed = _parse(text, path, "value")
    if parsed.errors:
        raise CompileError(parsed.errors)
    if parsed.failed is not None:
        raise CompileError([Diagnostic("E009", f"internal error: {parsed.failed.orig_exc}",
                                       Span(path, 1, 1))])
    if parsed.literal_errors:
        raise CompileError(parsed.literal_errors)
    return parsed.value

