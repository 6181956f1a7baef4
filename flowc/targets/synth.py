"""Stack models to cdk.tf.json bytes: cdktf emits the elements, Python fills in the data.

cdktf sees a skeleton of each stack, plain JSON data:

    {"stack_id": "app-aws", "backend": null | [kind, {settings}],
     "providers": {name: {"source", "version", "attrs"}},
     "resource": {type: [id, ...]}, "data": {type: [id, ...]}}

and `cdktf_app.js` turns it into an App of generic constructs (`TerraformResource`,
`TerraformDataSource`, `TerraformProvider`, a `TerraformBackend`) in a Node process that
drives cdktf directly: neither Python's typed bindings (whose import alone costs seconds) nor
jsii (a round trip per construct) stand in between. Node starts only when a stack is
synthesized: `flowc check` and `flowc schedule` never start it. Resource arguments and
outputs are plain JSON data, written into cdktf's document in Python.

A large stack is cut into shards of at most `SHARD_CONSTRUCTS` resources, each synthesized
by its own Node process, `WORKERS` at a time: one Node process never holds more than a shard
(its memory grows with every construct), and Python merges one shard while Node synthesizes
the next, so both cores work. A second worker saved about 15% of the time at 10,000 tasks
but took the peak over 600 MB (issue 16's bound); one keeps it near 550 MB. The shards'
resources are merged into one document per stack, the same bytes one App would write.
Targets are synthesized one after the other, so that only one stack is in memory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flowc.cache import cache_dir
from flowc.diagnostics import Diagnostic, DiagnosticError
from flowc.targets.base import Stack

TF_FILE = "cdk.tf.json"
SHARD_CONSTRUCTS = 10_000  # resources and data sources per cdktf process
WORKERS = 1  # Node shard processes at a time; see the module docstring
SECTIONS = ("resource", "data")


class SynthError(DiagnosticError):
    """E922: cdktf could not run (no Node, flowc's cache not writable, Node failed)."""

    def __init__(self, problem: str, hint: str):
        super().__init__(Diagnostic("E922", f"cdktf synthesis could not run: {problem}", None,
                                    hint))


def synth(stack: Stack) -> bytes:
    """The stack's cdk.tf.json bytes; SynthError when Node or flowc's cache fails."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        texts = pool.map(_synth_in_worker, _shards(_skeleton(stack)))
        return _fill_bodies(_merge(json.loads(text) for text in texts), stack)


def _skeleton(stack: Stack) -> dict[str, Any]:
    return {
        "stack_id": stack.stack_id,
        "backend": [stack.backend.kind, stack.backend.as_dict()] if stack.backend else None,
        "providers": stack.providers,
        "resource": {type_: sorted(bodies) for type_, bodies in stack.resources.items()},
        "data": {type_: sorted(bodies) for type_, bodies in stack.data_sources.items()},
    }


def _shards(skeleton: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The skeleton cut into equal skeletons of at most SHARD_CONSTRUCTS elements each."""
    elements = [(section, type_, id_) for section in SECTIONS
                for type_, ids in sorted(skeleton[section].items()) for id_ in ids]
    count = max(1, -(-len(elements) // SHARD_CONSTRUCTS))
    for i in range(count):
        shard: dict[str, Any] = {**skeleton, "resource": {}, "data": {}}
        for section, type_, id_ in elements[i::count]:
            shard[section].setdefault(type_, []).append(id_)
        yield shard


def _merge(docs: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """One document from its shards' (the rest of a shard's document repeats the first's),
    each merged as it arrives."""
    merged = next(docs)
    for doc in docs:
        for section in SECTIONS:
            for type_, entries in doc.get(section, {}).items():
                merged.setdefault(section, {}).setdefault(type_, {}).update(entries)
    return merged


def _synth_in_worker(skeleton: dict[str, Any]) -> str:
    """One shard's document, synthesized by `node cdktf_app.js`."""
    # The Node jsii would run; --optimize-for-size: a third less memory, no slower.
    node = os.environ.get("JSII_NODE", "node")
    try:
        modules = _node_modules()
    except OSError as exc:
        raise SynthError(f"cannot unpack cdktf into {cache_dir('node')}: {exc.strerror or exc}",
                         "make that directory writable, or point FLOWC_CACHE_DIR at one "
                         "that is") from None
    try:
        done = subprocess.run([node, "--optimize-for-size",
                               str(Path(__file__).with_name("cdktf_app.js"))],
                              input=json.dumps([skeleton]), capture_output=True, text=True,
                              check=False, env={**os.environ, "NODE_PATH": str(modules)})
    except OSError as exc:
        raise SynthError(f"cannot start Node (`{node}`): {exc.strerror or exc}",
                         "install Node.js (cdktf needs it), or set JSII_NODE to its path") from None
    if done.returncode != 0:
        tail = done.stderr.strip()[-2000:] or f"exit code {done.returncode}, no output"
        raise SynthError(f"Node (`{node}`) failed: {tail}",
                         "check that JSII_NODE names a working Node.js (18 or newer); if it "
                         "does, this is a flowc bug: please report it with this output")
    return json.loads(done.stdout)[0]


def _node_modules() -> Path:
    """cdktf's and constructs' JavaScript for Node: the npm tarballs their Python packages
    ship (the code jsii runs), unpacked once into flowc's cache."""
    tarballs = []
    for package in ("cdktf", "constructs"):  # located, not imported: that would start jsii
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None, f"{package} is a dependency"
        tarballs += sorted((Path(spec.origin).parent / "_jsii").glob("*.jsii.tgz"))
    root = cache_dir("node") / "+".join(t.name.removesuffix(".jsii.tgz") for t in tarballs)
    if root.is_dir():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    unpacked = Path(tempfile.mkdtemp(dir=root.parent))
    for tarball in tarballs:
        with tarfile.open(tarball) as tar:  # one `package/` folder, as npm packs it
            tar.extractall(unpacked / "tmp", filter="data")
        (unpacked / "tmp" / "package").rename(unpacked / tarball.name.split("@")[0])
    (unpacked / "tmp").rmdir()
    try:
        unpacked.rename(root)
    except OSError:  # unpacked meanwhile by another compile
        shutil.rmtree(unpacked)
    return root


def _fill_bodies(doc: dict[str, Any], stack: Stack) -> bytes:
    """cdktf's document with each resource's and data source's arguments, and the outputs,
    filled in.

    cdktf emits the elements (address, metadata, providers, backend); the arguments and
    outputs are plain JSON data, merged here in Python rather than sent through jsii one
    override or one `TerraformOutput` at a time (which costs as much again as the resource
    constructs themselves: a task has about as many outputs as resources).
    """
    for section, bodies_by_type in (("resource", stack.resources), ("data", stack.data_sources)):
        for type_, bodies in bodies_by_type.items():
            emitted = doc[section][type_]
            for id_, body in bodies.items():
                emitted[id_].update(_drop_none(body))
    if stack.outputs:  # as cdktf writes them, also listed in the document's metadata
        doc["output"] = {id_: _drop_none(out) for id_, out in stack.outputs.items()}
        doc["//"]["outputs"] = {stack.stack_id: {id_: id_ for id_ in stack.outputs}}
    return _pretty(doc)


def _pretty(doc: dict[str, Any]) -> bytes:
    """The document as `json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)` writes
    it, by orjson: the standard library's indenting encoder is pure Python, about 10 s of a
    10,000-task compile. (Only a float below 1e-4 would read differently, `1e-7` for
    `1e-07`; integers beyond 64 bits, which orjson refuses, take the slow road.)"""
    import orjson

    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    except orjson.JSONEncodeError:
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _drop_none(value: Any) -> Any:
    """Terraform JSON treats null as unset; leave such arguments out, as cdktf does.
    A value holding no null is returned as it is, not copied: the document shares it with
    the stack model (hundreds of MB for 10,000 tasks)."""
    if not _has_none(value):
        return value
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return [_drop_none(v) for v in value]


def _has_none(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(v is None or _has_none(v) for v in value)
    return False
