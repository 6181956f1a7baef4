"""AWS target, services (SPEC §5). Mixed into the AWS builder (`flowc/targets/aws/build.py`).

An image service is an ECS Fargate service in the environment's subnets:
- with a port: behind its own Application Load Balancer (internal unless `public`; HTTPS
  with the environment's `aws { certificate_arn }` and HTTP redirected to it, else HTTP),
  a target group health-checking `health`, security groups that let the load balancer
  (only) reach the tasks on the port; `blue_green` and `canary` get two target groups
  (blue, green) each with its own ECS service, and a listener that forwards by weight
  (all to blue until a release moves it), so traffic moves without replacing a service;
- without a port (a worker): the ECS service alone, reachable by nothing;
- the deployment circuit breaker rolls a failed deployment back; Application Auto
  Scaling tracks `scale_on` (cpu or memory) between the `replicas` bounds;
- a KMS-encrypted log group, and CloudWatch alarms to an SNS topic for its alerts.
A python service is a Lambda function (flowc's adapter: Mangum for ASGI, a2wsgi for WSGI)
behind an API Gateway HTTP API (IAM-authorised unless `public`), with an access-logged
stage; each replica is worth LAMBDA_CONCURRENCY_PER_REPLICA concurrent requests.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from flowc.compiler.ir import Alert, ImageHandler, PythonHandler, Service
from flowc.targets.aws import TARGET as AWS
from flowc.targets.aws import iam
from flowc.targets.aws.alerts import COMPARATORS
from flowc.targets.aws.ecs import fargate_size
from flowc.targets.aws.lambda_function import LAMBDA_HANDLER_FILE, LAMBDA_RUNTIME
from flowc.targets.base import Resource, escape_literal, standard_tags
from flowc.targets.naming import DNS

LB_NAME_LIMIT = 32  # ALB and target group names
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTH = {"interval": 15, "timeout": 5, "healthy_threshold": 2, "unhealthy_threshold": 3,
          "matcher": "200-399"}
DEREGISTRATION_DELAY_S = 30
GRACE_S = 60
COOLDOWN_S = 60
LAMBDA_CONCURRENCY_PER_REPLICA = 10
LAMBDA_TIMEOUT_S = 29  # API Gateway HTTP APIs wait at most 30 s
SERVICE_HANDLER_FILE = "flowc_service_handler.py"
ALARM_PERIOD_S = 300
SCALE_METRICS = {"cpu": "ECSServiceAverageCPUUtilization",
                 "memory": "ECSServiceAverageMemoryUtilization"}
COLOURS = ("blue", "green")


def _asset(name: str) -> bytes:
    return resources.files("flowc.targets.aws.assets").joinpath(name).read_bytes()


def adapter_requirements() -> Path:
    return Path(str(resources.files("flowc.targets.aws.assets").joinpath(
        "lambda_service_requirements.txt")))


class ServiceParts:
    # -- shared -------------------------------------------------------------------------

    def service_tags(self, service: Service) -> dict[str, str]:
        return {**standard_tags(self.app), "service": service.name}

    def services(self, services: tuple[Service, ...]) -> None:
        if any(isinstance(s.handler, ImageHandler) for s in services):
            subnet = self.stack.data("aws_subnet", "service_subnet",
                                     {"id": AWS.settings_of(self.app).subnets[0]})
            self.vpc_id = subnet.ref("vpc_id")
            self.vpc = self.stack.data("aws_vpc", "service_vpc", {"id": self.vpc_id})
        for service in services:
            if isinstance(service.handler, PythonHandler):
                self.lambda_service(service, service.handler)
            else:
                self.ecs_service(service, service.handler)

    def service_role(self, service: Service, what: str, principal: str,
                     statements: list[dict[str, Any]]) -> Resource:
        rid = f"svc_{service.name}_{what}"
        role = self.stack.resource("aws_iam_role", f"{rid}_role", {
            "name": self.names.name(service.name, what, kind="iam_role"),
            "description": f"flowc {what} role of service `{service.name}`",
            "assume_role_policy": iam.assume_role(principal),
            "tags": self.service_tags(service),
        })
        if statements:
            self.stack.resource("aws_iam_role_policy", f"{rid}_policy", {
                "name": self.names.name(service.name, what, kind="iam_policy"),
                "role": role.ref("id"),
                "policy": iam.document(statements),
            })
        return role

    def service_logs(self, service: Service, name: str) -> Resource:
        return self.stack.resource("aws_cloudwatch_log_group", f"svc_{service.name}_logs", {
            "name": name, "retention_in_days": 365, "kms_key_id": self.key.ref("arn"),
            "tags": self.service_tags(service),
        })

    def service_secret_statements(self, service: Service) -> list[dict[str, Any]]:
        arns = [self.secrets[name].ref("arn") for name in service.secrets]
        return [iam.allow("ReadOwnSecrets", ["secretsmanager:GetSecretValue"], arns)] if arns \
            else []

    # -- image services: ECS Fargate behind an ALB ----------------------------------------

    def ecs_service(self, service: Service, handler: ImageHandler) -> None:
        s, name = self.stack, service.name
        family = self.names.name(name, kind="ecs_family")
        logs = self.service_logs(service, f"/ecs/{family}")
        secrets = self.service_secret_statements(service)
        exec_role = self.service_role(service, "execution", "ecs-tasks.amazonaws.com", [
            iam.allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                      [logs.ref("arn") + ":*"]),
            *iam.ecr_pull(handler.image),
            *([iam.allow("DecryptSecrets", ["kms:Decrypt"], [self.key.ref("arn")])]
              if secrets else []),
            *secrets,
        ])
        task_role = self.service_role(service, "task", "ecs-tasks.amazonaws.com", [])
        cpu, memory = fargate_size(service.cpu, service.memory_mib)
        own = {"FLOWC_SERVICE": name}
        if service.port is not None:
            own["PORT"] = str(service.port)
        container = self.ecs_container(service, handler, logs, own, "service")
        if handler.command:
            container["command"] = [escape_literal(c) for c in handler.command]
        if service.port is not None:
            container["portMappings"] = [{"containerPort": service.port, "protocol": "tcp"}]
        definition = s.resource("aws_ecs_task_definition", f"svc_{name}_task", {
            "family": family,
            "requires_compatibilities": ["FARGATE"],
            "network_mode": "awsvpc",
            "cpu": str(cpu),
            "memory": str(memory),
            "execution_role_arn": exec_role.ref("arn"),
            "task_role_arn": task_role.ref("arn"),
            "runtime_platform": [{"operating_system_family": "LINUX",
                                  "cpu_architecture": "X86_64"}],
            "container_definitions": json.dumps([container], sort_keys=True),
            "tags": self.service_tags(service),
        })
        task_sg = self.task_security_group(service)
        colours = (COLOURS if service.release.strategy in ("blue_green", "canary")
                   and service.port is not None else ("",))
        groups = {c: self.target_group(service, c) for c in colours} if service.port else {}
        lb, listener = self.load_balancer(service, groups) if groups else (None, None)
        ecs = {c: self.one_ecs_service(service, c, definition, task_sg, groups.get(c), listener)
               for c in colours}
        live = ecs[colours[0]]
        if service.scaling.autoscaled:
            self.autoscaling(service, live)
        s.output(f"{name}_ecs_service", live.ref("name"), f"ECS service of `{name}`")
        if service.alerts:
            self.service_alarms(service, live, groups.get(colours[0]), lb)

    def task_security_group(self, service: Service) -> Resource:
        body: dict[str, Any] = {
            "name": self.names.name(service.name, "tasks", kind="security_group"),
            "description": f"flowc service {service.name}: its tasks",
            "vpc_id": self.vpc_id,
            "egress": [{"description": "HTTPS out (images, AWS APIs, dependencies)",
                        "from_port": 443, "to_port": 443, "protocol": "tcp",
                        "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [],
                        "prefix_list_ids": [], "security_groups": [], "self": False}],
            "tags": self.service_tags(service),
        }  # fmt: skip
        if service.is_worker:
            body["ingress"] = []  # a worker accepts no connection
        return self.stack.resource("aws_security_group", f"svc_{service.name}_task_sg", body)

    def target_group(self, service: Service, colour: str) -> Resource:
        suffix = f"_{colour}" if colour else ""
        return self.stack.resource("aws_lb_target_group", f"svc_{service.name}_tg{suffix}", {
            "name": self.names.name(service.name, colour, style=DNS, limit=LB_NAME_LIMIT,
                                    kind="target_group"),
            "port": service.port,
            "protocol": "HTTP",
            "target_type": "ip",
            "vpc_id": self.vpc_id,
            "deregistration_delay": str(DEREGISTRATION_DELAY_S),
            "health_check": [{"enabled": True, "path": service.health or "/",
                              "protocol": "HTTP", "port": "traffic-port", **HEALTH}],
            "tags": self.service_tags(service),
        })

    def load_balancer(self, service: Service,
                      groups: dict[str, Resource]) -> tuple[Resource, Resource]:
        """The service's ALB and the listener forwarding to its target group(s)."""
        s, name = self.stack, service.name
        https = AWS.settings_of(self.app).certificate_arn is not None
        front = 443 if https else 80
        source = ["0.0.0.0/0"] if service.public else [self.vpc.ref("cidr_block")]
        ingress = [{"description": f"clients, port {port}", "from_port": port, "to_port": port,
                    "protocol": "tcp", "cidr_blocks": source, "ipv6_cidr_blocks": [],
                    "prefix_list_ids": [], "security_groups": [], "self": False}
                   for port in sorted({front, 80})]
        lb_sg = s.resource("aws_security_group", f"svc_{name}_lb_sg", {
            "name": self.names.name(name, "lb", kind="security_group"),
            "description": f"flowc service {name}: its load balancer",
            "vpc_id": self.vpc_id,
            "ingress": ingress,
            "egress": [{"description": "to the service's tasks", "from_port": service.port,
                        "to_port": service.port, "protocol": "tcp",
                        "cidr_blocks": [self.vpc.ref("cidr_block")], "ipv6_cidr_blocks": [],
                        "prefix_list_ids": [], "security_groups": [], "self": False}],
            "tags": self.service_tags(service),
        })  # fmt: skip
        s.resource("aws_vpc_security_group_ingress_rule", f"svc_{name}_from_lb", {
            "security_group_id": f"${{aws_security_group.svc_{name}_task_sg.id}}",
            "referenced_security_group_id": lb_sg.ref("id"),
            "from_port": service.port, "to_port": service.port, "ip_protocol": "tcp",
            "description": "from the service's load balancer only",
        })  # fmt: skip
        lb = s.resource("aws_lb", f"svc_{name}_lb", {
            "name": self.names.name(name, style=DNS, limit=LB_NAME_LIMIT, kind="lb"),
            "internal": not service.public,
            "load_balancer_type": "application",
            "security_groups": [lb_sg.ref("id")],
            "subnets": list(AWS.settings_of(self.app).subnets),
            "drop_invalid_header_fields": True,
            "enable_deletion_protection": False,
            "tags": self.service_tags(service),
        })
        weights = [{"arn": g.ref("arn"), "weight": 100 if n == 0 else 0}
                   for n, g in enumerate(groups.values())]
        forward = {"type": "forward", "forward": [{
            "target_group": weights, "stickiness": [{"enabled": False, "duration": 1}]}]}
        listener_body: dict[str, Any] = {
            "load_balancer_arn": lb.ref("arn"), "port": front,
            "protocol": "HTTPS" if https else "HTTP", "default_action": [forward],
            "tags": self.service_tags(service),
        }
        if https:
            listener_body.update(ssl_policy=SSL_POLICY,
                                 certificate_arn=escape_literal(AWS.settings_of(self.app).certificate_arn))
            s.resource("aws_lb_listener", f"svc_{name}_http_redirect", {
                "load_balancer_arn": lb.ref("arn"), "port": 80, "protocol": "HTTP",
                "default_action": [{"type": "redirect", "redirect": [{
                    "port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}]}],
                "tags": self.service_tags(service),
            })  # fmt: skip
        listener = s.resource("aws_lb_listener", f"svc_{name}_listener", listener_body)
        scheme = "https" if https else "http"
        s.output(f"{name}_url", f"{scheme}://{lb.ref('dns_name')}",
                 f"URL of service `{name}` (its load balancer)")
        return lb, listener

    def one_ecs_service(self, service: Service, colour: str, definition: Resource,
                        task_sg: Resource, group: Resource | None,
                        listener: Resource | None) -> Resource:
        suffix = f"_{colour}" if colour else ""
        network: dict[str, Any] = {
            "subnets": list(AWS.settings_of(self.app).subnets),
            "security_groups": [task_sg.ref("id"), *AWS.settings_of(self.app).security_groups],
            "assign_public_ip": False,
        }
        body: dict[str, Any] = {
            "name": self.names.name(service.name, colour, kind="ecs_service"),
            "cluster": self.cluster.ref("id"),
            "task_definition": definition.ref("arn"),
            # the idle colour of a blue/green pair runs nothing until a release uses it
            "desired_count": 0 if colour == COLOURS[1] else service.scaling.min_replicas,
            "launch_type": "FARGATE",
            "platform_version": "LATEST",
            "network_configuration": [network],
            "deployment_minimum_healthy_percent": 100,
            "deployment_maximum_percent": 200,
            "deployment_circuit_breaker": [{"enable": True, "rollback": True}],
            "enable_ecs_managed_tags": True,
            "propagate_tags": "SERVICE",
            "tags": self.service_tags(service),
        }
        if group is not None:
            body["load_balancer"] = [{"target_group_arn": group.ref("arn"),
                                      "container_name": service.name,
                                      "container_port": service.port}]
            body["health_check_grace_period_seconds"] = GRACE_S
            body["depends_on"] = [listener.address]
        if service.scaling.autoscaled and colour != COLOURS[1]:
            body["lifecycle"] = {"ignore_changes": ["desired_count"]}  # the scaler owns it
        return self.stack.resource("aws_ecs_service", f"svc_{service.name}{suffix}", body)

    def autoscaling(self, service: Service, ecs: Resource) -> None:
        scaling = service.scaling
        resource_id = f"service/{self.cluster.ref('name')}/{ecs.ref('name')}"
        target = self.stack.resource("aws_appautoscaling_target", f"svc_{service.name}_scaling", {
            "service_namespace": "ecs",
            "resource_id": resource_id,
            "scalable_dimension": "ecs:service:DesiredCount",
            "min_capacity": scaling.min_replicas,
            "max_capacity": scaling.max_replicas,
            "tags": self.service_tags(service),
        })
        self.stack.resource("aws_appautoscaling_policy", f"svc_{service.name}_scale_policy", {
            "name": self.names.name(service.name, scaling.metric, kind="scaling_policy"),
            "policy_type": "TargetTrackingScaling",
            "service_namespace": target.ref("service_namespace"),
            "resource_id": target.ref("resource_id"),
            "scalable_dimension": target.ref("scalable_dimension"),
            "target_tracking_scaling_policy_configuration": [{
                "target_value": scaling.target_percent,
                "scale_in_cooldown": COOLDOWN_S,
                "scale_out_cooldown": COOLDOWN_S,
                "predefined_metric_specification": [{
                    "predefined_metric_type": SCALE_METRICS[scaling.metric]}],
            }],
        })  # fmt: skip

    # -- python services: Lambda behind an HTTP API ---------------------------------------

    def lambda_service(self, service: Service, handler: PythonHandler) -> None:
        s, name = self.stack, service.name
        fn_name = self.names.name(name, kind="lambda")
        logs = self.service_logs(service, f"/aws/lambda/{fn_name}")
        role = self.service_role(service, "lambda", "lambda.amazonaws.com", [
            iam.allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                      [logs.ref("arn") + ":*"]),
            iam.allow("WriteTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                      ["*"]),
            iam.allow("DecryptWithAppKey", ["kms:Decrypt"], [self.key.ref("arn")]),
            *self.service_secret_statements(service),
        ])
        asset = s.code_asset(service, extra={
            LAMBDA_HANDLER_FILE: _asset("lambda_handler.py"),
            SERVICE_HANDLER_FILE: _asset("lambda_service_handler.py"),
        }, layers=False, vendor_extra=(adapter_requirements(),))
        variables = self.lambda_variables(service, {"FLOWC_ENTRYPOINT": handler.entrypoint,
                                                    "FLOWC_SERVICE": name})
        body: dict[str, Any] = {
            "function_name": fn_name,
            "description": escape_literal(service.description or f"flowc service {name}"),
            "role": role.ref("arn"),
            "runtime": LAMBDA_RUNTIME,
            "handler": SERVICE_HANDLER_FILE.removesuffix(".py") + ".handler",
            "architectures": ["x86_64"],
            "memory_size": service.memory_mib,
            "timeout": LAMBDA_TIMEOUT_S,
            "reserved_concurrent_executions":
                service.scaling.max_replicas * LAMBDA_CONCURRENCY_PER_REPLICA,
            "kms_key_arn": self.key.ref("arn"),
            "environment": [{"variables": dict(sorted(variables.items()))}],
            "tracing_config": [{"mode": "Active"}],
            "logging_config": [{"log_format": "Text", "log_group": logs.ref("name")}],
            "depends_on": [f"aws_iam_role_policy.svc_{name}_lambda_policy"],
            "tags": self.service_tags(service),
        }  # fmt: skip
        if asset is not None:
            body.update(self.package_args(asset))
        fn = s.resource("aws_lambda_function", f"svc_{name}_function", body)
        api = s.resource("aws_apigatewayv2_api", f"svc_{name}_api", {
            "name": self.names.name(name, kind="http_api"),
            "protocol_type": "HTTP",
            "description": f"flowc service {name}",
            "tags": self.service_tags(service),
        })
        integration = s.resource("aws_apigatewayv2_integration", f"svc_{name}_integration", {
            "api_id": api.ref("id"),
            "integration_type": "AWS_PROXY",
            "integration_uri": fn.ref("invoke_arn"),
            "payload_format_version": "2.0",
        })
        s.resource("aws_apigatewayv2_route", f"svc_{name}_route", {
            "api_id": api.ref("id"),
            "route_key": "$default",
            "target": f"integrations/{integration.ref('id')}",
            "authorization_type": "NONE" if service.public else "AWS_IAM",
        })
        access_logs = s.resource("aws_cloudwatch_log_group", f"svc_{name}_api_logs", {
            "name": f"/aws/apigateway/{self.names.name(name, kind='http_api_logs')}",
            "retention_in_days": 365, "kms_key_id": self.key.ref("arn"),
            "tags": self.service_tags(service),
        })
        s.resource("aws_apigatewayv2_stage", f"svc_{name}_stage", {
            "api_id": api.ref("id"),
            "name": "$default",
            "auto_deploy": True,
            "access_log_settings": [{"destination_arn": access_logs.ref("arn"), "format":
                json.dumps({"requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                            "method": "$context.httpMethod", "path": "$context.path",
                            "status": "$context.status",
                            "latency": "$context.responseLatency"}, sort_keys=True)}],
            "tags": self.service_tags(service),
        })  # fmt: skip
        s.resource("aws_lambda_permission", f"svc_{name}_invoke", {
            "statement_id": "AllowHttpApi",
            "action": "lambda:InvokeFunction",
            "function_name": fn.ref("function_name"),
            "principal": "apigateway.amazonaws.com",
            "source_arn": f"{api.ref('execution_arn')}/*",
        })
        s.output(f"{name}_url", api.ref("api_endpoint"), f"URL of service `{name}` (HTTP API)")
        if service.alerts:
            self.service_alarms(service, None, None, None, api)

    # -- alarms ---------------------------------------------------------------------------

    def service_alarms(self, service: Service, ecs: Resource | None, group: Resource | None,
                       lb: Resource | None, api: Resource | None = None) -> None:
        s, name = self.stack, service.name
        topic = s.resource("aws_sns_topic", f"svc_{name}_alerts", {
            "name": self.names.name(name, "alerts", kind="sns"),
            "kms_master_key_id": self.key.ref("arn"),
            "tags": self.service_tags(service),
        })
        s.output(f"{name}_alerts_topic_arn", topic.ref("arn"),
                 f"SNS topic of service `{name}`'s alerts")
        for k, email in enumerate(sorted({e for a in service.alerts for e in a.notify})):
            s.resource("aws_sns_topic_subscription", f"svc_{name}_alert_email_{k}", {
                "topic_arn": topic.ref("arn"), "protocol": "email",
                "endpoint": escape_literal(email)})
        for j, alert in enumerate(service.alerts):
            metric = (self.api_metric(alert, api) if api is not None
                      else self.ecs_metric(alert, ecs, group, lb))
            if metric is None:
                continue
            s.resource("aws_cloudwatch_metric_alarm", f"svc_{name}_alarm_{j}", {
                "alarm_name": self.names.name(name, alert.metric, str(j), kind="alarm"),
                "alarm_description": f"flowc service {name}: {alert.metric} "
                                     f"{alert.comparator} {alert.threshold:g}",
                "comparison_operator": COMPARATORS[alert.comparator],
                "evaluation_periods": 1,
                "treat_missing_data": "notBreaching",
                "alarm_actions": [topic.ref("arn")],
                "ok_actions": [topic.ref("arn")],
                **metric,
                "tags": self.service_tags(service),
            })  # fmt: skip

    def ecs_metric(self, alert: Alert, ecs: Resource | None, group: Resource | None,
                   lb: Resource | None) -> dict[str, Any] | None:
        if alert.metric in ("cpu", "memory"):
            return {"namespace": "AWS/ECS", "period": ALARM_PERIOD_S, "statistic": "Average",
                    "metric_name": "CPUUtilization" if alert.metric == "cpu"
                    else "MemoryUtilization", "threshold": alert.threshold,
                    "dimensions": {"ClusterName": self.cluster.ref("name"),
                                   "ServiceName": ecs.ref("name")}}
        if group is None or lb is None:
            return None
        dims = {"LoadBalancer": lb.ref("arn_suffix"), "TargetGroup": group.ref("arn_suffix")}
        if alert.metric == "unhealthy":
            return {"namespace": "AWS/ApplicationELB", "metric_name": "UnHealthyHostCount",
                    "statistic": "Maximum", "period": 60, "threshold": alert.threshold,
                    "dimensions": dims}
        if alert.metric == "latency_p95":
            return {"namespace": "AWS/ApplicationELB", "metric_name": "TargetResponseTime",
                    "extended_statistic": "p95", "period": ALARM_PERIOD_S,
                    "threshold": alert.threshold, "dimensions": dims}
        return _error_rate(alert, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count",
                           "RequestCount", dims)

    def api_metric(self, alert: Alert, api: Resource) -> dict[str, Any] | None:
        dims = {"ApiId": api.ref("id")}
        if alert.metric == "latency_p95":
            return {"namespace": "AWS/ApiGateway", "metric_name": "Latency",
                    "extended_statistic": "p95", "period": ALARM_PERIOD_S,
                    "threshold": alert.threshold * 1000, "dimensions": dims}  # ms
        if alert.metric == "error_rate":
            return _error_rate(alert, "AWS/ApiGateway", "5xx", "Count", dims)
        return None  # no replicas to be unhealthy, no cpu/memory metric (service_limits)


def _error_rate(alert: Alert, namespace: str, errors: str, requests: str,
                dims: dict[str, str]) -> dict[str, Any]:
    """Percent of requests answered 5xx over the period, as CloudWatch metric math."""
    def stat(rid: str, metric: str) -> dict[str, Any]:
        return {"id": rid, "return_data": False, "metric": [{
            "namespace": namespace, "metric_name": metric, "period": ALARM_PERIOD_S,
            "stat": "Sum", "dimensions": dims}]}

    return {"threshold": alert.threshold, "metric_query": [
        stat("errors", errors), stat("requests", requests),
        {"id": "rate", "label": "5xx share (%)", "return_data": True,
         "expression": "IF(requests > 0, 100 * errors / requests, 0)"}]}
