"""Typed reading of syntax values for the checker: each reader returns the Python value
or records a diagnostic that says what was expected, in the user's words."""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from collections.abc import Iterable

from flowc.diagnostics import Diagnostic, Span
from flowc.grammar import syntax as s

NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
HANDLER_RE = re.compile(rf"{_IDENT}(\.{_IDENT})*:{_IDENT}\Z")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")


def suggest(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str], what: str = "") -> str | None:
    choices = sorted(set(choices))
    best = suggest(word, choices)
    if best:
        return f"did you mean `{best}`?"
    if what and choices:
        return f"{what}: " + ", ".join(f"`{c}`" for c in choices)
    return None


def name_fix(name: str) -> str:
    """A valid name close to `name`, for the help line."""
    fixed = re.sub(r"[^a-z0-9_]", "_", name.lower())
    if not fixed or not fixed[0].isalpha():
        fixed = "t_" + fixed
    return fixed


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(name: str) -> bool:
    if name in _zones():
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def timezone_help(name: str) -> str:
    by_lower = {z.lower(): z for z in _zones()}
    if name.lower() in by_lower:
        return f"did you mean `{by_lower[name.lower()]}`? (IANA names are case-sensitive)"
    city = {z.rsplit("/", 1)[-1].lower(): z for z in _zones()}
    key = name.replace(" ", "_").lower().rsplit("/", 1)[-1]
    if key in city:
        return f"did you mean `{city[key]}`?"
    best = suggest(name, _zones())
    if best:
        return f"did you mean `{best}`?"
    return 'use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"'


class Reader:
    """Reads values; every failure appends one diagnostic and returns None."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics

    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help))

    def expect(self, key: str, value: s.Value, wanted: str, example: str) -> None:
        self.error("E109", f"`{key}` expects {wanted}, found {s.kind_of(value)}", value.span,
                   help=f"write it like `{key} = {example}`")

    def string(self, key: str, value: s.Value, example: str = '"..."') -> str | None:
        if isinstance(value, s.Str):
            return value.value
        self.expect(key, value, "a string", example)
        return None

    def strings(self, key: str, value: s.Value,
                example: str = '["a", "b"]') -> tuple[str, ...] | None:
        if isinstance(value, s.ListValue) and all(isinstance(i, s.Str) for i in value.items):
            return tuple(i.value for i in value.items)
        self.expect(key, value, "a list of strings", example)
        return None

    def integer(self, key: str, value: s.Value, lo: int, hi: int, example: str) -> int | None:
        if not isinstance(value, s.Int):
            self.expect(key, value, "an integer", example)
            return None
        if not lo <= value.value <= hi:
            self.error("E112", f"`{key}` must be between {lo} and {hi}, not {value.value}",
                       value.span, help=f"for example `{key} = {example}`")
            return None
        return value.value

    def size_mib(self, key: str, value: s.Value) -> int | None:
        if not isinstance(value, s.Size):
            self.expect(key, value, "a size", "512MB")
            return None
        if value.mib < 1 or value.mib != int(value.mib):
            self.error("E110", f"`{key} = {value.raw}` is not a whole number of MB", value.span,
                       help=f"use at least 1MB, in whole MB, e.g. `{key} = 512MB`")
            return None
        return int(value.mib)

    def duration_s(self, key: str, value: s.Value) -> int | None:
        if not isinstance(value, s.Duration):
            self.expect(key, value, "a duration", "5m")
            return None
        if value.seconds < 1 or value.seconds != int(value.seconds):
            self.error("E111", f"`{key} = {value.raw}` must be whole seconds, at least 1s",
                       value.span, help=f"for example `{key} = 30s` or `{key} = 5m`")
            return None
        return int(value.seconds)

    def number(self, key: str, value: s.Value, example: str) -> float | None:
        if isinstance(value, s.Int | s.Float):
            return float(value.value)
        self.expect(key, value, "a number", example)
        return None

    def boolean(self, key: str, value: s.Value) -> bool | None:
        if isinstance(value, s.Ident) and value.name in ("true", "false"):
            return value.name == "true"
        self.expect(key, value, "`true` or `false`", "true")
        return None

    def keyword(self, key: str, value: s.Value, choices: tuple[str, ...], code: str,
                help: str) -> str | None:
        """One of a fixed set of bare words (`on_failure = discard`, `overlap = skip`)."""
        if isinstance(value, s.Ident) and value.name in choices:
            return value.name
        words = [f"`{c}`" for c in choices]
        listed = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]
        self.error(code, f"`{key}` accepts {listed}", value.span, help=help)
        return None

    def timezone(self, key: str, value: s.Value) -> str | None:
        name = self.string(key, value, '"Europe/Berlin"')
        if name is None:
            return None
        if not is_timezone(name):
            self.error("E113", f"unknown timezone `{name}`", value.span, help=timezone_help(name))
            return None
        return name

    def valid_name(self, ident: s.Ident, what: str) -> bool:
        if NAME_RE.match(ident.name):
            return True
        self.error("E101", f"invalid {what} name `{ident.name}`", ident.span,
                   help=f"names are lowercase letters, digits and `_`, starting with a letter: "
                   f"`{name_fix(ident.name)}`")
        return False
