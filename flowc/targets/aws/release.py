"""AWS target, releases: the alias every python task and python service is invoked
through, its canary routing and alarm, Lambda layers, and the S3 bucket that carries
packages over 50 MB.

Plain functions of an `AwsContext` (`flowc/targets/aws/context.py`), called by `build.py`.
Every function is published
(`publish = true`: each change of code or configuration is a numbered version), and the
schedules and the async invoke config target the alias (default `live`). Where the alias
points comes from `Task.release`, which flowc/releases/plan.py fills from the release log:

- `pinned_version` (after `flowc rollback`): that version, nothing else;
- `stable_version` (a canary is running): the stable version, plus
  `routing_config.additional_version_weights = {<newest version> = canary/100}`
  (a dynamic block that disappears when the newest version is the stable one);
- otherwise the newest published version (`aws_lambda_function.<task>.version`).

A python service (flowc/targets/aws/services.py) gets the same: its HTTP API integration
and invoke permission target the alias, `canary` weights it the same way, and
`blue_green` is the plain alias switch (the previous version stays for `flowc rollback`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowc.compiler.ir import Service, Task, unit_kind
from flowc.targets.aws import iam
from flowc.targets.aws import operations as ops
from flowc.targets.aws.context import AwsContext
from flowc.targets.base import ASSET_DIR, Resource, TaskRelease
from flowc.targets.naming import DNS
from flowc.targets.packaging import (
    Asset,
    PackagingError,
    layer_files,
    make_asset,
    needs_bucket,
)

__all__ = ["RELEASE_TAG", "Aliased", "alias_stem", "alias_version_args", "pin_alias",
           "weight"]
RELEASE_TAG = "flowc-release"  # the release that built the function (flowc/releases/state.py)
CANARY_ALARM_PERIOD_S = 60
CODE_PREFIX = "lambda/"  # key prefix of packages in the code bucket
NONCURRENT_DAYS = 90  # old package versions kept this long (rollback to older versions)


def weight(percent: float) -> float:
    """A canary percentage as Lambda's routing weight (10% -> 0.1)."""
    return round(percent / 100.0, 5)


def alias_version_args(task: Task | Service, deployed: TaskRelease, fn_address: str
                       ) -> dict[str, Any]:
    """`function_version` (and the canary routing) of a task's or python service's alias;
    see module doc."""
    rel = deployed
    percent = task.release.canary_percent
    latest = f"${{{fn_address}.version}}"
    if rel.pinned_version is not None:
        return {"function_version": rel.pinned_version}
    if rel.stable_version is None or percent is None:
        return {"function_version": latest}
    newest = f"{fn_address}.version"
    return {
        "function_version": rel.stable_version,
        "dynamic": {"routing_config": {
            "for_each": f'${{{newest} == "{rel.stable_version}" ? [] : [{newest}]}}',
            "content": {"additional_version_weights":
                        f"${{{{(routing_config.value) = {weight(percent)}}}}}"},
        }},
    }


def pin_alias(doc: dict[str, Any], stem: str, version: str
              ) -> tuple[dict[str, Any], str | None]:
    """A compiled cdk.tf.json with the alias `<stem>_alias` (`alias_stem`) pinned to
    `version` (in place).

    Returns (doc, where the alias pointed before, in words); the rest of the document
    is untouched, so Terraform plans exactly one change. KeyError if the document has
    no alias for the task.
    """
    body = doc["resource"]["aws_lambda_alias"][f"{stem}_alias"]
    before = str(body.get("function_version"))
    before = "the newest version" if before.startswith("${") else f"version {before}"
    if body.get("dynamic") or body.get("routing_config"):
        before += " with a canary to the newest version"
    body.pop("dynamic", None)
    body.pop("routing_config", None)
    body["function_version"] = version
    return doc, before


# -- alias, canary ------------------------------------------------------------------


def alias_stem(unit: Task | Service) -> str:
    """The resource name stem of a task's or python service's function and alias
    (`aws_lambda_alias.<stem>_alias`); services' resources are all `svc_<name>_...`."""
    return f"svc_{unit.name}" if isinstance(unit, Service) else unit.name


@dataclass(frozen=True)
class Aliased:
    """What an alias is for: a python task (its schedules invoke the alias) or a python
    service (its HTTP API routes do, flowc/targets/aws/services.py)."""

    unit: Task | Service
    invoker: str  # who invokes the alias, plural: "schedules", "HTTP API routes"
    tags: dict[str, str]
    topic: str | None  # address of the SNS topic the canary alarm notifies

    @property
    def kind(self) -> str:
        return unit_kind(self.unit)


def add_alias(ctx: AwsContext, owner: Aliased, fn: Resource) -> Resource:
    unit, kind, name = owner.unit, owner.kind, owner.unit.name
    rel = unit.release
    body: dict[str, Any] = {
        "name": rel.alias,
        "description": f"flowc: what the {owner.invoker} of {kind} {name} invoke",
        "function_name": fn.ref("function_name"),
        **alias_version_args(unit, ctx.release_of(unit), fn.address),
    }
    alias = ctx.stack.resource("aws_lambda_alias", f"{alias_stem(unit)}_alias", body)
    ctx.stack.output(f"{name}_alias_arn", alias.ref("arn"),
                     f"alias `{rel.alias}` of {kind} `{name}` ({owner.invoker} invoke it)")
    ctx.stack.output(f"{name}_function_version", fn.ref("version"),
                     f"newest published version of {kind} `{name}`")
    ctx.stack.output(f"{name}_live_version", alias.ref("function_version"),
                     f"version alias `{rel.alias}` of {kind} `{name}` points at")
    if rel.canary_percent is not None:
        add_canary_alarm(ctx, owner, fn, alias)
    return alias


def add_canary_alarm(ctx: AwsContext, owner: Aliased, fn: Resource, alias: Resource) -> None:
    """Errors of the newest version when run through the alias (per minute)."""
    name, rel = owner.unit.name, owner.unit.release
    body: dict[str, Any] = {
        "alarm_name": ctx.names.name(name, "canary", kind="alarm"),
        "alarm_description": f"flowc {owner.kind} {name}: errors of the newest version "
                             f"(canary {rel.canary_percent:g}%); roll back with "
                             f"`flowc rollback FILE {name} --to RELEASE`",
        "namespace": "AWS/Lambda",
        "metric_name": "Errors",
        "statistic": "Sum",
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 0,
        "period": CANARY_ALARM_PERIOD_S,
        "evaluation_periods": 1,
        "treat_missing_data": "notBreaching",
        "dimensions": {
            "FunctionName": fn.ref("function_name"),
            "Resource": f"{fn.ref('function_name')}:{alias.ref('name')}",
            "ExecutedVersion": fn.ref("version"),
        },
        "tags": owner.tags,
    }
    if owner.topic is not None:
        body["alarm_actions"] = [f"${{{owner.topic}.arn}}"]
    alarm = ctx.stack.resource("aws_cloudwatch_metric_alarm",
                               f"{alias_stem(owner.unit)}_canary_alarm", body)
    ctx.stack.output(f"{name}_canary_alarm_name", alarm.ref("alarm_name"),
                     f"alarm on errors of {owner.kind} `{name}`'s newest version")


# -- layers -------------------------------------------------------------------------


def layer_arns(ctx: AwsContext, task: Task) -> list[str] | None:
    """ARNs of the task's layers (in order); None when one could not be built."""
    arns = []
    for name in task.layers:
        layer = layer_version(ctx, name, task)
        if layer is None:
            return None
        arns.append(layer.ref("arn"))
    return arns


def layer_version(ctx: AwsContext, name: str, task: Task) -> Resource | None:
    cache = ctx.layers
    if name in cache:
        return cache[name]
    layer = ctx.app.layer(name)
    cache[name] = None
    try:
        files = layer_files(ctx.app.base_path / layer.requirements)
    except (PackagingError, OSError) as exc:
        ctx.stack.error("E713", f"cannot build layer `{name}`: {exc}",
                        layer.span or task.span,
                        "check the layer's requirements file and that pip can install it")
        return None
    if not files:
        ctx.stack.error("E713", f"layer `{name}` has no packages: `{layer.requirements}` "
                        "lists none", layer.span or task.span,
                        "add requirements to the file, or remove the layer")
        return None
    stem = "layer-" + ctx.names.name(name, style=DNS, kind="layer_asset", prefixed=False)
    asset = make_asset(stem, files, ASSET_DIR)
    ctx.stack.add_file(asset.filename, asset.data)
    res = ctx.stack.resource("aws_lambda_layer_version", f"layer_{name}", {
        "layer_name": ctx.names.name(name, kind="layer"),
        "description": f"flowc layer {name}: packages of {layer.requirements}"[:256],
        "compatible_runtimes": sorted({ops.lambda_runtime(t) for t in ctx.app.tasks
                                       if name in t.layers}),
        "compatible_architectures": ["x86_64"],
        **package_args(ctx, asset),
    })
    ctx.stack.output(f"layer_{name}_arn", res.ref("arn"),
                     f"Lambda layer `{name}` (this version)")
    cache[name] = res
    return res


# -- packages: direct upload or through the code bucket -------------------------------


def package_args(ctx: AwsContext, asset: Asset) -> dict[str, Any]:
    """Code arguments of a function or layer: the zip itself, or its S3 object."""
    if not needs_bucket(asset):
        return {"filename": asset.filename, "source_code_hash": asset.sha256_base64}
    obj = add_code_object(ctx, asset)
    return {"s3_bucket": obj.ref("bucket"), "s3_key": obj.ref("key"),
            "s3_object_version": obj.ref("version_id"),
            "source_code_hash": asset.sha256_base64}


def add_code_object(ctx: AwsContext, asset: Asset) -> Resource:
    bucket = code_bucket(ctx)
    return ctx.stack.resource("aws_s3_object", f"package_{asset.sha256_hex[:12]}", {
        "bucket": bucket.ref("id"),
        "key": CODE_PREFIX + asset.filename.rsplit("/", 1)[-1],
        "source": f"${{path.module}}/{asset.filename}",
        "source_hash": asset.md5_hex,
        "content_type": "application/zip",
        "server_side_encryption": "aws:kms",
        "kms_key_id": ctx.key.ref("arn"),
        "tags": ctx.tags(),
        "depends_on": ["aws_s3_bucket_versioning.code_bucket_versioning",
                       "aws_s3_bucket_server_side_encryption_configuration."
                       "code_bucket_encryption"],
    })


def code_bucket(ctx: AwsContext) -> Resource:
    """One bucket per app and environment for packages over the direct-upload limit."""
    if ctx.bucket is not None:
        return ctx.bucket
    s, tags = ctx.stack, ctx.tags()
    prefix = ctx.names.name("code", style=DNS, limit=34, kind="bucket")
    bucket = s.resource("aws_s3_bucket", "code_bucket", {
        "bucket": f"{prefix}-${{data.aws_caller_identity.caller.account_id}}-"
                  "${data.aws_region.region.name}",
        "force_destroy": True,  # holds only packages flowc rebuilds from the spec
        "tags": tags,
    })
    ref = bucket.ref("id")
    s.resource("aws_s3_bucket_versioning", "code_bucket_versioning", {
        "bucket": ref, "versioning_configuration": [{"status": "Enabled"}]})
    s.resource("aws_s3_bucket_server_side_encryption_configuration",
               "code_bucket_encryption", {"bucket": ref, "rule": [{
                   "apply_server_side_encryption_by_default": [{
                       "sse_algorithm": "aws:kms", "kms_master_key_id": ctx.key.ref("arn")}],
                   "bucket_key_enabled": True}]})
    s.resource("aws_s3_bucket_public_access_block", "code_bucket_public_access", {
        "bucket": ref, "block_public_acls": True, "block_public_policy": True,
        "ignore_public_acls": True, "restrict_public_buckets": True})
    s.resource("aws_s3_bucket_ownership_controls", "code_bucket_ownership", {
        "bucket": ref, "rule": [{"object_ownership": "BucketOwnerEnforced"}]})
    s.resource("aws_s3_bucket_lifecycle_configuration", "code_bucket_lifecycle", {
        "bucket": ref,
        "rule": [{
            "id": "old-packages",
            "status": "Enabled",
            "filter": [{"prefix": ""}],  # the whole bucket (it holds only packages)
            "abort_incomplete_multipart_upload": [{"days_after_initiation": 1}],
            "noncurrent_version_expiration": [{"noncurrent_days": NONCURRENT_DAYS}],
        }],
        "depends_on": ["aws_s3_bucket_versioning.code_bucket_versioning"],
    })
    s.resource("aws_s3_bucket_policy", "code_bucket_policy", {
        "bucket": ref,
        "policy": iam.document([{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": [bucket.ref("arn"), bucket.ref("arn") + "/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }]),
        "depends_on": ["aws_s3_bucket_public_access_block.code_bucket_public_access"],
    })
    s.output("code_bucket_name", ref, "S3 bucket holding packages over 50 MB")
    ctx.bucket = bucket
    return bucket
