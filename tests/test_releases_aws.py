"""Releases on AWS: published versions, the alias, canary routing and alarm, rollback pins,
Lambda layers and packages over 50 MB; golden files, `terraform validate` with the real
provider, checkov, and deterministic zips.

Regenerate the golden files after an intended change with
`FLOWC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_releases_aws.py` and review them.
"""

from __future__ import annotations

import json
import os
import random
from datetime import timedelta
from pathlib import Path

import pytest

from flowc.releases.log import Deployed, ReleaseLog
from flowc.releases.plan import prepare
from flowc.releases.rollback import pin, resolve
from flowc.targets.compile import compile_app
from flowc.targets.packaging import DIRECT_UPLOAD_LIMIT, layer_files, make_asset
from tests.aws_support import ROOT, checkov, terraform_validate
from tests.release_support import NOW, loaded, project, seen, write_code

GOLDEN = ROOT / "tests" / "golden" / "aws"


def _compile(spec: Path, state: Path, out: Path, now=NOW):
    prepared = prepare(loaded(spec), state, out / "aws", now=now, exclude=[out, state])
    [result] = compile_app(prepared.app, ["aws"], out, releases=prepared.releases)
    assert not any(d.is_error for d in result.diagnostics), result.diagnostics
    prepared.commit()
    return prepared, json.loads((out / "aws" / "cdk.tf.json").read_text())


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict:
    """r1 deployed as version 1 and live; r2 (new code) compiled with its canary; then a
    rollback to r1 (pinned). Returns the directories and documents of each step."""
    base = tmp_path_factory.mktemp("release")
    spec = project(base / "src")
    state, out = base / "src" / ".flowc", base / "src" / "out"
    first, doc1 = _compile(spec, state, out)
    seen(state, first.app, out / "aws", nightly=Deployed("1", "r1", "2026-11-25T11:00:00Z", "1"))
    write_code(base / "src", "v2")
    second, canary = _compile(spec, state, out)
    canary_text = (out / "aws" / "cdk.tf.json").read_text()
    keep = base / "canary"
    keep.mkdir()
    for item in (out / "aws").iterdir():
        if item.is_file():
            (keep / item.name).write_bytes(item.read_bytes())
    (keep / "assets").mkdir()
    for item in (out / "aws" / "assets").iterdir():
        (keep / "assets" / item.name).write_bytes(item.read_bytes())
    return {"spec": spec, "state": state, "out": out, "first": first, "second": second,
            "doc1": doc1, "canary": canary, "canary_text": canary_text, "canary_dir": keep}


def _golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("FLOWC_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}; run with FLOWC_UPDATE_GOLDEN=1"
    assert text == golden.read_text(), f"differs from {golden} (FLOWC_UPDATE_GOLDEN=1)"


def test_canary_release_with_a_layer_matches_the_golden_file(released):
    _golden("release-canary.cdk.tf.json", released["canary_text"])


def test_every_function_is_published_and_invoked_through_its_alias(released):
    res = released["canary"]["resource"]
    fn = res["aws_lambda_function"]["nightly_function"]
    assert fn["publish"] is True
    assert fn["tags"]["flowc-release"] == "r2"
    alias = res["aws_lambda_alias"]["nightly_alias"]
    assert alias["name"] == "live"
    assert next(iter(res["aws_scheduler_schedule"].values()))["target"][0]["arn"] == \
        "${aws_lambda_alias.nightly_alias.arn}"
    invoke = res["aws_lambda_function_event_invoke_config"]["nightly_invoke_config"]
    assert invoke["qualifier"] == "${aws_lambda_alias.nightly_alias.name}"
    policy = json.loads(res["aws_iam_role_policy"]["nightly_scheduler_policy"]["policy"])
    [invoke_stmt] = [s for s in policy["Statement"] if s["Sid"] == "InvokeOwnFunction"]
    assert invoke_stmt["Resource"] == "${aws_lambda_alias.nightly_alias.arn}"


def test_canary_keeps_the_live_version_and_weights_the_new_one(released):
    first = released["doc1"]["resource"]["aws_lambda_alias"]["nightly_alias"]
    assert first["function_version"] == "${aws_lambda_function.nightly_function.version}"
    assert "dynamic" not in first  # the first release has nothing to be a canary against
    alias = released["canary"]["resource"]["aws_lambda_alias"]["nightly_alias"]
    assert alias["function_version"] == "1"
    routing = alias["dynamic"]["routing_config"]
    assert routing["for_each"] == ('${aws_lambda_function.nightly_function.version == "1" ? '
                                   "[] : [aws_lambda_function.nightly_function.version]}")
    assert routing["content"] == {
        "additional_version_weights": "${{(routing_config.value) = 0.1}}"}
    alarm = released["canary"]["resource"]["aws_cloudwatch_metric_alarm"]["nightly_canary_alarm"]
    assert alarm["dimensions"]["ExecutedVersion"] == \
        "${aws_lambda_function.nightly_function.version}"
    assert alarm["alarm_actions"] == ["${aws_sns_topic.nightly_alerts.arn}"]
    assert [d.code for d in released["first"].diagnostics] == ["W710"]
    assert released["second"].diagnostics == []


def test_layer_is_a_layer_version_and_stays_out_of_the_function_zip(released):
    import io
    import zipfile

    res = released["canary"]["resource"]
    layer = res["aws_lambda_layer_version"]["layer_shared"]
    assert layer["compatible_runtimes"] == ["python3.12"]
    fn = res["aws_lambda_function"]["nightly_function"]
    assert fn["layers"] == ["${aws_lambda_layer_version.layer_shared.arn}"]
    aws_dir = released["canary_dir"]
    with zipfile.ZipFile(aws_dir / layer["filename"]) as zf:
        assert "python/tinylayer/__init__.py" in zf.namelist()
    with zipfile.ZipFile(io.BytesIO((aws_dir / fn["filename"]).read_bytes())) as zf:
        assert not any(n.startswith("tinylayer/") for n in zf.namelist())
        assert "jobs/main.py" in zf.namelist()


# -- rollback ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rolled_back(released) -> dict:
    app = loaded(released["spec"])
    log = ReleaseLog.load(released["state"], app)
    req = resolve(app, log, "nightly", "r1")
    assert req.ok, req.diagnostics
    pin(log, req, NOW)
    log.save()
    text = (released["out"] / "aws" / "cdk.tf.json").read_text()
    _, recompiled = _compile(released["spec"], released["state"], released["out"])
    again = (released["out"] / "aws" / "cdk.tf.json").read_text()
    return {"req": req, "text": text, "doc": json.loads(text), "again": again,
            "recompiled": recompiled}


def test_rollback_output_matches_the_golden_file(rolled_back):
    _golden("release-rollback.cdk.tf.json", rolled_back["text"])


def test_rollback_changes_only_the_alias(released, rolled_back):
    before, after = released["canary"], rolled_back["doc"]
    changed = [(type_, id_) for type_ in sorted(set(before["resource"]) | set(after["resource"]))
               for id_ in sorted(set(before["resource"].get(type_, {}))
                                 | set(after["resource"].get(type_, {})))
               if before["resource"].get(type_, {}).get(id_)
               != after["resource"].get(type_, {}).get(id_)]
    assert changed == [("aws_lambda_alias", "nightly_alias")]
    assert {k: v for k, v in before.items() if k != "resource"} == \
        {k: v for k, v in after.items() if k != "resource"}
    alias = after["resource"]["aws_lambda_alias"]["nightly_alias"]
    assert alias["function_version"] == "1" and "dynamic" not in alias
    [change] = rolled_back["req"].changes
    assert change.written and change.before == "version 1 with a canary to the newest version"


def test_a_compile_after_the_rollback_keeps_the_pin_byte_for_byte(rolled_back):
    assert rolled_back["again"] == rolled_back["text"]


def test_rollback_errors_name_the_release_the_version_and_the_task(released, tmp_path):
    app = loaded(released["spec"])
    log = ReleaseLog.load(released["state"], app)
    unknown = resolve(app, log, "nightly", "r9")
    [d] = unknown.diagnostics
    assert d.code == "E710" and "r1, r2" in d.help
    never = resolve(app, log, "nightly", "r2")  # compiled, never deployed
    assert [d.code for d in never.diagnostics] == ["E711"]
    assert "never deployed" in never.diagnostics[0].message
    typo = resolve(app, log, "nigthly", "r1")
    assert [d.code for d in typo.diagnostics] == ["E712"]
    assert typo.diagnostics[0].help == "did you mean `nightly`?"


# -- promotion ----------------------------------------------------------------------------

def test_canary_is_promoted_once_for_has_passed_since_the_new_version_was_deployed(tmp_path):
    spec = project(tmp_path / "src")
    state, out = tmp_path / "src" / ".flowc", tmp_path / "src" / "out"
    first, _ = _compile(spec, state, out)
    seen(state, first.app, out / "aws", nightly=Deployed("1", "r1", "2026-11-25T10:00:00Z", "1"))
    write_code(tmp_path / "src", "v2")
    _compile(spec, state, out)
    deployed_at = "2026-11-25T11:45:00Z"  # canary deployed; `for` is 30m
    seen(state, first.app, out / "aws",
         nightly=Deployed("2", "r2", deployed_at, "1", {"version": "2", "weight": 0.1}))
    during, doc = _compile(spec, state, out, now=NOW)  # 12:00, 15 minutes in
    assert during.releases["nightly"].stable_version == "1"
    assert doc["resource"]["aws_lambda_alias"]["nightly_alias"]["function_version"] == "1"
    after, doc = _compile(spec, state, out, now=NOW + timedelta(minutes=16))
    alias = doc["resource"]["aws_lambda_alias"]["nightly_alias"]
    assert after.releases["nightly"].stable_version is None
    assert alias["function_version"] == "${aws_lambda_function.nightly_function.version}"
    assert "dynamic" not in alias


# -- packages over 50 MB and deterministic zips --------------------------------------------

@pytest.fixture(scope="module")
def large(tmp_path_factory) -> Path:
    """A canary release (r2 against live version 1) with a layer and a 51 MB package:
    every release resource at once, for one `terraform validate` and one checkov run."""
    base = tmp_path_factory.mktemp("large")
    spec = project(base / "src", on_failure="discard")
    state, out = base / "src" / ".flowc", base / "src" / "out"
    first, _ = _compile(spec, state, out)
    seen(state, first.app, out / "aws", nightly=Deployed("1", "r1", "2026-11-25T11:00:00Z", "1"))
    blob = random.Random(7).randbytes(DIRECT_UPLOAD_LIMIT + 1024 * 1024)  # incompressible
    (base / "src" / "jobs" / "model.bin").write_bytes(blob)
    # a data file ships only when the task names it (issue 16: per-task packages)
    spec.write_text(spec.read_text().replace(
        "  layers   = [shared]\n", '  layers   = [shared]\n  include  = ["jobs/model.bin"]\n'))
    second, doc = _compile(spec, state, out)
    assert "dynamic" in doc["resource"]["aws_lambda_alias"]["nightly_alias"]
    return out / "aws"


def test_a_package_over_50_mb_goes_through_a_private_versioned_encrypted_bucket(large):
    res = json.loads((large / "cdk.tf.json").read_text())["resource"]
    fn = res["aws_lambda_function"]["nightly_function"]
    assert "filename" not in fn
    [(obj_id, obj)] = res["aws_s3_object"].items()
    assert fn["s3_bucket"] == f"${{aws_s3_object.{obj_id}.bucket}}"
    assert fn["s3_key"] == f"${{aws_s3_object.{obj_id}.key}}"
    assert fn["s3_object_version"] == f"${{aws_s3_object.{obj_id}.version_id}}"
    assert (large / obj["source"].removeprefix("${path.module}/")).stat().st_size > \
        DIRECT_UPLOAD_LIMIT
    assert obj["kms_key_id"] == "${aws_kms_key.kms_key.arn}"
    assert res["aws_s3_bucket_versioning"]["code_bucket_versioning"][
        "versioning_configuration"] == [{"status": "Enabled"}]
    sse = res["aws_s3_bucket_server_side_encryption_configuration"]["code_bucket_encryption"]
    assert sse["rule"][0]["apply_server_side_encryption_by_default"] == [
        {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.kms_key.arn}"}]
    block = res["aws_s3_bucket_public_access_block"]["code_bucket_public_access"]
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy",
                                          "ignore_public_acls", "restrict_public_buckets"))
    assert res["aws_s3_bucket_ownership_controls"]["code_bucket_ownership"]["rule"] == [
        {"object_ownership": "BucketOwnerEnforced"}]
    # the small layer still goes up directly
    assert "filename" in res["aws_lambda_layer_version"]["layer_shared"]


def test_release_output_is_valid_for_the_real_aws_provider_and_checkov_clean(large, tmp_path):
    """Alias with canary routing, canary alarm, layer, package bucket and S3 object."""
    report = terraform_validate(large, tmp_path)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)
    failed = [(c["check_id"], c["resource"])
              for c in checkov(large)["results"]["failed_checks"]]
    assert failed == []


def test_function_and_layer_zips_are_the_same_bytes_across_builds(tmp_path, monkeypatch):
    """Two compiles from scratch (separate pip caches, so pip really runs twice)."""
    digests = []
    for n in (1, 2):
        monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / f"cache{n}"))
        spec = project(tmp_path / f"src{n}")
        out = tmp_path / f"src{n}" / "out"
        _, doc = _compile(spec, tmp_path / f"src{n}" / ".flowc", out)
        res = doc["resource"]
        files = [res["aws_lambda_function"]["nightly_function"]["filename"],
                 res["aws_lambda_layer_version"]["layer_shared"]["filename"]]
        digests.append([(f, make_asset("x", {"f": (out / "aws" / f).read_bytes()}).sha256_hex)
                        for f in files])
    assert digests[0] == digests[1]
    req = tmp_path / "src1" / "layer-requirements.txt"
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "cache3"))
    assert make_asset("layer", layer_files(req)).data == \
        (tmp_path / "src1" / "out" / "aws" / digests[0][1][0]).read_bytes()


def test_a_layer_that_cannot_be_built_is_E713_on_the_layer(tmp_path):
    spec = project(tmp_path / "src")
    req = tmp_path / "src" / "layer-requirements.txt"
    for text, words in (("# nothing yet\n", "has no packages"),
                        ("./missing-0.1-py3-none-any.whl\n", "cannot build layer `shared`")):
        req.write_text(text)
        app = loaded(spec)
        [result] = compile_app(app, ["aws"], tmp_path / "out")
        [diag] = [d for d in result.diagnostics if d.is_error]
        assert diag.code == "E713" and words in diag.message
        assert diag.span is not None and diag.span.line == 3  # the `layer shared` line
        assert not (tmp_path / "out" / "aws" / "cdk.tf.json").exists()
