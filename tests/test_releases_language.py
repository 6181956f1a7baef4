"""`release { }` and `layer NAME { }` in the language and the IR (issue 7, front end)."""

from __future__ import annotations

from flowc.compiler import ir

TASK = 'task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n  targets = [aws]\n'


def test_default_release_is_the_live_alias_without_canary(spec):
    task = spec(TASK + "}\n").app.task("t")
    assert task.release == ir.Release("live", None, None)


def test_task_release_overrides_the_top_level_one_field_by_field(spec):
    result = spec('release { alias = "prod" canary = 10% for = 1h }\n'
                  + TASK + "  release { canary = 25% }\n}\n")
    assert result.ok, result.diagnostics
    assert result.app.task("t").release == ir.Release("prod", 25.0, 3600)


def test_canary_without_for_lasts_thirty_minutes(spec):
    task = spec(TASK + "  release { canary = 10% }\n}\n").app.task("t")
    assert task.release.canary_for_s == 1800


def test_canary_names_each_target_that_cannot_split(spec):
    result = spec('task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n'
                  "  release { canary = 10% }\n}\n")
    messages = [d.message for d in result.diagnostics if d.code == "E701"]
    assert len(messages) == 1  # one cause, one diagnostic naming both targets
    assert "gcp" in messages[0] and "k8s" in messages[0]
    assert "targets = [aws]" in [d for d in result.diagnostics if d.code == "E701"][0].help


def test_layers_are_declared_once_and_used_by_name(spec):
    (spec.dir / "layer-requirements.txt").write_text("requests==2.32.3\n")
    result = spec('layer shared { requirements = "layer-requirements.txt" }\n'
                  + TASK + "  layers = [shared]\n}\n")
    assert result.ok, result.diagnostics
    assert result.app.layers == (ir.Layer("shared", "layer-requirements.txt"),)
    assert result.app.task("t").layers == ("shared",)


def test_layer_requirements_must_exist(spec):
    result = spec('layer shared { requirements = "nope.txt" }\n' + TASK + "}\n")
    assert [d.code for d in result.diagnostics if d.is_error] == ["E119"]
