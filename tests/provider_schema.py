"""Check generated cdk.tf.json against the provider schemas shipped in the cdktf bindings.

Test-only helper (flowc itself never imports it). The prebuilt bindings
(`cdktf-cdktf-provider-google`, `cdktf-cdktf-provider-kubernetes`) carry a jsii
assembly (`_jsii/*.jsii.tgz`, file `package/.jsii`) describing every resource's
config struct: argument names, which are required, their types and nested
blocks. We read that JSON directly, never importing the bindings' Python modules
(which would start Node and take seconds per provider).

Terraform names come from the registry anchors in each property's docs
(`.../resources/cron_job_v1#starting_deadline_seconds`), falling back to the
camelCase -> snake_case rule where an anchor is missing. A condensed schema is
cached on disk next to the system temp dir, keyed by the binding's version.

Usage:
    schema = provider_schema("google")
    errors = schema.check_document(json.load(open("cdk.tf.json")))
    assert errors == []
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGES = {
    "google": "cdktf_cdktf_provider_google",
    "kubernetes": "cdktf_cdktf_provider_kubernetes",
}
DISTRIBUTIONS = {
    "google": "cdktf-cdktf-provider-google",
    "kubernetes": "cdktf-cdktf-provider-kubernetes",
}
# Arguments every resource accepts (Terraform meta-arguments, cdktf metadata).
META_ARGUMENTS = frozenset(
    {"//", "count", "depends_on", "for_each", "lifecycle", "provider", "provisioner", "connection"}
)
LIFECYCLE_KEYS = frozenset(
    {"create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by",
     "precondition", "postcondition"}
)
_ANCHOR = re.compile(r"#([A-Za-z0-9_]+) [A-Za-z0-9]+#\1\}")
_REPRESENTS = re.compile(
    r"Represents a \{@link https://registry\.terraform\.io/providers/[^/]+/[^/]+/"
    r"(?P<version>[0-9.]+)/docs(?:/(?P<kind>resources|data-sources)/[a-z0-9_]+)? "
    r"(?P<name>[a-z0-9_]+)\}"
)
_TOKEN = re.compile(r"\$\{.*\}", re.S)
_REFERENCE = re.compile(r"\$\{(data\.)?([a-z][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)")
_CACHE_FORMAT = 3


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _shape(t: dict[str, Any]) -> Any:
    """jsii type reference -> compact shape.

    "string" | "number" | "boolean" | "any" | ["map", shape] | ["list", shape]
    | ["block", fqn] (one nested block) | ["blocks", fqn] (repeated nested block).
    """
    if "primitive" in t:
        return t["primitive"] if t["primitive"] in ("string", "number", "boolean") else "any"
    if "union" in t:
        options = [o for o in t["union"]["types"] if o.get("fqn") != "cdktf.IResolvable"]
        return _shape(options[0]) if len(options) == 1 else "any"
    if "collection" in t:
        inner = t["collection"]["elementtype"]
        kind = t["collection"]["kind"]
        if kind == "array" and "fqn" in inner:
            return ["blocks", inner["fqn"]]
        return ["map" if kind == "map" else "list", _shape(inner)]
    if "fqn" in t:
        return ["block", t["fqn"]] if not t["fqn"].startswith("cdktf.") else "any"
    return "any"


def _condense(assembly: dict[str, Any]) -> dict[str, Any]:
    structs: dict[str, dict[str, list[Any]]] = {}
    resources: dict[str, str] = {}
    data_sources: dict[str, str] = {}
    provider: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}  # type -> attribute names (arguments and computed)
    for fqn, t in assembly["types"].items():
        if t.get("datatype"):
            props: dict[str, list[Any]] = {}
            for p in t.get("properties", []):
                docs = p.get("docs", {})
                m = _ANCHOR.search(docs.get("remarks", "") + " " + docs.get("summary", ""))
                tf_name = m.group(1) if m else _snake(p["name"])
                props[tf_name] = [not p.get("optional", False), _shape(p["type"])]
            structs[fqn] = props
        elif t.get("kind") == "class":
            m = _REPRESENTS.search(t.get("docs", {}).get("summary", ""))
            params = t.get("initializer", {}).get("parameters", [])
            if not m or len(params) < 3 or "fqn" not in params[2]["type"]:
                continue
            config = params[2]["type"]["fqn"]
            getters = sorted({_snake(p["name"]) for p in t.get("properties", [])
                              if not p.get("static")})
            if m.group("kind") == "resources":
                resources[m.group("name")] = config
                attributes[m.group("name")] = getters
            elif m.group("kind") == "data-sources":
                data_sources[m.group("name")] = config
                attributes["data." + m.group("name")] = getters
            else:
                provider = {"name": m.group("name"), "version": m.group("version"),
                            "config": config}
    return {"format": _CACHE_FORMAT, "structs": structs, "resources": resources,
            "data_sources": data_sources, "provider": provider, "attributes": attributes}


def _assembly_path(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # does not import (or start Node)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed (pip install -e '.[test]')")
    jsii_dir = Path(next(iter(spec.submodule_search_locations))) / "_jsii"
    tgzs = sorted(jsii_dir.glob("*.jsii.tgz"))
    if not tgzs:
        raise RuntimeError(f"no jsii assembly in {jsii_dir}")
    return tgzs[0]


def _load_condensed(provider: str) -> dict[str, Any]:
    dist_version = importlib.metadata.version(DISTRIBUTIONS[provider])
    cache = Path(tempfile.gettempdir()) / f"flowc-schema-{provider}-{dist_version}.json"
    if cache.exists():
        try:
            data = json.loads(cache.read_text())
            if data.get("format") == _CACHE_FORMAT:
                return data
        except (OSError, ValueError):
            pass
    with tarfile.open(_assembly_path(PACKAGES[provider])) as tar:
        member = tar.extractfile("package/.jsii")
        assert member is not None
        assembly = json.load(member)
    data = _condense(assembly)
    tmp = cache.with_suffix(f".{id(data)}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(cache)
    return data


def _is_token(value: Any) -> bool:
    return isinstance(value, str) and bool(_TOKEN.search(value))


@dataclass
class ProviderSchema:
    """One provider's argument schema, as the cdktf bindings ship it."""

    provider: str
    data: dict[str, Any]

    @property
    def version(self) -> str:
        """Provider version the bindings were generated from, e.g. "6.50.0"."""
        return self.data["provider"]["version"]

    @property
    def resource_types(self) -> frozenset[str]:
        return frozenset(self.data["resources"])

    def required_arguments(self, resource_type: str) -> frozenset[str]:
        struct = self.data["structs"][self.data["resources"][resource_type]]
        return frozenset(k for k, (req, _) in struct.items() if req)

    def argument_names(self, resource_type: str) -> frozenset[str]:
        return frozenset(self.data["structs"][self.data["resources"][resource_type]])

    # -- checking -------------------------------------------------------------------------
    def check_resource(self, resource_type: str, body: dict[str, Any],
                       where: str = "") -> list[str]:
        """Errors for one resource block (the object under resource.TYPE.NAME)."""
        where = where or resource_type
        config = self.data["resources"].get(resource_type)
        if config is None:
            return [f"{where}: unknown resource type {resource_type!r} in provider "
                    f"{self.provider} {self.version}"]
        return self._check_struct(config, body, where, top=True)

    def check_data_source(self, data_type: str, body: dict[str, Any], where: str = "") -> list[str]:
        where = where or f"data.{data_type}"
        config = self.data["data_sources"].get(data_type)
        if config is None:
            return [f"{where}: unknown data source {data_type!r}"]
        return self._check_struct(config, body, where, top=True)

    def check_provider_block(self, body: dict[str, Any], where: str = "") -> list[str]:
        body = {k: v for k, v in body.items() if k != "alias"}
        return self._check_struct(self.data["provider"]["config"], body,
                                  where or f"provider.{self.provider}")

    def check_document(self, doc: dict[str, Any]) -> list[str]:
        """Errors for every block of this provider in a synthesized cdk.tf.json."""
        errors: list[str] = []
        prefix = self.provider + "_"
        seen_any = False
        for rtype, instances in doc.get("resource", {}).items():
            if rtype != self.provider and not rtype.startswith(prefix):
                continue
            for name, body in instances.items():
                seen_any = True
                errors += self.check_resource(rtype, body, f"{rtype}.{name}")
        for dtype, instances in doc.get("data", {}).items():
            if dtype.startswith(prefix):
                for name, body in instances.items():
                    errors += self.check_data_source(dtype, body, f"data.{dtype}.{name}")
        for body in _as_list(doc.get("provider", {}).get(self.provider, [])):
            errors += self.check_provider_block(body)
        errors += self.check_references(doc)
        required = doc.get("terraform", {}).get("required_providers", {}).get(self.provider)
        if seen_any and required is None:
            errors.append(f"terraform.required_providers has no entry for {self.provider}")
        elif required is not None:
            errors += self._check_pin(required)
        return errors

    def check_references(self, doc: dict[str, Any]) -> list[str]:
        """`${TYPE.NAME.ATTR...}` of this provider: the block exists and has that attribute."""
        errors: list[str] = []
        prefix = self.provider + "_"
        for text in _strings(doc):
            for m in _REFERENCE.finditer(text):
                is_data, type_, name, attr = m.groups()
                if not type_.startswith(prefix):
                    continue
                section = doc.get("data" if is_data else "resource", {})
                key = ("data." if is_data else "") + type_
                if name not in section.get(type_, {}):
                    errors.append(f"reference {m.group(0)}}} names no block in the document")
                elif attr not in self.data["attributes"].get(key, ()):
                    errors.append(f"reference {m.group(0)}}}: {key} has no attribute {attr!r}")
        return errors

    def _check_pin(self, required: dict[str, Any]) -> list[str]:
        errors = []
        if required.get("source") != f"hashicorp/{self.provider}":
            errors.append(f"required_providers.{self.provider}.source should be "
                          f"hashicorp/{self.provider}, got {required.get('source')!r}")
        constraint = str(required.get("version", ""))
        if not constraint:
            errors.append(f"required_providers.{self.provider} has no version pin")
        elif not version_satisfies(self.version, constraint):
            errors.append(f"required_providers.{self.provider}.version {constraint!r} does not "
                          f"admit {self.version}, the version the schema was checked against")
        return errors

    def _check_struct(self, fqn: str, body: Any, where: str, top: bool = False) -> list[str]:
        if _is_token(body):
            return []
        if not isinstance(body, dict):
            return [f"{where}: expected a block (object), got {type(body).__name__}"]
        struct = self.data["structs"][fqn]
        errors: list[str] = []
        for key, value in body.items():
            if top and key in META_ARGUMENTS:
                errors += _check_meta(key, value, where)
                continue
            if key not in struct:
                near = sorted(k for k in struct if k.replace("_", "") == key.replace("_", ""))
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                errors.append(f"{where}: unknown argument {key!r}{hint}")
                continue
            errors += self._check_value(struct[key][1], value, f"{where}.{key}")
        for key, (required, _) in struct.items():
            if required and key not in body:
                errors.append(f"{where}: missing required argument {key!r}")
        return errors

    def _check_value(self, shape: Any, value: Any, where: str) -> list[str]:
        if value is None or _is_token(value) or shape == "any":
            return []
        if shape == "string":
            ok = isinstance(value, str)
        elif shape == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif shape == "boolean":
            ok = isinstance(value, bool)
        else:
            kind, inner = shape
            if kind == "map":
                if not isinstance(value, dict):
                    return [f"{where}: expected a map, got {type(value).__name__}"]
                return [e for k, v in value.items()
                        for e in self._check_value(inner, v, f"{where}[{k!r}]")]
            if kind == "list":
                if not isinstance(value, list):
                    return [f"{where}: expected a list, got {type(value).__name__}"]
                return [e for i, v in enumerate(value)
                        for e in self._check_value(inner, v, f"{where}[{i}]")]
            items = value if isinstance(value, list) else [value]
            if kind == "block" and len(items) > 1:
                return [f"{where}: at most one {where.rsplit('.', 1)[-1]} block allowed"]
            return [e for i, item in enumerate(items)
                    for e in self._check_struct(inner, item, f"{where}[{i}]")]
        return [] if ok else [f"{where}: expected {shape}, got {type(value).__name__} {value!r}"]


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k != "//":
                yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_meta(key: str, value: Any, where: str) -> list[str]:
    if key == "depends_on":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return [f"{where}.depends_on: expected a list of resource addresses"]
    if key == "lifecycle":
        if not isinstance(value, dict):
            return [f"{where}.lifecycle: expected an object"]
        unknown = sorted(set(value) - LIFECYCLE_KEYS)
        if unknown:
            return [f"{where}.lifecycle: unknown keys {unknown}"]
    return []


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.strip().split("."))


def version_satisfies(version: str, constraint: str) -> bool:
    """Does `version` meet a Terraform version constraint ("= 1.2.3", "~> 6.50", ">= 2")?"""
    v = _version_tuple(version)
    for part in constraint.split(","):
        part = part.strip()
        m = re.fullmatch(r"(=|!=|>=|<=|>|<|~>)?\s*([0-9.]+)", part)
        if not m:
            return False
        op, target_text = m.group(1) or "=", m.group(2)
        target = _version_tuple(target_text)
        padded = target + (0,) * (len(v) - len(target))
        if op == "=" and v != padded:
            return False
        if op == "!=" and v == padded:
            return False
        if op == ">=" and v < padded:
            return False
        if op == ">" and v <= padded:
            return False
        if op == "<=" and v > padded:
            return False
        if op == "<" and v >= padded:
            return False
        if op == "~>":
            prefix = target[:-1] if len(target) > 1 else target
            if v < padded or v[: len(prefix)] != prefix:
                return False
    return True


@functools.cache
def provider_schema(provider: str) -> ProviderSchema:
    """The schema of "google" or "kubernetes", loaded once per process."""
    return ProviderSchema(provider, _load_condensed(provider))


@functools.cache
def backend_arguments(kind: str) -> frozenset[str]:
    """Argument names of cdktf's `<Kind>BackendConfig` (e.g. "gcs"), from cdktf's assembly."""
    with tarfile.open(_assembly_path("cdktf")) as tar:
        member = tar.extractfile("package/.jsii")
        assert member is not None
        types = json.load(member)["types"]
    struct = types[f"cdktf.{kind.capitalize()}BackendConfig"]
    return frozenset(_snake(p["name"]) for p in struct.get("properties", []))
