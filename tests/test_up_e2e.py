"""`flowc up` / `flowc down` for real: the example spec compiled, applied with Terraform (the
provider from the mirror) to the embedded moto server, and checked through boto3.

One test, in the order a user meets things (each Terraform run costs 20-60 s; SQS queue
creation alone waits ~25 s in the provider):
1. a role of task `daily_report` and the app's KMS alias already exist: `up` fails with
   E604 naming the task (with its source line) and E605 naming the shared alias;
2. after removing them and editing task `digest`, `up` creates only what is missing and
   changes only digest's resources, in place (the edit is applied as the difference);
3. boto3 finds the schedules with the IR's expressions and timezones, the dead-letter
   queue wired into the schedule, the secret and the functions;
   `flowc status` shows per task its schedules, versions, alias and dead-letter depth,
   and `flowc logs --deployed` the task's log group;
   an `up` with nothing changed does not run Terraform;
4. `up --plan` after a further edit shows the change per task and exits 2; on a terminal
   `up` asks before applying, and "n" applies nothing;
5. services (the spec gains a blue_green image service and a python service): boto3
   finds the load balancer, both target groups, the listener rule's weights, the two ECS
   services and the HTTP API; a second release moves the weights to green, and
   `flowc rollback FILE api` changes only the rule's weights back (nothing replaced);
6. `down --keep-emulator` leaves nothing in the cloud; `down` stops the server.
"""


from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from flowc.compiler.pipeline import load
from flowc.deploy import localcloud
from flowc.deploy.runner import root_dir, stack_dir
from flowc.deploy.terraform import EVENTS_FILE
from flowc.targets.compile import TF_FILE, compile_app
from tests.aws_support import MIRROR, ROOT

SERVICES = """
service api {
  image    = "ghcr.io/acme/api:1.0"
  port     = 8000
  health   = "/health"
  replicas = 2..4
  scale_on = cpu 70%
  release { strategy = blue_green }
  targets  = [aws]
}

service hello {
  python  = "jobs.web:app"
  port    = 8080
  targets = [aws]
}
"""
WSGI_APP = """def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello\\n"]
"""

FLOWC = str(Path(sys.executable).parent / "flowc")
TIMEOUT = 400


def flowc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")  # the table is not wrapped
    start = time.monotonic()
    out = subprocess.run([FLOWC, *args], cwd=cwd, capture_output=True, text=True,
                         timeout=TIMEOUT, env=env)
    took = time.monotonic() - start
    print(f"$ flowc {' '.join(args)}  -> {out.returncode} in {took:.0f}s\n{out.stdout}\n"
          f"{out.stderr}")
    return out


def client(service: str, cloud: localcloud.LocalCloud, region: str):
    return boto3.client(service, endpoint_url=cloud.endpoint, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test")


def plan_counts(stderr: str) -> tuple[int, int, int]:
    m = re.search(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy", stderr)
    assert m, stderr
    return int(m[1]), int(m[2]), int(m[3])


def on_terminal(argv: list[str], cwd: Path, answer: str) -> tuple[int, str]:
    """Run a command on a pseudo-terminal; type `answer` when it asks to apply."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                            env=dict(os.environ, COLUMNS="200"))
    os.close(slave)
    screen, answered, deadline = b"", False, time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            screen += chunk
            if not answered and b"Apply these changes?" in screen:
                os.write(master, answer.encode() + b"\n")
                answered = True
        elif proc.poll() is not None:
            break
    os.close(master)
    text = screen.decode(errors="replace")
    print(f"$ {' '.join(argv)} (on a terminal)\n{text}")
    return proc.wait(timeout=60), text


@pytest.fixture
def workspace(tmp_path):
    if shutil.which("terraform") is None or not MIRROR.is_dir():
        pytest.skip("terraform or the provider mirror /opt/tf-plugins is absent on this "
                    "machine; flowc up needs both to apply offline")
    # the example plus services; an ALB needs two subnets (the local cloud's stand in)
    text = (ROOT / "examples" / "reports.flow").read_text()
    with_services = text.replace('subnets = ["subnet-0abc"]',
                                 'subnets = ["subnet-0abc", "subnet-0def"]') + SERVICES
    assert with_services != text + SERVICES
    (tmp_path / "reports.flow").write_text(with_services)
    shutil.copytree(ROOT / "examples" / "jobs", tmp_path / "jobs")
    (tmp_path / "jobs" / "web.py").write_text(WSGI_APP)
    yield tmp_path
    localcloud.stop(root_dir(tmp_path / ".flowc"))  # no orphan server if the test fails


@pytest.mark.slow
def test_up_edit_up_down_against_the_embedded_emulator(workspace):
    state = workspace / ".flowc"
    spec = load(workspace / "reports.flow", "prod")
    assert spec.ok
    app = spec.app
    region = app.settings["aws"].region

    # Compile where `up` will (so it finds the output up to date), and start the server
    # `up` will reuse, to put conflicting resources in its way.
    compile_app(app, ["aws"], stack_dir(state, app.stack_name))
    doc = json.loads((stack_dir(state, app.stack_name) / "aws" / TF_FILE).read_text())
    total = sum(len(bodies) for bodies in doc["resource"].values())
    cloud = localcloud.ensure(root_dir(state), environ={"LOCALSTACK_HOST": "127.0.0.1:1"})
    iam, kms = client("iam", cloud, region), client("kms", cloud, region)
    role = next(b["name"] for b in doc["resource"]["aws_iam_role"].values()
                if b["tags"]["task"] == "daily_report")
    (alias,) = [b["name"] for b in doc["resource"]["aws_kms_alias"].values()]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": "lambda.amazonaws.com"}}]}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    kms.create_alias(AliasName=alias, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])

    # 1. Terraform's errors come back as diagnostics that name the task.
    first = flowc("up", "reports.flow", "--env", "prod", cwd=workspace)
    assert first.returncode == 1
    assert "error[E604]" in first.stderr and "task `daily_report`" in first.stderr
    assert re.search(r"\n\d+ \| task daily_report \{", first.stderr), first.stderr
    assert "already exists" in first.stderr
    assert "error[E605]" in first.stderr and "aws_kms_alias" in first.stderr
    assert localcloud.recorded(root_dir(state)).pid == cloud.pid, "the server was reused"

    # 2. Remove the conflicts and edit another task: `up` creates only what is missing and
    #    changes the edited task's resources in place; nothing is destroyed or replaced.
    iam.delete_role(RoleName=role)
    kms.delete_alias(AliasName=alias)
    text = (workspace / "reports.flow").read_text()
    edited = text.replace('python   = "jobs.digest:main"',
                          'python   = "jobs.digest:main"\n  memory   = 1GB')
    assert edited != text
    (workspace / "reports.flow").write_text(edited)
    second = flowc("up", "reports.flow", "--env", "prod", cwd=workspace)
    assert second.returncode == 0
    add, change, destroy = plan_counts(second.stderr)
    assert 2 <= add < total and change >= 1 and destroy == 0
    done = re.findall(r"^\s+(\S) (\S+)\s+\((.+?)\)", second.stderr.split("Plan:")[1],
                      re.MULTILINE)
    assert len(done) == add + change, done
    changed = [(address, who) for mark, address, who in done if mark != "+"]
    assert {who for _, who in changed} == {"task digest"}, done
    assert any(a.startswith("aws_lambda_function.") for a, _ in changed), done
    assert "Applied to embedded AWS emulator" in second.stderr

    # 3. What the cloud holds, through boto3.
    scheduler = client("scheduler", cloud, region)
    got = []
    for item in scheduler.list_schedules()["Schedules"]:
        s = scheduler.get_schedule(Name=item["Name"], GroupName=item["GroupName"])
        got.append((s["ScheduleExpression"], s["ScheduleExpressionTimezone"], s))
    want = sorted((ts.expression, ts.timezone) for t in app.tasks_for("aws")
                  for ts in t.schedules_for("aws"))
    assert sorted((e, tz) for e, tz, _ in got) == want
    assert ("cron(0 9 ? * MON-FRI *)", "Europe/Berlin") in want  # SPEC: "Mon..Fri 09:00"
    daily = [s for e, _, s in got if e == "cron(0 9 ? * MON-FRI *)"]
    dlq_arn = daily[0]["Target"]["DeadLetterConfig"]["Arn"]
    sqs = client("sqs", cloud, region)
    dlq_url = sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[1])["QueueUrl"]
    assert "daily_report" in dlq_url
    secrets = client("secretsmanager", cloud, region).list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets if s["Name"].endswith("db_url")]
    lam = client("lambda", cloud, region)
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert len(functions) == len([w for w in (*app.tasks_for("aws"), *app.services_for("aws"))
                                  if w.handler.kind == "python"])
    assert "cron(0 9 ? * MON-FRI *)  Europe/Berlin" in second.stdout  # the table

    sizes = {f["FunctionName"]: f["MemorySize"] for f in lam.list_functions()["Functions"]}
    assert [size for name, size in sizes.items() if name.endswith("digest")] == [1024]

    # 3b. `flowc status`: per task, what the cloud holds (read back through boto3).
    shown = flowc("status", "reports.flow", "--env", "prod", cwd=workspace)
    assert shown.returncode == 0, shown.stderr
    tasks_table, services_table = shown.stdout.split("Services")
    rows = {line.split("│")[1].strip(): line for line in tasks_table.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    assert set(rows) == {t.name for t in app.tasks_for("aws")}
    assert "cron(0 9 ? * MON-FRI *) Europe/Berlin ENABLED" in rows["daily_report"]
    assert "live -> 1" in rows["daily_report"] and "versions 1" in rows["daily_report"]
    assert rows["daily_report"].rstrip("│ ").endswith("0")  # empty dead-letter queue
    assert re.search(r"│ api +│ traffic .*-api-blue 100, \S+-api-green 0", services_table)
    assert re.search(r"│ hello +│ http api .*execute-api", services_table), services_table

    # `flowc logs --deployed` reads the task's log group (moto runs no function, so the
    # test writes the line a run would have written).
    logs = client("logs", cloud, region)
    [group] = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]
               if "daily_report" in g["logGroupName"]]
    logs.create_log_stream(logGroupName=group, logStreamName="run-1")
    logs.put_log_events(logGroupName=group, logStreamName="run-1", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": "report sent to 3 people"}])
    deployed = flowc("logs", "reports.flow", "daily_report", "--deployed", "--env", "prod",
                     "--since", "1h", cwd=workspace)
    assert deployed.returncode == 0, deployed.stderr
    assert "daily_report run-1 | report sent to 3 people" in deployed.stdout

    # 3c. Nothing changed since: `up` reads the cloud back without running Terraform.
    events = stack_dir(state, app.stack_name) / "aws" / EVENTS_FILE
    events.unlink()
    same = flowc("up", "reports.flow", "--env", "prod", cwd=workspace)
    assert same.returncode == 0 and "No changes: nothing changed" in same.stderr
    assert not events.exists(), "terraform ran"
    assert "cron(0 9 ? * MON-FRI *)  Europe/Berlin" in same.stdout

    # 4. Plan before apply: an edit shows per task, exits 2, applies nothing; on a
    #     terminal `up` asks first, and "n" applies nothing either.
    (workspace / "reports.flow").write_text(edited.replace(
        '"jobs.digest:main"\n  memory   = 1GB', '"jobs.digest:main"\n  memory   = 2GB'))
    planned = flowc("up", "reports.flow", "--env", "prod", "--plan", cwd=workspace)
    assert planned.returncode == 2, planned.stderr
    owners = {line.split("│")[1].strip() for line in planned.stdout.splitlines()
              if line.startswith("│")} - {""}
    assert owners == {"task digest"}, planned.stdout
    assert "aws_lambda_function." in planned.stdout
    code, screen = on_terminal([FLOWC, "up", "reports.flow", "--env", "prod"], workspace, "n")
    assert code == 1 and "Apply these changes? [y/N]" in screen and "Nothing applied" in screen
    assert "task digest" in screen
    sizes = {f["FunctionName"]: f["MemorySize"] for f in lam.list_functions()["Functions"]}
    assert [size for name, size in sizes.items() if name.endswith("digest")] == [1024]

    # 5. Services: what a blue/green image service and a python service are in the cloud.
    elbv2, ecs = client("elbv2", cloud, region), client("ecs", cloud, region)
    [lb] = elbv2.describe_load_balancers()["LoadBalancers"]
    groups = {g["TargetGroupName"].rsplit("-", 1)[1]: g["TargetGroupArn"]
              for g in elbv2.describe_target_groups()["TargetGroups"]}
    assert set(groups) == {"blue", "green"}

    def weights() -> dict[str, int]:
        [listener] = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])[
            "Listeners"]
        [rule] = [r for r in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])[
            "Rules"] if not r["IsDefault"]]
        forward = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
        return {c: next(g["Weight"] for g in forward if g["TargetGroupArn"] == arn)
                for c, arn in groups.items()}

    def ecs_services() -> dict[str, str]:  # colour -> the task definition it runs
        [cluster] = ecs.list_clusters()["clusterArns"]
        found = ecs.describe_services(cluster=cluster, services=ecs.list_services(
            cluster=cluster)["serviceArns"])["services"]
        return {s["serviceName"].rsplit("-", 1)[1]: s["taskDefinition"] for s in found}

    assert weights() == {"blue": 100, "green": 0}
    first_release = ecs_services()
    assert set(first_release) == {"blue", "green"}
    scaling = client("application-autoscaling", cloud, region).describe_scalable_targets(
        ServiceNamespace="ecs")["ScalableTargets"]
    assert sorted((t["MinCapacity"], t["MaxCapacity"]) for t in scaling) == [(2, 4), (2, 4)]
    [api] = client("apigatewayv2", cloud, region).get_apis()["Items"]
    assert api["ProtocolType"] == "HTTP" and api["Name"].endswith("hello")

    # A second release goes to green, which then takes all traffic; blue is not touched.
    (workspace / "reports.flow").write_text(edited.replace("api:1.0", "api:1.1"))
    released = flowc("up", "reports.flow", "--env", "prod", cwd=workspace)
    assert released.returncode == 0, released.stderr
    assert plan_counts(released.stderr) == (1, 2, 1)  # green's task definition replaced
    assert weights() == {"blue": 0, "green": 100}
    second_release = ecs_services()
    assert second_release["blue"] == first_release["blue"]
    assert second_release["green"] != first_release["green"]

    # Rollback: only the rule's weights change; both ECS services run what they ran.
    back = flowc("rollback", "reports.flow", "api", "--env", "prod", cwd=workspace)
    assert back.returncode == 0, back.stderr
    assert ("Plan: 0 to add, 1 to change, 0 to destroy (aws_lb_listener_rule.svc_api_traffic)"
            in back.stdout + back.stderr)
    assert weights() == {"blue": 100, "green": 0}
    assert ecs_services() == second_release
    assert elbv2.describe_load_balancers()["LoadBalancers"] == [lb]

    # 6. down leaves nothing behind, then stops the server.
    kept = flowc("down", "reports.flow", "--env", "prod", "--keep-emulator", cwd=workspace)
    assert kept.returncode == 0
    assert localcloud.answers_moto(cloud.endpoint)
    assert scheduler.list_schedules()["Schedules"] == []
    assert [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]] == ["default"]
    assert lam.list_functions()["Functions"] == []
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert client("secretsmanager", cloud, region).list_secrets(
        IncludePlannedDeletion=True)["SecretList"] == []
    assert client("sns", cloud, region).list_topics()["Topics"] == []
    assert iam.list_roles()["Roles"] == []
    assert client("logs", cloud, region).describe_log_groups()["logGroups"] == []
    assert client("cloudwatch", cloud, region).describe_alarms()["MetricAlarms"] == []
    assert client("ecs", cloud, region).list_task_definitions()["taskDefinitionArns"] == []
    assert client("events", cloud, region).list_rules()["Rules"] == []
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert elbv2.describe_target_groups()["TargetGroups"] == []
    clusters = ecs.list_clusters()["clusterArns"]  # a deleted cluster is listed INACTIVE
    active = [c["clusterName"] for c in ecs.describe_clusters(clusters=clusters)["clusters"]
              if c["status"] != "INACTIVE"] if clusters else []
    assert active == []
    assert client("apigatewayv2", cloud, region).get_apis()["Items"] == []
    assert client("application-autoscaling", cloud, region).describe_scalable_targets(
        ServiceNamespace="ecs")["ScalableTargets"] == []
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    ours = [k for k in keys if k.get("Description", "").startswith("flowc")]
    # KMS keys cannot be deleted at once, on AWS or here: they wait out their window.
    assert ours and all(k["KeyState"] == "PendingDeletion" for k in ours), ours
    assert not stack_dir(state, app.stack_name).exists()

    last = flowc("down", "reports.flow", "--env", "prod", cwd=workspace)
    assert last.returncode == 0 and "stopped the embedded AWS emulator" in last.stderr
    assert not localcloud.is_running(cloud.pid)
    assert not localcloud.answers_moto(cloud.endpoint)
    assert localcloud.recorded(root_dir(state)) is None
