"""The shared target base: names, deterministic assets, write-only-what-changed, registry."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.compiler.ir import App
from flowc.targets import registry
from flowc.targets.base import Stack, escape_literal, standard_tags
from flowc.targets.compile import compile_app
from flowc.targets.naming import AWS, CRONJOB_LIMIT, DNS, Namer, fit, logical_id
from flowc.targets.packaging import (
    collect_code,
    deterministic_zip,
    make_asset,
    vendor_requirements,
)
from tests.aws_support import ROOT, aws_app
from tests.target_apps import sample_app

NAME = st.from_regex(r"[a-z][a-z0-9_]{0,70}", fullmatch=True)
DNS_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
AWS_RE = re.compile(r"^[a-z0-9_-]+$")


def app(name: str = "reports", env: str | None = "prod") -> App:
    return App(name=name, source="x.flow", base_dir=".", environment=env, tasks=(), secrets=())


# -- names --------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(app_name=NAME, keys=st.lists(st.lists(NAME, min_size=1, max_size=3), min_size=1,
                                     max_size=12, unique_by=tuple),
       style=st.sampled_from([AWS, DNS]), limit=st.sampled_from([30, CRONJOB_LIMIT, 63, 64]))
def test_names_are_valid_bounded_deterministic_and_distinct(app_name, keys, style, limit):
    namer = Namer(app(app_name))
    names = [namer.name(*k, style=style, limit=limit) for k in keys]
    again = Namer(app(app_name))
    assert names == [again.name(*k, style=style, limit=limit) for k in keys]
    assert len(set(names)) == len(names), "two different keys got one name"
    for n in names:
        assert len(n) <= limit
        assert (DNS_RE if style == DNS else AWS_RE).match(n), n


def test_short_names_read_naturally_and_long_ones_end_in_a_hash():
    namer = Namer(app())
    assert namer.name("daily_report", "dlq") == "reports-prod-daily_report-dlq"
    assert namer.name("daily_report", style=DNS, limit=CRONJOB_LIMIT) == \
        "reports-prod-daily-report"
    long = "x" * 80
    got = namer.name(long)
    assert len(got) == 64 and re.search(r"-[0-9a-f]{8}$", got)
    assert got.startswith("reports-prod-xxxx")
    assert namer.name("x" * 81) != got  # differ only past the cut: still distinct


def test_dns_names_that_collapse_to_the_same_text_stay_distinct():
    namer = Namer(app(env=None))
    first = namer.name("a_b", "c", style=DNS)
    second = namer.name("a", "b_c", style=DNS)
    assert first == "reports-a-b-c"
    assert second != first and second.startswith("reports-a-b-c-")
    assert namer.name("a_b", "c", style=DNS) == first  # same key, same name


def test_fit_keeps_dns_names_starting_with_a_letter():
    assert fit("9lives", 63, DNS).startswith("x-")
    assert DNS_RE.match(fit("-" * 70 + "a" * 70, 52, DNS))


def test_logical_ids_are_terraform_identifiers():
    assert logical_id("daily_report", "function") == "daily_report_function"
    assert logical_id("9", "x") == "r_9_x"
    assert logical_id("My-Task") == "my_task"


def test_standard_tags_name_app_task_environment_and_flowc(tmp_path):
    spec = aws_app(tmp_path)
    assert standard_tags(spec, spec.tasks[0]) == {
        "app": "reports", "environment": "prod", "managed-by": "flowc", "task": "daily_report"}
    assert standard_tags(app(env=None)) == {
        "app": "reports", "environment": "default", "managed-by": "flowc"}


def test_escape_literal_stops_terraform_interpolation():
    assert escape_literal("a ${b} %{c}") == "a $${b} %%{c}"
    assert escape_literal("plain") == "plain"


# -- assets -------------------------------------------------------------------------------

def test_zip_bytes_depend_only_on_content():
    a = deterministic_zip({"b.py": b"2", "a/x.py": b"1"})
    b = deterministic_zip({"a/x.py": b"1", "b.py": b"2"})
    assert a == b
    assert hashlib.sha256(a).hexdigest() == hashlib.sha256(b).hexdigest()
    with zipfile.ZipFile(io.BytesIO(a)) as zf:
        assert zf.namelist() == ["a/x.py", "b.py"]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert deterministic_zip({"a/x.py": b"1", "b.py": b"3"}) != a


def test_code_dir_zip_ignores_mtimes_caches_and_output(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "m.py").write_text("x = 1\n")
    (tmp_path / "jobs" / "__pycache__").mkdir()
    (tmp_path / "jobs" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"junk")
    (tmp_path / "app.flow").write_text("task t {}\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "big.bin").write_bytes(b"0" * 10)
    first = make_asset("code", collect_code(tmp_path, exclude=[tmp_path / "out"]))
    os.utime(tmp_path / "jobs" / "m.py", (1, 1))
    second = make_asset("code", collect_code(tmp_path, exclude=[tmp_path / "out"]))
    assert first == second
    assert first.filename == f"assets/code-{first.sha256_hex[:12]}.zip"
    with zipfile.ZipFile(io.BytesIO(first.data)) as zf:
        assert zf.namelist() == ["jobs/m.py"]


def _wheel(path: Path) -> None:
    dist = "tinydep-0.1.dist-info"
    path.write_bytes(deterministic_zip({
        "tinydep/__init__.py": b"VALUE = 42\n",
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 0.1\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
        f"{dist}/RECORD": b"",
    }))


def test_requirements_are_vendored_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "cache"))
    _wheel(tmp_path / "tinydep-0.1-py3-none-any.whl")
    req = tmp_path / "requirements.txt"
    req.write_text("# local wheel, no network\n./tinydep-0.1-py3-none-any.whl\n")
    files = vendor_requirements(req)
    assert files["tinydep/__init__.py"] == b"VALUE = 42\n"
    assert not any(k.endswith(".pyc") or k.endswith("/RECORD") for k in files)

    def no_pip(*a, **k):
        raise AssertionError("pip ran again although the cache holds this install")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert vendor_requirements(req) == files


def test_empty_requirements_vendor_nothing(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("# nothing yet\n\n")
    assert vendor_requirements(req) == {}


# -- writing ------------------------------------------------------------------------------

def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_unchanged_recompile_rewrites_nothing_and_skips_cdktf(tmp_path):
    spec = aws_app(tmp_path / "src")
    first = compile_app(spec, ["aws"], tmp_path / "out")
    assert first[0].synthesized and first[0].written
    before = _snapshot(tmp_path / "out")
    again = compile_app(spec, ["aws"], tmp_path / "out")
    assert again[0].written == [] and not again[0].synthesized
    assert _snapshot(tmp_path / "out") == before
    # Without the fingerprint cdktf runs again, and still produces the same bytes.
    (tmp_path / "out" / "aws" / ".flowc-state.json").unlink()
    third = compile_app(spec, ["aws"], tmp_path / "out")
    assert third[0].synthesized
    assert [p.name for p in third[0].written] == [".flowc-state.json"]
    after = _snapshot(tmp_path / "out")
    assert {k: v for k, v in after.items() if "state" not in k} == \
        {k: v for k, v in before.items() if "state" not in k}


def test_a_compile_cut_into_shards_writes_the_bytes_of_one_synthesis(tmp_path, monkeypatch):
    """Every target (their providers), local and remote backends."""
    from flowc.compiler.ir import Backend
    from flowc.targets import synth

    spec = sample_app(tmp_path / "src")
    gcs = Backend("gcs", (("bucket", "acme-tf"), ("prefix", "flowc/reports")))
    spec = dataclasses.replace(spec, settings={
        **spec.settings, "gcp": dataclasses.replace(spec.settings["gcp"], backend=gcs)})
    targets = ["aws", "gcp", "k8s"]
    compile_app(spec, targets, tmp_path / "whole")
    monkeypatch.setattr(synth, "SHARD_CONSTRUCTS", 8)  # each target: two shards or more
    launched = []
    real_run = subprocess.run
    monkeypatch.setattr(synth.subprocess, "run",
                        lambda *a, **kw: launched.append((a[0], kw["input"])) or real_run(*a, **kw))
    compile_app(spec, targets, tmp_path / "sharded")
    assert all(cmd[-1].endswith("cdktf_app.js") for cmd, _ in launched)
    shards = [json.loads(skeletons)[0]["stack_id"] for _, skeletons in launched]
    assert all(shards.count(f"reports-prod-{target}") >= 2 for target in targets), shards
    for target in targets:
        whole = (tmp_path / "whole" / target / "cdk.tf.json").read_bytes()
        assert (tmp_path / "sharded" / target / "cdk.tf.json").read_bytes() == whole, target
    assert b'"gcs": {' in (tmp_path / "sharded" / "gcp" / "cdk.tf.json").read_bytes()


def test_changed_code_replaces_the_asset_and_removes_the_old_one(tmp_path):
    spec = aws_app(tmp_path / "src")
    compile_app(spec, ["aws"], tmp_path / "out")
    old = sorted((tmp_path / "out" / "aws" / "assets").iterdir())
    (tmp_path / "src" / "jobs" / "digest.py").write_text("def main():\n    return 1\n")
    result = compile_app(spec, ["aws"], tmp_path / "out")
    new = sorted((tmp_path / "out" / "aws" / "assets").iterdir())
    # one archive per python task: only digest's (whose module changed) is replaced
    assert len(old) == len(new) == 2 and len(set(old) & set(new)) == 1
    assert tmp_path / "out" / "aws" / "cdk.tf.json" in result[0].written
    tf = (tmp_path / "out" / "aws" / "cdk.tf.json").read_text()
    assert all(p.name in tf for p in new)


def test_tampered_output_is_repaired(tmp_path):
    spec = aws_app(tmp_path / "src")
    compile_app(spec, ["aws"], tmp_path / "out")
    tf = tmp_path / "out" / "aws" / "cdk.tf.json"
    good = tf.read_bytes()
    tf.write_text("{}")
    result = compile_app(spec, ["aws"], tmp_path / "out")
    assert result[0].synthesized and tf.read_bytes() == good


NOOP_PROBE = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.aws_support import aws_app
from flowc.targets.compile import compile_app
r = compile_app(aws_app(Path({src!r})), ["aws"], Path({out!r}))
print("SYNTH", r[0].synthesized, "CDKTF", "cdktf" in sys.modules, "JSII", "jsii" in sys.modules)
"""


def test_noop_recompile_never_starts_node(tmp_path):
    spec = aws_app(tmp_path / "src")
    compile_app(spec, ["aws"], tmp_path / "out")
    probe = NOOP_PROBE.format(root=str(ROOT), src=str(tmp_path / "src"),
                              out=str(tmp_path / "out"))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert "SYNTH False CDKTF False JSII False" in out, out


# -- stack and registry -------------------------------------------------------------------

def test_stack_ids_are_unique_across_resources_data_and_outputs(tmp_path):
    stack = Stack("aws", app(), tmp_path)
    q = stack.resource("aws_sqs_queue", "jobs_dlq", {})
    assert q.ref("arn") == "${aws_sqs_queue.jobs_dlq.arn}"
    assert stack.data("aws_region", "region", {}).ref("name") == "${data.aws_region.region.name}"
    with pytest.raises(ValueError):
        stack.resource("aws_sns_topic", "jobs_dlq", {})
    with pytest.raises(ValueError):
        stack.output("region", "x")


def test_registry_lists_every_target_once():
    assert registry.names() == ("aws", "gcp", "k8s")
    assert registry.get("aws").load_builder().name == "aws"
    with pytest.raises(KeyError):
        registry.get("azure")
    with pytest.raises(ValueError):
        registry.register(registry.get("aws"))


def test_code_that_cannot_be_packaged_is_a_diagnostic_not_a_traceback(tmp_path, monkeypatch):
    import dataclasses

    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "cache"))
    spec = aws_app(tmp_path / "src")
    (tmp_path / "src" / "requirements.txt").write_text("./no-such-0.1-py3-none-any.whl\n")
    broken = dataclasses.replace(spec.tasks[0], requirements="requirements.txt")
    spec = dataclasses.replace(spec, tasks=(broken,))
    result = compile_app(spec, ["aws"], tmp_path / "out")[0]
    (diag,) = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "E400" and "`daily_report`" in diag.message
    assert diag.span == broken.span and diag.help
    assert not (tmp_path / "out" / "aws").exists()
