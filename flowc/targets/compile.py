"""Build every requested target's Stack, synthesize them with cdktf, write what changed.

`compile_app(app, ["aws"], out_dir)` synthesizes each stack with cdktf (flowc.targets.synth:
generic constructs only, the resource arguments and outputs merged into cdktf's document in
Python, large stacks in worker processes, one target after the other) and
writes `out_dir/<target>/cdk.tf.json` plus the stack's files, each only when its bytes
changed. When the stack model equals the last compile's (fingerprint in
`<target>/.flowc-state.json`) and the files on disk are intact, cdktf is not started.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc import __version__
from flowc.compiler.ir import App
from flowc.diagnostics import Diagnostic, has_errors
from flowc.targets import registry
from flowc.targets.base import Stack
from flowc.targets.synth import TF_FILE, SynthError, synth

STATE_FILE = ".flowc-state.json"


@dataclass
class TargetResult:
    target: str
    diagnostics: list[Diagnostic]
    written: list[Path] = field(default_factory=list)  # files whose bytes changed
    synthesized: bool = False  # False when the fingerprint matched and cdktf was skipped
    failed: bool = False  # errors (its own, or in a rule every target shares): nothing written


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` to `path` unless it already holds exactly these bytes."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def _cdktf_version() -> str:
    try:
        return importlib.metadata.version("cdktf")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "?"


def _fingerprint(stack: Stack) -> str:
    """Hash of everything the output depends on: flowc, cdktf and the stack model."""
    blob = json.dumps([__version__, _cdktf_version(), stack.model()], sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _up_to_date(stack: Stack, fingerprint: str) -> bool:
    try:
        state = json.loads((stack.out_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return False
    if state.get("fingerprint") != fingerprint:
        return False
    for rel, digest in state.get("files", {}).items():
        try:
            if _sha((stack.out_dir / rel).read_bytes()) != digest:
                return False
        except OSError:
            return False
    return True


def _write_stack(stack: Stack, tf_json: bytes, fingerprint: str) -> list[Path]:
    outputs = {TF_FILE: tf_json, **stack.files}
    written = [stack.out_dir / rel for rel, data in outputs.items()
               if write_if_changed(stack.out_dir / rel, data)]
    try:
        old = json.loads((stack.out_dir / STATE_FILE).read_text()).get("files", {})
    except (OSError, ValueError):
        old = {}
    for rel in sorted(set(old) - set(outputs)):  # files an earlier compile wrote
        (stack.out_dir / rel).unlink(missing_ok=True)
    state = {"fingerprint": fingerprint, "files": {r: _sha(d) for r, d in sorted(outputs.items())}}
    if write_if_changed(stack.out_dir / STATE_FILE, (json.dumps(state, indent=2) + "\n").encode()):
        written.append(stack.out_dir / STATE_FILE)
    return written


def compile_app(app: App, targets: Sequence[str], out_dir: Path,
                exclude: Sequence[Path] = (),
                releases: Mapping[str, Any] | None = None) -> list[TargetResult]:
    """Check, build, synthesize and write each target; stacks with errors write nothing.

    The checks are `flowc.targets.rules.target_rules`, the same `flowc check` runs; an
    error in a rule every target shares (reported with the first target) stops them all.
    `exclude`: paths that never ship (besides `out_dir`), e.g. the state directory.
    `releases`: where each task's alias points, from the release log (flowc.releases.plan).
    """
    from flowc.targets.rules import target_rules

    out_dir = Path(out_dir)
    rules = target_rules(app, targets, [out_dir, *exclude])
    shared = rules.pop("", [])
    blocked = has_errors(shared)  # an error every target shares stops them all
    results: list[TargetResult] = []
    for name in targets:
        result = TargetResult(name, shared + rules.get(name, []))
        shared = []  # reported once, with the first target
        results.append(result)
        if has_errors(result.diagnostics) or blocked:
            result.failed = True
            continue
        # One stack alive at a time: a 10,000-task stack holds hundreds of MB.
        stack = Stack(name, app, out_dir / name, exclude=(out_dir, *exclude),
                      releases=releases or {})
        registry.get(name).load_builder().build(app, stack)
        result.diagnostics.extend(stack.diagnostics)
        if has_errors(result.diagnostics):
            result.failed = True
            continue
        fingerprint = _fingerprint(stack)
        if _up_to_date(stack, fingerprint):
            continue
        result.synthesized = True
        try:
            document = synth(stack)
        except SynthError as exc:
            result.diagnostics.append(exc.diagnostic)
            result.failed = True
            continue
        result.written = _write_stack(stack, document, fingerprint)
    return results
