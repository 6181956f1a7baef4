"""Account quotas a spec can exceed on its own (issue 16): W405 (IAM roles per account)
and W404 (Lambda reserved concurrency), from the same rules `flowc check` and `flowc
compile` run (flowc/targets/rules.py)."""

from __future__ import annotations

from flowc.compiler.ir import ImageHandler
from flowc.targets.aws.build import (
    IAM_ROLES_PER_ACCOUNT,
    LAMBDA_CONCURRENCY_PER_ACCOUNT,
    LAMBDA_UNRESERVED_MINIMUM,
    ROLES_PER_TASK,
    account_limits,
)
from flowc.targets.rules import target_rules
from tests.emulator_support import make_app, make_task


def codes(app) -> list[str]:
    return [d.code for d in account_limits(app)]


def python_tasks(n: int):
    return [make_task(f"t{i}") for i in range(n)]


def test_roles_over_the_default_quota_warn_W405_at_the_first_task(tmp_path):
    fits = IAM_ROLES_PER_ACCOUNT // ROLES_PER_TASK["python"]
    assert codes(make_app(tmp_path, *python_tasks(fits))) == []
    app = make_app(tmp_path, *python_tasks(fits + 1))
    [warning] = account_limits(app)
    assert warning.code == "W405" and f"{(fits + 1) * 2} IAM roles" in warning.message
    assert warning.span == app.tasks[0].span and "quota" in warning.help


def test_image_tasks_count_their_execution_and_task_roles(tmp_path):
    image = ImageHandler("busybox:1.36", ())
    fits = IAM_ROLES_PER_ACCOUNT // ROLES_PER_TASK["image"]
    tasks = [make_task(f"i{i}", handler=image) for i in range(fits + 1)]
    assert codes(make_app(tmp_path, *tasks)) == ["W405"]


def test_reserved_concurrency_over_what_an_account_allows_warns_W404(tmp_path):
    room = LAMBDA_CONCURRENCY_PER_ACCOUNT - LAMBDA_UNRESERVED_MINIMUM
    assert "W404" not in codes(make_app(tmp_path, *python_tasks(room)))
    app = make_app(tmp_path, *python_tasks(room + 1))
    assert "W404" in codes(app)
    # `flowc check` and `flowc compile` run it: it is among the aws target's rules
    assert "W404" in [d.code for d in target_rules(app, ["aws"])["aws"]]


def test_only_tasks_with_overlap_skip_reserve_concurrency(tmp_path):
    room = LAMBDA_CONCURRENCY_PER_ACCOUNT - LAMBDA_UNRESERVED_MINIMUM
    tasks = [make_task(f"p{i}", overlap="allow") for i in range(room + 1)]
    assert "W404" not in codes(make_app(tmp_path, *tasks))


def test_tasks_not_on_aws_do_not_count(tmp_path):
    app = make_app(tmp_path, *[make_task(f"g{i}", targets=("gcp",)) for i in range(1200)])
    assert codes(app) == []
