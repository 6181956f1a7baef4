"""Stack models to cdk.tf.json bytes: cdktf emits the elements, Python fills in the data.

cdktf (and with it Node, through jsii) is started only here and only when called, so
`flowc check` and `flowc schedule` never start it. cdktf sees a skeleton of each stack
(flowc.targets.cdktf_app): its backend, providers and the address of every resource and
data source. Resource arguments and outputs are plain JSON data, written into cdktf's
document in Python rather than sent through jsii one call at a time.

A large compile is cut into shards of at most `SHARD_CONSTRUCTS` resources, each
synthesized by its own `python -O` process, `WORKERS` at a time: one Node process never
holds more than a shard (its memory grows with every construct), the shards use both cores,
and `-O` skips the generated bindings' run-time type checks of flowc's own arguments.
The shards' resources are merged into one document per stack, the same bytes one App
would write.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flowc.targets import cdktf_app
from flowc.targets.base import Stack

TF_FILE = cdktf_app.TF_FILE
SHARD_CONSTRUCTS = 10_000  # resources and data sources per cdktf process
WORKERS = 2
SECTIONS = ("resource", "data")


def synth(stacks: Sequence[Stack]) -> list[bytes]:
    """cdk.tf.json bytes for each stack."""
    skeletons = [_skeleton(stack) for stack in stacks]
    if sum(_size(sk) for sk in skeletons) <= SHARD_CONSTRUCTS:
        docs = [json.loads(text) for text in cdktf_app.synthesize(skeletons)]
    else:
        docs = _synth_sharded(skeletons)
    return [_fill_bodies(doc, stack) for doc, stack in zip(docs, stacks, strict=True)]


def _skeleton(stack: Stack) -> dict[str, Any]:
    return {
        "stack_id": stack.stack_id,
        "backend": [stack.backend.kind, stack.backend.as_dict()] if stack.backend else None,
        "providers": stack.providers,
        "resource": {type_: sorted(bodies) for type_, bodies in stack.resources.items()},
        "data": {type_: sorted(bodies) for type_, bodies in stack.data_sources.items()},
    }


def _size(skeleton: dict[str, Any]) -> int:
    return sum(len(ids) for section in SECTIONS for ids in skeleton[section].values())


def _shards(skeleton: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The skeleton cut into skeletons of at most SHARD_CONSTRUCTS elements each."""
    elements = [(section, type_, id_) for section in SECTIONS
                for type_, ids in sorted(skeleton[section].items()) for id_ in ids]
    for start in range(0, max(len(elements), 1), SHARD_CONSTRUCTS):
        shard: dict[str, Any] = {**skeleton, "resource": {}, "data": {}}
        for section, type_, id_ in elements[start:start + SHARD_CONSTRUCTS]:
            shard[section].setdefault(type_, []).append(id_)
        yield shard


def _synth_sharded(skeletons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    jobs = [(i, shard) for i, sk in enumerate(skeletons) for shard in _shards(sk)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        texts = list(pool.map(lambda job: _synth_in_worker(job[1]), jobs))
    docs: list[dict[str, Any] | None] = [None] * len(skeletons)
    for (i, _), text in zip(jobs, texts, strict=True):
        doc = json.loads(text)
        if docs[i] is None:
            docs[i] = doc
            continue
        for section in SECTIONS:  # the rest of a shard's document repeats the first's
            for type_, entries in doc.get(section, {}).items():
                docs[i].setdefault(section, {}).setdefault(type_, {}).update(entries)
    return docs  # type: ignore[return-value]


def _synth_in_worker(skeleton: dict[str, Any]) -> str:
    """One shard's document, synthesized by `python -O flowc/targets/cdktf_app.py`."""
    done = subprocess.run([sys.executable, "-O", cdktf_app.__file__],
                          input=json.dumps([skeleton]), capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cdktf synthesis failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout)[0]


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
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _drop_none(value: Any) -> Any:
    """Terraform JSON treats null as unset; leave such arguments out, as cdktf does."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
