"""Price files: one dated TOML file per provider and region under flowc/pricing/.

    book = load_price_book("aws", "us-east-1")            # flowc/pricing/aws-us-east-1.toml
    book.rate("lambda", "gb_second")                       # 0.0000166667

A file names its `provider`, `region`, `date` and `source` (URLs) and holds one table per
billed product (the target's pricing provider lists them in its SCHEMA). `--prices FILE`
files have the same shape: keys they set
replace the built-in file's for that provider and region; a file for a region flowc has
no prices for must be complete. Every problem is a `PricingError` carrying a Diagnostic.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.diagnostics import Diagnostic, DiagnosticError, Span
from flowc.targets import registry

PRICING_DIR = Path(__file__).resolve().parent.parent / "pricing"



def _provider(name: object) -> Any | None:
    """The pricing provider of the target `name` (its SCHEMA: table -> numeric keys)."""
    if not isinstance(name, str) or name not in registry.names():
        return None
    return registry.get(name).load_pricing()


def _provider_help() -> str:
    """'set `provider = "aws"`, `"gcp"` or `"k8s"`' for the targets that have prices."""
    names = [f'`"{t.name}"`' for t in registry.all_targets() if t.pricing]
    names[0] = f"`provider = {names[0][1:]}"
    return "set " + (", ".join(names[:-1]) + " or " if len(names) > 1 else "") + names[-1]


class PricingError(DiagnosticError):
    """A price file that cannot be used, or a region with no prices; carries the diagnostic."""


@dataclass(frozen=True)
class PriceBook:
    """The prices of one provider in one region, after `--prices` overrides."""

    provider: str
    region: str
    date: str
    sources: tuple[str, ...]
    files: tuple[str, ...]  # the built-in file and any --prices files, in order applied
    tables: dict[str, dict[str, float]] = field(compare=False)

    def rate(self, table: str, key: str) -> float:
        return self.tables[table][key]

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "region": self.region, "date": self.date,
                "sources": list(self.sources), "files": list(self.files),
                "prices": self.tables}


def file_name(provider: str, region: str | None) -> str:
    return f"{provider}.toml" if not region else f"{provider}-{region}.toml"


def known_regions(provider: str, overrides: list[dict[str, Any]] | tuple = ()) -> list[str]:
    """Regions with a built-in (or `--prices`) file for this provider, sorted."""
    found = {p.stem[len(provider) + 1:] for p in PRICING_DIR.glob(f"{provider}-*.toml")}
    found.update(d["__region__"] for d in overrides
                 if d["__provider__"] == provider and d["__region__"])
    return sorted(found)


def read_price_file(path: str | Path) -> dict[str, Any]:
    """Parse one TOML price file; syntax and read errors become E805."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PricingError(Diagnostic(
            "E805", f"cannot read price file `{shown}`: {getattr(exc, 'strerror', None) or exc}",
            Span(shown, 1, 1), help="give the path of a readable TOML price file")) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col = 1, 1
        where = re.search(r"line (\d+), column (\d+)", str(exc))
        if where:
            line, col = int(where.group(1)), int(where.group(2))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise PricingError(Diagnostic(
            "E805", f"price file is not valid TOML: {message}", Span(shown, line, col),
            help="see flowc/pricing/aws-us-east-1.toml for the shape of a price file")) from None
    data["__path__"] = shown
    data["__text__"] = text
    return data


def _key_span(data: dict[str, Any], key: str) -> Span:
    """Best-effort position of `key` in the file (TOML parsing keeps no positions)."""
    text: str = data.get("__text__", "")
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(rf"\s*{re.escape(key)}\s*=", line)
        if match:
            start = line.index(key) + 1
            return Span(data["__path__"], number, start, number, start + len(key))
    return Span(data["__path__"], 1, 1)


def _error(data: dict[str, Any], key: str, message: str, help: str) -> PricingError:
    return PricingError(Diagnostic("E805", message, _key_span(data, key), help=help))


def _check_header(data: dict[str, Any]) -> tuple[str, str]:
    provider = data.get("provider")
    pricing = _provider(provider)
    if pricing is None:
        raise _error(data, "provider", f"price file `{data['__path__']}` names provider "
                     f"{provider!r}" if provider is not None else
                     f"price file `{data['__path__']}` has no `provider`",
                     help=_provider_help())
    region = data.get("region", "")
    if not isinstance(region, str) or (pricing.regional and not region):
        raise _error(data, "region", f"price file `{data['__path__']}` needs a `region`",
                     help='for example `region = "us-east-1"`')
    return provider, region


def _merge_tables(base: dict[str, dict[str, float]], data: dict[str, Any],
                  provider: str) -> None:
    """Apply the numeric tables of `data` onto `base`, checking names and values."""
    schema = _provider(provider).SCHEMA
    for table, values in data.items():
        if table.startswith("__") or table in ("provider", "region", "currency", "date",
                                                "source"):
            continue
        if table not in schema:
            raise _error(data, table, f"unknown price table `{table}` for {provider}",
                         help="tables for " + provider + ": " + ", ".join(schema))
        if not isinstance(values, dict):
            raise _error(data, table, f"`{table}` must be a table", help=f"write `[{table}]`")
        for key, value in values.items():
            if key not in schema[table]:
                raise _error(data, key, f"unknown price `{table}.{key}`",
                             help=f"`[{table}]` holds " + ", ".join(schema[table]))
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise _error(data, key, f"price `{table}.{key}` must be a number >= 0, "
                             f"not {value!r}", help=f"for example `{key} = 0.25`")
            base.setdefault(table, {})[key] = float(value)


def _complete(tables: dict[str, dict[str, float]], data: dict[str, Any], provider: str) -> None:
    for table, keys in _provider(provider).SCHEMA.items():
        for key in keys:
            if key not in tables.get(table, {}):
                raise _error(data, "provider", f"price file `{data['__path__']}` lacks "
                             f"`{table}.{key}`", help=f"add `{key} = ...` under `[{table}]`, "
                             f"or copy flowc/pricing/{file_name(provider, 'REGION')} and edit it")


def _sources(data: dict[str, Any]) -> tuple[str, ...]:
    source = data.get("source", ())
    if isinstance(source, str):
        return (source,)
    return tuple(str(s) for s in source) if isinstance(source, list) else ()


def load_price_book(provider: str, region: str | None,
                    overrides: list[dict[str, Any]] | tuple = ()) -> PriceBook | None:
    """The prices for provider/region: built-in file then matching overrides; None if none."""
    region = region or ""
    layers: list[dict[str, Any]] = []
    builtin = PRICING_DIR / file_name(provider, region)
    if builtin.is_file():
        layers.append(read_price_file(builtin))
    for data in overrides:
        if data["__provider__"] == provider and (not _provider(provider).regional
                                                or data["__region__"] == region):
            layers.append(data)
    if not layers:
        return None
    tables: dict[str, dict[str, float]] = {}
    date, sources, files = "", (), []
    for data in layers:
        _merge_tables(tables, data, provider)
        date = str(data.get("date", date))
        sources = _sources(data) or sources
        files.append(data["__path__"])
    _complete(tables, layers[-1], provider)
    return PriceBook(provider, region, date, sources, tuple(files), tables)


def read_overrides(paths: list[str]) -> list[dict[str, Any]]:
    """Parse `--prices FILE` files and check their header and tables (E805)."""
    out = []
    for path in paths:
        data = read_price_file(path)
        provider, region = _check_header(data)
        tables: dict[str, dict[str, float]] = {}
        _merge_tables(tables, data, provider)
        if not (PRICING_DIR / file_name(provider, region)).is_file():
            _complete(tables, data, provider)  # nothing built in to fill the gaps
        data["__provider__"], data["__region__"] = provider, region
        out.append(data)
    return out
