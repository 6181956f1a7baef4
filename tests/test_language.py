"""The .flow language: parsing, defaults and environments, the IR the checker builds."""

from __future__ import annotations

from flowc.compiler import ir
from flowc.compiler.pipeline import load
from flowc.grammar import syntax as s
from flowc.grammar.parser import parse_text, parse_value_text
from tests.conftest import EXAMPLES

TASK = 'task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n'


def test_reports_example_builds_the_ir_with_environment_overrides():
    result = load(EXAMPLES / "reports.flow", env="prod")
    assert result.ok, result.diagnostics
    app = result.app
    assert app.name == "reports" and app.environment == "prod"
    daily = app.task("daily_report")
    assert daily.memory_mib == 1024  # the task's own setting beats the environment
    assert app.task("digest").memory_mib == 2048  # the environment beats defaults
    assert daily.timezone == "Europe/Berlin" and daily.timeout_s == 300 and daily.retries == 2
    assert daily.on_failure == "dead_letter"
    assert daily.secrets == ("db_url",)
    assert daily.alerts[0].metric == "errors" and daily.alerts[0].notify == ("ops@acme.example",)
    assert app.task("cleanup").targets == ("aws", "k8s")
    assert app.task("cleanup").handler == ir.ImageHandler("busybox:1.36",
                                                          ("sh", "-c", "echo cleaning"))
    assert app.settings["aws"].subnets == ("subnet-0abc",)
    assert app.settings["gcp"].project == "acme-prod"
    assert app.settings["k8s"].namespace == "reports"


def test_without_env_the_defaults_apply():
    app = load(EXAMPLES / "reports.flow").app
    assert app.task("digest").memory_mib == 512
    assert app.settings["aws"].region == "us-east-1" and app.environment is None


def test_app_name_defaults_to_the_file_stem_made_valid(spec):
    result = spec(TASK + "}\n", name="nightly-jobs.flow")
    assert result.ok and result.app.name == "nightly_jobs"


def test_every_literal_kind_parses():
    value = parse_value_text('[1, -2, 0.5, "a\\"b\\u00e9", 512MiB, 1GB, 128MB, 30s, 1h30m, 10%, x]')
    kinds = [type(i).__name__ for i in value.items]
    assert kinds == ["Int", "Int", "Float", "Str", "Size", "Size", "Size", "Duration",
                     "Duration", "Percent", "Ident"]
    assert value.items[3].value == 'a"bé'
    assert [i.mib for i in value.items[4:7]] == [512, 1024, 128]
    assert [i.seconds for i in value.items[7:9]] == [30, 5400]


def test_every_schedule_form_reaches_the_ir(spec):
    result = spec('task t {\n  python = "jobs.main:main"\n  schedule = ["Mon 09:00", '
                  'cron("0 9 * * 1-5"), every 90m, at("2026-12-24T18:00")]\n'
                  "  targets = [aws]\n}\n")
    assert result.ok, result.diagnostics
    kinds = [(x.kind, x.text) for x in result.app.task("t").schedules]
    assert kinds == [("calendar", "Mon 09:00"), ("cron", "0 9 * * 1-5"), ("every", "90m"),
                     ("at", "2026-12-24T18:00")]


def test_backends_and_target_blocks(spec):
    result = spec(TASK + "}\nenvironment prod {\n"
                  '  backend s3 { bucket = "tf" key = "reports.tfstate" region = "eu-west-1" }\n'
                  '  backend gcs { bucket = "tf-gcs" }\n'
                  '  k8s { namespace = "jobs" prometheus = true '
                  'backend kubernetes { secret_suffix = "flowc" } }\n}\n', env="prod")
    assert result.ok, result.diagnostics
    app = result.app
    aws = app.settings["aws"]
    assert aws.backend.kind == "s3" and aws.backend.as_dict()["key"] == "reports.tfstate"
    assert app.settings["gcp"].backend.as_dict() == {"bucket": "tf-gcs"}
    k8s = app.settings["k8s"]
    assert k8s.prometheus is True and k8s.backend.kind == "kubernetes"


def test_env_blocks_merge_defaults_environment_and_task(spec):
    result = spec('secret token\ndefaults { env { A = "d" B = "d" } }\n'
                  'environment prod { env { B = "e" C = "e" } }\n'
                  + TASK + '  env { C = "t" T = secret.token N = 3 }\n}\n', env="prod")
    assert result.ok, result.diagnostics
    env = {v.name: v.value for v in result.app.task("t").env}
    assert env == {"A": "d", "B": "e", "C": "t", "T": ir.SecretRef("token"), "N": "3"}


def test_requirements_defaults_to_the_file_beside_the_spec(spec):
    (spec.dir / "requirements.txt").write_text("requests\n")
    assert spec(TASK + "}\n").app.task("t").requirements == "requirements.txt"


def test_comments_are_collected_but_not_inside_strings():
    tree, diags = parse_text('# a\napp x # b\nsecret y\n# "c"\n', "f.flow")
    assert not diags
    assert [c.text for c in tree.comments] == ["# a", "# b", '# "c"']
    tree, _ = parse_text('task t { description = "# not a comment" }', "f.flow")
    assert tree.comments == ()
    assert isinstance(tree.body[0], s.Block)


def test_the_ir_is_immutable():
    import dataclasses

    import pytest

    app = load(EXAMPLES / "reports.flow").app
    with pytest.raises(dataclasses.FrozenInstanceError):
        app.tasks[0].memory_mib = 1


def test_calendar_shorthands_may_be_written_unquoted(spec):
    result = spec('task t {\n  python = "jobs.main:main"\n  schedule = [daily, "weekly"]\n}\n')
    assert result.ok, result.diagnostics
    assert [(x.kind, x.text) for x in result.app.task("t").schedules] == [
        ("calendar", "daily"), ("calendar", "weekly")]


def test_a_zone_inside_a_calendar_string_wins_over_the_task_zone(spec):
    result = spec('task t {\n  python = "jobs.main:main"\n  timezone = "Europe/Berlin"\n'
                  '  schedule = "Mon 09:00 America/New_York"\n  targets = [k8s]\n}\n')
    assert result.ok, result.diagnostics
    [target_schedule] = result.app.task("t").schedules_for("k8s")
    assert target_schedule.timezone == "America/New_York"


def test_schedule_errors_point_at_the_faulty_token(spec):
    result = spec('task t {\n  python = "jobs.main:main"\n  schedule = "Mon..Fru 09:00"\n}\n')
    [d] = [d for d in result.diagnostics if d.is_error]
    assert d.span.line == 3 and d.span.column > 14  # inside the string, not at its quote
