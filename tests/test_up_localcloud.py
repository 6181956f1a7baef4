"""`flowc up`'s local cloud: a detached moto server recorded under --state, reused, stopped;
LocalStack preferred when its health endpoint answers; E601 when the server cannot start."""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading

import boto3
import pytest

from flowc.deploy import localcloud, subnets


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "state" / "up"
    yield path
    localcloud.stop(path)  # never leave a server behind, even when a test fails


def test_embedded_server_is_detached_recorded_reused_and_stopped(root):
    cloud = localcloud.ensure(root, environ={"LOCALSTACK_HOST": "127.0.0.1:1"})
    assert cloud.kind == "moto" and cloud.started
    assert localcloud.is_running(cloud.pid)
    stat = open(f"/proc/{cloud.pid}/stat").read().rsplit(")", 1)[1].split()
    assert int(stat[1]) != os.getpid(), "the server must not be a child of flowc"
    record = json.loads((root / "cloud.json").read_text())
    assert record == {"kind": "moto", "endpoint": cloud.endpoint, "pid": cloud.pid,
                      "port": cloud.port}

    again = localcloud.ensure(root, environ={"LOCALSTACK_HOST": "127.0.0.1:1"})
    assert (again.pid, again.endpoint, again.started) == (cloud.pid, cloud.endpoint, False)

    # moto plus what it lacks for flowc's output: a scalable target's tags (services'
    # autoscaling), which the AWS provider reads back after every change
    def client(service: str):
        return boto3.client(service, endpoint_url=cloud.endpoint, region_name="eu-west-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    client("ecs").create_cluster(clusterName="shop")
    client("ecs").create_service(cluster="shop", serviceName="api", desiredCount=2)
    scaling = client("application-autoscaling")
    arn = scaling.register_scalable_target(
        ServiceNamespace="ecs", ResourceId="service/shop/api",
        ScalableDimension="ecs:service:DesiredCount", MinCapacity=2, MaxCapacity=4,
        Tags={"service": "api", "app": "shop"})["ScalableTargetARN"]
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {
        "service": "api", "app": "shop"}
    scaling.tag_resource(ResourceARN=arn, Tags={"team": "web"})
    scaling.untag_resource(ResourceARN=arn, TagKeys=["app"])
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {
        "service": "api", "team": "web"}
    # a policy put twice (a retried call) and deleted leaves none of its alarms behind
    policy = dict(PolicyName="cpu", ServiceNamespace="ecs", ResourceId="service/shop/api",
                  ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
                  TargetTrackingScalingPolicyConfiguration={
                      "TargetValue": 70.0, "PredefinedMetricSpecification": {
                          "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})
    scaling.put_scaling_policy(**policy)
    scaling.put_scaling_policy(**policy)
    assert len(client("cloudwatch").describe_alarms()["MetricAlarms"]) == 2  # high, low
    scaling.delete_scaling_policy(**{k: policy[k] for k in (
        "PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension")})
    assert client("cloudwatch").describe_alarms()["MetricAlarms"] == []

    # an environment's subnets the cloud lacks stand for its default ones, in two zones
    ec2 = client("ec2")
    [own] = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]
             if s["AvailabilityZone"] == "eu-west-1c" and s["DefaultForAz"]]
    doc = {"resource": {"aws_lb": {"lb": {"subnets": ["subnet-0abc", "subnet-0def", own]}}}}
    mapping = subnets.local_subnets(doc, lambda: ec2)
    assert set(mapping) == {"subnet-0abc", "subnet-0def"}  # the cloud's own is kept
    zones = {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets(
        SubnetIds=list(mapping.values()))["Subnets"]}
    assert sorted(zones.values()) == ["eu-west-1a", "eu-west-1b"]
    # ... and Step Functions' definition check (image tasks' guards), before each create
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    sfn = client("stepfunctions")
    assert sfn.validate_state_machine_definition(
        definition=definition, type="STANDARD")["result"] == "OK"
    machine = sfn.create_state_machine(name="guard", definition=definition,
                                       roleArn="arn:aws:iam::123456789012:role/guard")
    assert sfn.list_state_machine_versions(
        stateMachineArn=machine["stateMachineArn"])["stateMachineVersions"] == []

    stopped = localcloud.stop(root)
    assert stopped is not None and stopped.pid == cloud.pid
    assert not localcloud.is_running(cloud.pid)
    assert not _port_open(cloud.port)
    assert not (root / "cloud.json").exists()


def test_a_dead_server_is_replaced_on_its_old_port(root):
    first = localcloud.ensure(root, environ={})
    localcloud.terminate(first.pid)
    second = localcloud.ensure(root, environ={})
    assert second.started and second.pid != first.pid
    assert second.port == first.port  # endpoints in Terraform's state stay valid
    assert localcloud.answers_moto(second.endpoint)


def test_busy_port_is_E601_with_the_servers_log(root):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(localcloud.LocalCloudError) as err:
            localcloud.start_moto(root, port, timeout=20)
    d = err.value.diagnostic
    assert d.code == "E601"
    assert f"port {port}" in d.message and d.help
    assert any("moto:" in note for note in d.notes), d.notes
    assert localcloud.recorded(root) is None


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        ok = self.path == "/_localstack/health"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"services": {"sqs": "running"}} if ok else {}).encode())

    def log_message(self, *args):
        pass


def test_localstack_is_used_when_its_health_endpoint_answers(root):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        cloud = localcloud.ensure(root, environ={"LOCALSTACK_HOST": f"127.0.0.1:{port}"})
        assert (cloud.kind, cloud.endpoint, cloud.pid) == ("localstack",
                                                           f"http://127.0.0.1:{port}", None)
        assert not (root / localcloud.LOG_FILE).exists(), "no moto server was started"
        assert localcloud.recorded(root).kind == "localstack"
    finally:
        server.shutdown()
        server.server_close()
    assert localcloud.stop(root).kind == "localstack"  # forgets it, stops nothing
