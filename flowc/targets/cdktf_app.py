"""One cdktf App from stack skeletons: the only code that drives cdktf (and Node, by jsii).

A skeleton is plain JSON data, what cdktf must see of a stack (flowc.targets.synth):

    {"stack_id": "app-aws", "backend": null | [kind, {settings}],
     "providers": {name: {"source", "version", "attrs"}},
     "resource": {type: [id, ...]}, "data": {type: [id, ...]}}

Every element is a generic construct (`TerraformResource`, `TerraformDataSource`,
`TerraformProvider`, a `TerraformBackend`), never the typed provider bindings, whose import
alone costs seconds. `synthesize` runs in flowc's process for stacks small enough that
starting a worker costs more; the shards of a large one are synthesized by its twin in
Node, cdktf_app.js, which must emit the same constructs (the shard test compares bytes).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

TF_FILE = "cdk.tf.json"


def _import_cdktf():
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    import cdktf

    return cdktf


def synthesize(skeletons: list[dict[str, Any]]) -> list[str]:
    """cdk.tf.json text for each skeleton, from one cdktf App synthesis."""
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
        for sk in skeletons:
            tf = cdktf.TerraformStack(app, sk["stack_id"])
            if sk["backend"] is None:
                cdktf.LocalBackend(tf, path="terraform.tfstate")
            else:  # s3, gcs, kubernetes, ...: settings as written in the spec
                _Backend(tf, *sk["backend"])
            for name, spec in sorted(sk["providers"].items()):
                _Provider(tf, name, spec)
            for type_, ids in sorted(sk["resource"].items()):
                for id_ in sorted(ids):
                    cdktf.TerraformResource(tf, id_, terraform_resource_type=type_)
            for type_, ids in sorted(sk["data"].items()):
                for id_ in sorted(ids):
                    cdktf.TerraformDataSource(tf, id_, terraform_resource_type=type_)
        app.synth()
        return [(Path(tmp) / "stacks" / sk["stack_id"] / TF_FILE).read_text(encoding="utf-8")
                for sk in skeletons]

