"""Checks `release { }` blocks (top level and per task) and `layer NAME { }` declarations.

A task's release settings come from its own `release { }` block, field by field, else
the top-level one, else the defaults (alias "live", no canary). A canary needs a target
that can split scheduled runs between two versions; only AWS Lambda aliases can.
"""

from __future__ import annotations

import re
from pathlib import Path

from flowc.compiler import ir
from flowc.compiler.values import Reader, did_you_mean
from flowc.grammar import syntax as s
from flowc.targets import registry

RELEASE_KEYS = ("alias", "canary", "for")
LAYER_KEYS = ("requirements",)
ALIAS_RE = re.compile(r"(?!^[0-9]+$)[A-Za-z0-9_-]{1,128}\Z")  # Lambda's alias name rule
DEFAULT_CANARY_FOR_S = 30 * 60  # as SAM's Canary10Percent30Minutes
MAX_LAYERS = 5  # AWS Lambda allows five layers per function


def release_settings(read: Reader, block: s.Block | None, where: str) -> dict[str, s.Assign]:
    """The `key = value` settings of a release block, by key, unknown ones reported."""
    out: dict[str, s.Assign] = {}
    if block is None:
        return out
    for stmt in block.body:
        key = stmt.key.name if isinstance(stmt, s.Assign) else None
        if key not in RELEASE_KEYS:
            read.error("E102", f"unknown setting `{key or _word(stmt)}` in {where}", stmt.span,
                       help=did_you_mean(key or "", RELEASE_KEYS, "`release` accepts"))
            continue
        if key in out:
            read.error("E103", f"`{key}` is set twice in {where}", stmt.key.span,
                       help="keep one of them")
            continue
        out[key] = stmt
    return out


def resolve_release(read: Reader, task_name: str, targets: tuple[str, ...], kind: str,
                    own: dict[str, s.Assign], shared: dict[str, s.Assign]) -> ir.Release:
    merged = {**shared, **own}
    alias = "live"
    if "alias" in merged:
        value = merged["alias"].value
        text = read.string("alias", value, '"live"')
        if text is not None and not ALIAS_RE.match(text):
            read.error("E704", f"`{text}` is not a valid alias name", value.span,
                       help="use letters, digits, `-` and `_` (not only digits), e.g. \"live\"")
        elif text is not None:
            alias = text
    percent = None
    if "canary" in merged:
        value = merged["canary"].value
        if not isinstance(value, s.Percent):
            read.expect("canary", value, "a percentage", "10%")
        elif not 0 < value.value < 100:
            read.error("E702", f"`canary = {value.raw}` must be more than 0% and less than 100%",
                       value.span, help="for example `canary = 10%`; to release at once, "
                       "remove `canary`")
        else:
            percent = value.value
            shared_canary = "canary" not in own
            _check_canary_targets(read, None if shared_canary else task_name, targets, kind,
                                  value)
    canary_for = None
    if "for" in merged:
        value = merged["for"].value
        canary_for = read.duration_s("for", value)
        if "canary" not in merged:
            read.error("E703", "`for` without `canary`", merged["for"].span,
                       help="`for` says how long a canary lasts: add `canary = 10%`")
    if percent is not None and canary_for is None:
        canary_for = DEFAULT_CANARY_FOR_S
    return ir.Release(alias=alias, canary_percent=percent,
                      canary_for_s=canary_for if percent is not None else None)


def _check_canary_targets(read: Reader, task_name: str | None, targets, kind: str,
                          value) -> None:
    """One E701 per task naming every target that cannot split runs; for a canary in the
    top-level `release { }` (task_name None) the same one for every task, so the
    renderer folds them into one with a count."""
    unable = [f"{t} ({registry.get(t).limits_for(kind).runtime})" for t in targets
              if not registry.get(t).limits_for(kind).supports_canary]
    if not unable:
        return
    others = [t for t in targets if registry.get(t).limits_for(kind).supports_canary]
    who = (f"task `{task_name}` runs on" if task_name is not None else
           "`canary` in the top-level `release { }` applies to every task, and they run on")
    read.error("E701", f"{who} {' and '.join(unable)}, which cannot split scheduled runs "
               "between two versions", value.span,
               help=(f"set `targets = [{', '.join(others)}]` for "
                     f"{'this task' if task_name else 'the tasks'}, or " if others else "")
               + ("move `canary` into the `release { }` of the tasks on aws, or "
                  if task_name is None else "")
               + "remove `canary` (releases then switch at once; roll back with "
               "`flowc rollback`)")


def check_layer(read: Reader, block: s.Block, base_dir: str) -> ir.Layer | None:
    settings: dict[str, s.Assign] = {}
    for stmt in block.body:
        key = stmt.key.name if isinstance(stmt, s.Assign) else None
        if key not in LAYER_KEYS:
            read.error("E102", f"unknown setting `{key or _word(stmt)}` in layer "
                       f"`{block.label.name}`", stmt.span,
                       help=did_you_mean(key or "", LAYER_KEYS, "`layer` accepts"))
            continue
        settings[key] = stmt
    if "requirements" not in settings:
        read.error("E706", f"layer `{block.label.name}` has no requirements", block.span,
                   help='add `requirements = "layer-requirements.txt"`')
        return None
    value = settings["requirements"].value
    rel = read.string("requirements", value, '"layer-requirements.txt"')
    if rel is None:
        return None
    if not (Path(base_dir) / rel).is_file():
        read.error("E119", f"requirements file `{rel}` not found next to the spec", value.span,
                   help=f"create {Path(base_dir) / rel} or fix the path")
        return None
    return ir.Layer(block.label.name, rel, block.span)


def task_layers(read: Reader, node: s.Assign | None, known: dict[str, ir.Layer],
                task_name: str, kind: str) -> tuple[str, ...]:
    if node is None:
        return ()
    value = node.value
    if not isinstance(value, s.ListValue) or not all(isinstance(i, s.Ident) for i in value.items):
        read.expect("layers", value, "a list of layer names", "[shared]")
        return ()
    names: list[str] = []
    for item in value.items:
        if item.name not in known:
            read.error("E705", f"layer `{item.name}` is not declared", item.span,
                       help=did_you_mean(item.name, known)
                       or f'declare it: `layer {item.name} {{ requirements = "..." }}`')
        elif item.name in names:
            read.error("E103", f"layer `{item.name}` is listed twice", item.span,
                       help="list each layer once")
        else:
            names.append(item.name)
    if names and kind != "python":
        read.error("E707", f"task `{task_name}` is an image task; layers hold python "
                   "dependencies", value.span, help="put the dependencies in the image, "
                   "or remove `layers`")
        return ()
    if len(names) > MAX_LAYERS:
        read.error("E707", f"task `{task_name}` uses {len(names)} layers; AWS Lambda allows "
                   f"{MAX_LAYERS}", value.span, help="merge some layers' requirements")
        return ()
    return tuple(names)


def _word(stmt: s.Statement) -> str:
    if isinstance(stmt, s.Block | s.Decl):
        return stmt.keyword.name
    return "alert"
