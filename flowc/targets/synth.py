"""The cdktf wrapper: turns `Stack` models into cdk.tf.json bytes with one cdktf App.

cdktf (and with it Node, through jsii) is imported only here and only when called, so
`flowc check` and `flowc schedule` never start it. Every element is a generic cdktf
construct (`TerraformResource`, `TerraformDataSource`, `TerraformProvider`,
`TerraformOutput`, a `TerraformBackend`), never the typed provider bindings, whose
import alone costs seconds.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowc.targets.base import Stack

TF_FILE = "cdk.tf.json"


def _import_cdktf():
    for var in ("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",):
        os.environ.setdefault(var, "18,20")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    import cdktf

    return cdktf


def synth(stacks: Sequence[Stack]) -> list[bytes]:
    """cdk.tf.json bytes for each stack, from one cdktf App synthesis."""
    cdktf = _import_cdktf()

    class _Provider(cdktf.TerraformProvider):
        def __init__(self, scope: Any, name: str, spec: dict[str, Any]):
            super().__init__(
                scope, name, terraform_resource_type=name,
                terraform_provider_source=spec["source"],
                terraform_generator_metadata=cdktf.TerraformProviderGeneratorMetadata(
                    provider_name=name, provider_version_constraint=spec["version"]
                ),
            )
            self._attrs = spec["attrs"]

        def _synthesize_attributes(self) -> dict[str, Any]:
            return self._attrs

    class _Backend(cdktf.TerraformBackend):
        """Any Terraform backend by name; Terraform checks its settings at `init`."""

        def __init__(self, scope: Any, kind: str, attrs: dict[str, Any]):
            super().__init__(scope, "backend", kind)
            self._attrs = attrs

        def _synthesize_attributes(self) -> dict[str, Any]:
            return self._attrs

        def get_remote_state_data_source(self, scope: Any, name: str, _from: str) -> Any:
            raise NotImplementedError("flowc stacks do not read remote state")

    with tempfile.TemporaryDirectory(prefix="flowc-synth-") as tmp:
        app = cdktf.App(outdir=tmp, skip_validation=True)
        for stack in stacks:
            tf = cdktf.TerraformStack(app, stack.stack_id)
            if stack.backend is None:
                cdktf.LocalBackend(tf, path="terraform.tfstate")
            else:  # s3, gcs, kubernetes, ...: settings as written in the spec
                _Backend(tf, stack.backend.kind, stack.backend.as_dict())
            for name, spec in sorted(stack.providers.items()):
                _Provider(tf, name, spec)
            for type_, bodies in sorted(stack.resources.items()):
                for id_ in sorted(bodies):
                    cdktf.TerraformResource(tf, id_, terraform_resource_type=type_)
            for type_, bodies in sorted(stack.data_sources.items()):
                for id_ in sorted(bodies):
                    cdktf.TerraformDataSource(tf, id_, terraform_resource_type=type_)
            for id_, out in sorted(stack.outputs.items()):
                cdktf.TerraformOutput(tf, id_, **out)
        app.synth()
        return [
            _fill_bodies((Path(tmp) / "stacks" / stack.stack_id / TF_FILE).read_bytes(), stack)
            for stack in stacks
        ]


def _fill_bodies(synthesized: bytes, stack: Stack) -> bytes:
    """cdktf's document with each resource's and data source's arguments filled in.

    cdktf emits every element (address, metadata, providers, backend, outputs); the
    arguments are plain JSON data, merged here in Python rather than sent through jsii
    one override at a time (which costs as much again as the constructs themselves).
    """
    doc = json.loads(synthesized)
    for section, bodies_by_type in (("resource", stack.resources), ("data", stack.data_sources)):
        for type_, bodies in bodies_by_type.items():
            emitted = doc[section][type_]
            for id_, body in bodies.items():
                emitted[id_].update(_drop_none(body))
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _drop_none(value: Any) -> Any:
    """Terraform JSON treats null as unset; leave such arguments out, as cdktf does."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value

