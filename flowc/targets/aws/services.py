"""AWS target, services (SPEC §5).
Plain functions of an `AwsContext` (`flowc/targets/aws/context.py`), called by `build.py`.

An image service is an ECS Fargate service in the environment's subnets:
- with a port: behind its own Application Load Balancer (internal unless `public`; HTTPS
  with the environment's `aws { certificate_arn }` and HTTP redirected to it, else HTTP),
  a target group health-checking `health`, security groups that let the load balancer
  (only) reach the tasks on the port; `blue_green` and `canary` get two colours (blue,
  green; flowc/releases/colours.py), each with its own task definition, ECS service
  (waiting for a steady state) and target group, and a listener rule that forwards to
  both by weight once they are steady: a release replaces the task definition of the
  colour not live and moves the weights, a rollback moves only the weights;
- without a port (a worker): the ECS service alone, reachable by nothing;
- the deployment circuit breaker rolls a failed deployment back; Application Auto
  Scaling tracks `scale_on` (cpu or memory) between the `replicas` bounds;
- a KMS-encrypted log group, and CloudWatch alarms to an SNS topic for its alerts.
A python service is a Lambda function (flowc's adapter: Mangum for ASGI, a2wsgi for WSGI)
behind an API Gateway HTTP API (IAM-authorised unless `public`), with an access-logged
stage; each replica is worth LAMBDA_CONCURRENCY_PER_REPLICA concurrent requests. Its
versions are published and the API invokes the alias `live`, released as python tasks
are (flowc/targets/aws/release.py): `canary` weights the alias, `blue_green` switches it.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

from flowc.compiler.ir import Alert, ImageHandler, PythonHandler, Service
from flowc.diagnostics import Diagnostic
from flowc.releases.colours import (
    COLOURS,
    DEFINITION_TAG,
    Rollout,
    decide,
    definition_hash,
    has_colours,
)
from flowc.targets.aws import TARGET as AWS
from flowc.targets.aws import iam
from flowc.targets.aws.alerts import COMPARATORS
from flowc.targets.aws.context import AwsContext
from flowc.targets.aws.ecs import ecs_container, fargate_size, task_definition
from flowc.targets.aws.lambda_function import (
    LAMBDA_RUNTIME,
    handler_files,
    lambda_variables,
)
from flowc.targets.aws.release import RELEASE_TAG, Aliased, add_alias, package_args
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
TRAFFIC_RULE_PRIORITY = 1  # the weighted rule before the listener's default action


def _asset(name: str) -> bytes:
    return resources.files("flowc.targets.aws.assets").joinpath(name).read_bytes()


def adapter_requirements() -> Path:
    return Path(str(resources.files("flowc.targets.aws.assets").joinpath(
        "lambda_service_requirements.txt")))


# -- shared -------------------------------------------------------------------------


def service_tags(ctx: AwsContext, service: Service) -> dict[str, str]:
    return {**standard_tags(ctx.app), "service": service.name}


def add_services(ctx: AwsContext, services: tuple[Service, ...]) -> None:
    if any(isinstance(s.handler, ImageHandler) for s in services):
        given = AWS.settings_of(ctx.app).subnets
        if given:
            subnet = ctx.stack.data("aws_subnet", "service_subnet", {"id": given[0]})
            ctx.vpc_id = subnet.ref("vpc_id")
            ctx.vpc = ctx.stack.data("aws_vpc", "service_vpc", {"id": ctx.vpc_id})
            ctx.service_subnets = list(given)
        else:  # W403: the default VPC's subnets, a public IP to pull the image
            ctx.vpc = ctx.default_vpc()
            ctx.vpc_id = ctx.vpc.ref("id")
            ctx.service_subnets = ctx.default_subnets()
    for service in services:
        if isinstance(service.handler, PythonHandler):
            add_lambda_service(ctx, service, service.handler)
        else:
            add_ecs_service(ctx, service, service.handler)


def service_role(ctx: AwsContext, service: Service, what: str, principal: str,
                 statements: list[dict[str, Any]]) -> Resource:
    rid = f"svc_{service.name}_{what}"
    role = ctx.stack.resource("aws_iam_role", f"{rid}_role", {
        "name": ctx.names.name(service.name, what, kind="iam_role"),
        "description": f"flowc {what} role of service `{service.name}`",
        "assume_role_policy": iam.assume_role(principal),
        "tags": service_tags(ctx, service),
    })
    if statements:
        ctx.stack.resource("aws_iam_role_policy", f"{rid}_policy", {
            "name": ctx.names.name(service.name, what, kind="iam_policy"),
            "role": role.ref("id"),
            "policy": iam.document(statements),
        })
    return role


def service_logs(ctx: AwsContext, service: Service, name: str) -> Resource:
    return ctx.stack.resource("aws_cloudwatch_log_group", f"svc_{service.name}_logs", {
        "name": name, "retention_in_days": 365, "kms_key_id": ctx.key.ref("arn"),
        "tags": service_tags(ctx, service),
    })


def service_secret_statements(ctx: AwsContext, service: Service) -> list[dict[str, Any]]:
    arns = [ctx.secrets[name].ref("arn") for name in service.secrets]
    return [iam.allow("ReadOwnSecrets", ["secretsmanager:GetSecretValue"], arns)] if arns \
        else []


# -- image services: ECS Fargate behind an ALB ----------------------------------------


def add_ecs_service(ctx: AwsContext, service: Service, handler: ImageHandler) -> None:
    s, name = ctx.stack, service.name
    family = ctx.names.name(name, kind="ecs_family")
    logs = service_logs(ctx, service, f"/ecs/{family}")
    secrets = service_secret_statements(ctx, service)
    exec_role = service_role(ctx, service, "execution", "ecs-tasks.amazonaws.com", [
        iam.allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                  [logs.ref("arn") + ":*"]),
        *iam.ecr_pull(handler.image),
        *([iam.allow("DecryptSecrets", ["kms:Decrypt"], [ctx.key.ref("arn")])]
          if secrets else []),
        *secrets,
    ])
    task_role = service_role(ctx, service, "task", "ecs-tasks.amazonaws.com", [])
    cpu, memory = fargate_size(service.cpu, service.memory_mib)
    own = {"FLOWC_SERVICE": name}
    if service.port is not None:
        own["PORT"] = str(service.port)
    container = ecs_container(ctx, service, handler, logs, own, "service")
    if handler.command:
        container["command"] = [escape_literal(c) for c in handler.command]
    if service.port is not None:
        container["portMappings"] = [{"containerPort": service.port, "protocol": "tcp"}]
    body = task_definition(family, (cpu, memory), exec_role, task_role, container,
                           service_tags(ctx, service))
    task_sg = add_task_security_group(ctx, service)
    if has_colours(service):
        add_colours(ctx, service, body, task_sg)
        return
    definition = s.resource("aws_ecs_task_definition", f"svc_{name}_task", body)
    group = add_target_group(ctx, service, "") if service.port else None
    lb, listener = add_load_balancer(ctx, service, {"": group}) if group else (None, None)
    ecs = add_one_ecs_service(ctx, service, "", definition, task_sg, group, listener)
    if service.scaling.autoscaled:
        add_autoscaling(ctx, service, ecs)
    s.output(f"{name}_ecs_service", ecs.ref("name"), f"ECS service of `{name}`")
    if service.alerts:
        add_service_alarms(ctx, service, {"": (ecs, group)}, lb)


def add_colours(ctx: AwsContext, service: Service, body: dict[str, Any],
                task_sg: Resource) -> None:
    """Blue and green (see module doc): what each runs and the weights come from the
    release log's history of the service (`colours.decide`)."""
    s, name = ctx.stack, service.name
    current = definition_hash(body)
    body["tags"] = {**body["tags"], DEFINITION_TAG: current}
    history = ctx.stack.history_of(service)
    rollout = decide(service.release.strategy, service.release.canary_percent,
                     service.release.canary_for_s, current, history)
    if history is not None:  # the log keeps what it emits
        history.definitions.setdefault(current, copy.deepcopy(body))
    if rollout.note is not None:
        warn_rolls_in_place(ctx, service, rollout)
    groups = {c: add_target_group(ctx, service, c) for c in COLOURS}
    lb, listener = add_load_balancer(ctx, service, groups)
    ecs = {}
    for colour in COLOURS:
        wanted = rollout.definitions[colour]
        kept = body if wanted == current else copy.deepcopy(history.definitions[wanted])
        definition = s.resource("aws_ecs_task_definition", f"svc_{name}_task_{colour}", kept)
        ecs[colour] = add_one_ecs_service(ctx, service, colour, definition, task_sg,
                                          groups[colour], listener)
        if service.scaling.autoscaled:
            add_autoscaling(ctx, service, ecs[colour], colour)
    add_traffic_rule(ctx, service, listener, groups, ecs, rollout)
    for colour in COLOURS:  # both, whichever is live: a rollback changes no output
        s.output(f"{name}_ecs_service" + ("" if colour == COLOURS[0] else f"_{colour}"),
                 ecs[colour].ref("name"), f"ECS service of `{name}`, {colour}")
    if service.alerts:
        add_service_alarms(ctx, service, {c: (ecs[c], groups[c]) for c in COLOURS}, lb)


def warn_rolls_in_place(ctx: AwsContext, service: Service, rollout: Rollout) -> None:
    why = ("flowc has seen no deployed colour of it here (no local Terraform state)"
           if rollout.note == "no_state" else
           "the release log no longer has the task definition its live colour runs")
    ctx.stack.diagnostics.append(Diagnostic(
        "W711", f"service `{service.name}` is released {service.release.strategy}, but "
        f"{why}, so both colours get this task definition and roll in place",
        service.span, "keep the Terraform state local and `.flowc/releases/` with it "
        "(`flowc up`, or `terraform apply` in the compiled aws directory); see "
        "docs/releases.md", target="aws"))


def add_traffic_rule(ctx: AwsContext, service: Service, listener: Resource,
                     groups: dict[str, Resource], ecs: dict[str, Resource],
                     rollout: Rollout) -> Resource:
    """Every request, forwarded to the colours by weight, once both ECS services are
    steady (the listener's own default action only attaches the target groups)."""
    return ctx.stack.resource("aws_lb_listener_rule", f"svc_{service.name}_traffic", {
        "listener_arn": listener.ref("arn"),
        "priority": TRAFFIC_RULE_PRIORITY,
        "action": [_forward(groups, rollout.weights)],
        "condition": [{"path_pattern": [{"values": ["/*"]}]}],
        "depends_on": [e.address for e in ecs.values()],
        "tags": service_tags(ctx, service),
    })


def pin_weights(doc: dict[str, Any], service: str, colour: str
                ) -> tuple[dict[str, Any], str]:
    """A compiled cdk.tf.json whose traffic rule for `service` sends everything to `colour`
    (in place; `flowc rollback`). Returns (doc, the weights before, in words); nothing else
    changes, so Terraform plans one change. KeyError if the document has no such rule."""
    rule = doc["resource"]["aws_lb_listener_rule"][f"svc_{service}_traffic"]
    groups = rule["action"][0]["forward"][0]["target_group"]
    before = []
    for group in groups:
        name = str(group["arn"]).split(".")[1]  # ${aws_lb_target_group.svc_<s>_tg_<c>.arn}
        own = name.rpartition("_")[2]
        before.append(f"{own} {group['weight']}")
        group["weight"] = 100 if own == colour else 0
    return doc, "/".join(before)


def _forward(groups: dict[str, Resource], weights: dict[str, int]) -> dict[str, Any]:
    return {"type": "forward", "forward": [{
        "target_group": [{"arn": g.ref("arn"), "weight": weights[c]}
                         for c, g in groups.items()],
        "stickiness": [{"enabled": False, "duration": 1}]}]}


def add_task_security_group(ctx: AwsContext, service: Service) -> Resource:
    body: dict[str, Any] = {
        "name": ctx.names.name(service.name, "tasks", kind="security_group"),
        "description": f"flowc service {service.name}: its tasks",
        "vpc_id": ctx.vpc_id,
        "egress": [{"description": "HTTPS out (images, AWS APIs, dependencies)",
                    "from_port": 443, "to_port": 443, "protocol": "tcp",
                    "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [],
                    "prefix_list_ids": [], "security_groups": [], "self": False}],
        "tags": service_tags(ctx, service),
    }  # fmt: skip
    if service.is_worker:
        body["ingress"] = []  # a worker accepts no connection
    return ctx.stack.resource("aws_security_group", f"svc_{service.name}_task_sg", body)


def add_target_group(ctx: AwsContext, service: Service, colour: str) -> Resource:
    suffix = f"_{colour}" if colour else ""
    return ctx.stack.resource("aws_lb_target_group", f"svc_{service.name}_tg{suffix}", {
        "name": ctx.names.name(service.name, colour, style=DNS, limit=LB_NAME_LIMIT,
                               kind="target_group"),
        "port": service.port,
        "protocol": "HTTP",
        "target_type": "ip",
        "vpc_id": ctx.vpc_id,
        "deregistration_delay": str(DEREGISTRATION_DELAY_S),
        "health_check": [{"enabled": True, "path": service.health or "/",
                          "protocol": "HTTP", "port": "traffic-port", **HEALTH}],
        "tags": service_tags(ctx, service),
    })


def add_load_balancer(ctx: AwsContext, service: Service,
                      groups: dict[str, Resource]) -> tuple[Resource, Resource]:
    """The service's ALB and the listener forwarding to its target group(s)."""
    s, name = ctx.stack, service.name
    https = AWS.settings_of(ctx.app).certificate_arn is not None
    front = 443 if https else 80
    source = ["0.0.0.0/0"] if service.public else [ctx.vpc.ref("cidr_block")]
    ingress = [{"description": f"clients, port {port}", "from_port": port, "to_port": port,
                "protocol": "tcp", "cidr_blocks": source, "ipv6_cidr_blocks": [],
                "prefix_list_ids": [], "security_groups": [], "self": False}
               for port in sorted({front, 80})]
    lb_sg = s.resource("aws_security_group", f"svc_{name}_lb_sg", {
        "name": ctx.names.name(name, "lb", kind="security_group"),
        "description": f"flowc service {name}: its load balancer",
        "vpc_id": ctx.vpc_id,
        "ingress": ingress,
        "egress": [{"description": "to the service tasks", "from_port": service.port,
                    "to_port": service.port, "protocol": "tcp",
                    "cidr_blocks": [ctx.vpc.ref("cidr_block")], "ipv6_cidr_blocks": [],
                    "prefix_list_ids": [], "security_groups": [], "self": False}],
        "tags": service_tags(ctx, service),
    })  # fmt: skip
    s.resource("aws_vpc_security_group_ingress_rule", f"svc_{name}_from_lb", {
        "security_group_id": f"${{aws_security_group.svc_{name}_task_sg.id}}",
        "referenced_security_group_id": lb_sg.ref("id"),
        "from_port": service.port, "to_port": service.port, "ip_protocol": "tcp",
        "description": "from the service load balancer only",
    })  # fmt: skip
    lb = s.resource("aws_lb", f"svc_{name}_lb", {
        "name": ctx.names.name(name, style=DNS, limit=LB_NAME_LIMIT, kind="lb"),
        "internal": not service.public,
        "load_balancer_type": "application",
        "security_groups": [lb_sg.ref("id")],
        "subnets": ctx.service_subnets,
        "drop_invalid_header_fields": True,
        "enable_deletion_protection": False,
        "tags": service_tags(ctx, service),
    })
    # one group: all of it; two colours: blue, until the traffic rule exists (first apply)
    forward = _forward(groups, {c: 100 if n == 0 else 0 for n, c in enumerate(groups)})
    listener_body: dict[str, Any] = {
        "load_balancer_arn": lb.ref("arn"), "port": front,
        "protocol": "HTTPS" if https else "HTTP", "default_action": [forward],
        "tags": service_tags(ctx, service),
    }
    if https:
        listener_body.update(ssl_policy=SSL_POLICY,
                             certificate_arn=escape_literal(AWS.settings_of(ctx.app).certificate_arn))
        s.resource("aws_lb_listener", f"svc_{name}_http_redirect", {
            "load_balancer_arn": lb.ref("arn"), "port": 80, "protocol": "HTTP",
            "default_action": [{"type": "redirect", "redirect": [{
                "port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}]}],
            "tags": service_tags(ctx, service),
        })  # fmt: skip
    listener = s.resource("aws_lb_listener", f"svc_{name}_listener", listener_body)
    scheme = "https" if https else "http"
    s.output(f"{name}_url", f"{scheme}://{lb.ref('dns_name')}",
             f"URL of service `{name}` (its load balancer)")
    return lb, listener


def add_one_ecs_service(ctx: AwsContext, service: Service, colour: str, definition: Resource,
                        task_sg: Resource, group: Resource | None,
                        listener: Resource | None) -> Resource:
    suffix = f"_{colour}" if colour else ""
    network: dict[str, Any] = {
        "subnets": ctx.service_subnets,
        "security_groups": [task_sg.ref("id"), *AWS.settings_of(ctx.app).security_groups],
        # only in the default VPC (W403): its subnets reach the registry this way
        "assign_public_ip": not AWS.settings_of(ctx.app).subnets,
    }
    body: dict[str, Any] = {
        "name": ctx.names.name(service.name, colour, kind="ecs_service"),
        "cluster": ctx.cluster.ref("id"),
        "task_definition": definition.ref("arn"),
        # both colours run: the one out of traffic is what a rollback goes back to
        "desired_count": service.scaling.min_replicas,
        "launch_type": "FARGATE",
        "platform_version": "LATEST",
        "network_configuration": [network],
        "deployment_minimum_healthy_percent": 100,
        "deployment_maximum_percent": 200,
        "deployment_circuit_breaker": [{"enable": True, "rollback": True}],
        "enable_ecs_managed_tags": True,
        "propagate_tags": "SERVICE",
        "tags": service_tags(ctx, service),
    }
    if group is not None:
        body["load_balancer"] = [{"target_group_arn": group.ref("arn"),
                                  "container_name": service.name,
                                  "container_port": service.port}]
        body["health_check_grace_period_seconds"] = GRACE_S
        body["depends_on"] = [listener.address]
    if colour:  # the traffic rule moves only after this colour's tasks are steady
        body["wait_for_steady_state"] = True
    if service.scaling.autoscaled:
        body["lifecycle"] = {"ignore_changes": ["desired_count"]}  # the scaler owns it
    return ctx.stack.resource("aws_ecs_service", f"svc_{service.name}{suffix}", body)


def add_autoscaling(ctx: AwsContext, service: Service, ecs: Resource, colour: str = "") -> None:
    scaling = service.scaling
    suffix = f"_{colour}" if colour else ""
    resource_id = f"service/{ctx.cluster.ref('name')}/{ecs.ref('name')}"
    target = ctx.stack.resource("aws_appautoscaling_target",
                                f"svc_{service.name}_scaling{suffix}", {
        "service_namespace": "ecs",
        "resource_id": resource_id,
        "scalable_dimension": "ecs:service:DesiredCount",
        "min_capacity": scaling.min_replicas,
        "max_capacity": scaling.max_replicas,
        "tags": service_tags(ctx, service),
    })
    ctx.stack.resource("aws_appautoscaling_policy", f"svc_{service.name}_scale_policy{suffix}", {
        "name": ctx.names.name(service.name, scaling.metric, colour, kind="scaling_policy"),
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


def add_lambda_service(ctx: AwsContext, service: Service, handler: PythonHandler) -> None:
    s, name = ctx.stack, service.name
    fn_name = ctx.names.name(name, kind="lambda")
    logs = service_logs(ctx, service, f"/aws/lambda/{fn_name}")
    role = service_role(ctx, service, "lambda", "lambda.amazonaws.com", [
        iam.allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                  [logs.ref("arn") + ":*"]),
        iam.allow("WriteTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                  ["*"]),
        iam.allow("DecryptWithAppKey", ["kms:Decrypt"], [ctx.key.ref("arn")]),
        *service_secret_statements(ctx, service),
    ])
    asset = s.code_asset(service, extra={
        **handler_files(),  # the service handler imports flowc_handler's secret resolution
        SERVICE_HANDLER_FILE: _asset("lambda_service_handler.py"),
    }, layers=False, vendor_extra=(adapter_requirements(),))
    variables = lambda_variables(ctx, service, {"FLOWC_ENTRYPOINT": handler.entrypoint,
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
        "kms_key_arn": ctx.key.ref("arn"),
        "environment": [{"variables": dict(sorted(variables.items()))}],
        "tracing_config": [{"mode": "Active"}],
        "logging_config": [{"log_format": "Text", "log_group": logs.ref("name")}],
        "publish": True,  # each change is a version the alias can canary and roll back to
        "depends_on": [f"aws_iam_role_policy.svc_{name}_lambda_policy"],
        "tags": service_tags(ctx, service),
    }  # fmt: skip
    release_id = ctx.release_of(service).release_id
    if release_id:
        body["tags"] = {**body["tags"], RELEASE_TAG: release_id}
    if asset is not None:
        body.update(package_args(ctx, asset))
    fn = s.resource("aws_lambda_function", f"svc_{name}_function", body)
    topic = f"aws_sns_topic.svc_{name}_alerts" if service.alerts else None
    alias = add_alias(ctx, Aliased(service, "HTTP API routes", service_tags(ctx, service),
                                   topic), fn)
    api = s.resource("aws_apigatewayv2_api", f"svc_{name}_api", {
        "name": ctx.names.name(name, kind="http_api"),
        "protocol_type": "HTTP",
        "description": f"flowc service {name}",
        "tags": service_tags(ctx, service),
    })
    integration = s.resource("aws_apigatewayv2_integration", f"svc_{name}_integration", {
        "api_id": api.ref("id"),
        "integration_type": "AWS_PROXY",
        "integration_uri": alias.ref("invoke_arn"),
        "payload_format_version": "2.0",
    })
    s.resource("aws_apigatewayv2_route", f"svc_{name}_route", {
        "api_id": api.ref("id"),
        "route_key": "$default",
        "target": f"integrations/{integration.ref('id')}",
        "authorization_type": "NONE" if service.public else "AWS_IAM",
    })
    access_logs = s.resource("aws_cloudwatch_log_group", f"svc_{name}_api_logs", {
        "name": f"/aws/apigateway/{ctx.names.name(name, kind='http_api_logs')}",
        "retention_in_days": 365, "kms_key_id": ctx.key.ref("arn"),
        "tags": service_tags(ctx, service),
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
        "tags": service_tags(ctx, service),
    })  # fmt: skip
    s.resource("aws_lambda_permission", f"svc_{name}_invoke", {
        "statement_id": "AllowHttpApi",
        "action": "lambda:InvokeFunction",
        "function_name": fn.ref("function_name"),
        "qualifier": alias.ref("name"),
        "principal": "apigateway.amazonaws.com",
        "source_arn": f"{api.ref('execution_arn')}/*",
    })
    s.output(f"{name}_url", api.ref("api_endpoint"), f"URL of service `{name}` (HTTP API)")
    if service.alerts:
        add_service_alarms(ctx, service, {}, None, api)


# -- alarms ---------------------------------------------------------------------------


Colours = dict[str, tuple[Resource, Resource | None]]  # colour ("" for one) -> ECS, group


def add_service_alarms(ctx: AwsContext, service: Service, colours: Colours,
                       lb: Resource | None, api: Resource | None = None) -> None:
    s, name = ctx.stack, service.name
    topic = s.resource("aws_sns_topic", f"svc_{name}_alerts", {
        "name": ctx.names.name(name, "alerts", kind="sns"),
        "kms_master_key_id": ctx.key.ref("arn"),
        "tags": service_tags(ctx, service),
    })
    s.output(f"{name}_alerts_topic_arn", topic.ref("arn"),
             f"SNS topic of service `{name}`'s alerts")
    for k, email in enumerate(sorted({e for a in service.alerts for e in a.notify})):
        s.resource("aws_sns_topic_subscription", f"svc_{name}_alert_email_{k}", {
            "topic_arn": topic.ref("arn"), "protocol": "email",
            "endpoint": escape_literal(email)})
    for j, alert in enumerate(service.alerts):
        metric = (api_metric(alert, api) if api is not None
                  else ecs_metric(ctx, alert, colours, lb))
        if metric is None:
            continue
        s.resource("aws_cloudwatch_metric_alarm", f"svc_{name}_alarm_{j}", {
            "alarm_name": ctx.names.name(name, alert.metric, str(j), kind="alarm"),
            "alarm_description": f"flowc service {name}: {alert.metric} "
                                 f"{alert.comparator} {alert.threshold:g}",
            "comparison_operator": COMPARATORS[alert.comparator],
            "evaluation_periods": 1,
            "treat_missing_data": "notBreaching",
            "alarm_actions": [topic.ref("arn")],
            "ok_actions": [topic.ref("arn")],
            **metric,
            "tags": service_tags(ctx, service),
        })  # fmt: skip


def ecs_metric(ctx: AwsContext, alert: Alert, colours: Colours,
               lb: Resource | None) -> dict[str, Any] | None:
    """The alarm's metric. With two colours it covers both, whichever is live: the load
    balancer as a whole (error rate, latency), the sum of unhealthy targets, the busier
    ECS service (cpu, memory)."""
    if alert.metric in ("cpu", "memory"):
        metric = {"namespace": "AWS/ECS", "metric_name": "CPUUtilization"
                  if alert.metric == "cpu" else "MemoryUtilization"}
        dims = {c: {"ClusterName": ctx.cluster.ref("name"), "ServiceName": ecs.ref("name")}
                for c, (ecs, _) in colours.items()}
        return _per_colour(alert, metric, "Average", dims, "MAX", ALARM_PERIOD_S)
    groups = {c: g for c, (_, g) in colours.items() if g is not None}
    if not groups or lb is None:
        return None
    whole = len(groups) > 1  # both colours: the load balancer's own metrics
    dims = {"LoadBalancer": lb.ref("arn_suffix")}
    if not whole:
        dims["TargetGroup"] = next(iter(groups.values())).ref("arn_suffix")
    if alert.metric == "unhealthy":
        metric = {"namespace": "AWS/ApplicationELB", "metric_name": "UnHealthyHostCount"}
        return _per_colour(alert, metric, "Maximum", {
            c: {"LoadBalancer": lb.ref("arn_suffix"), "TargetGroup": g.ref("arn_suffix")}
            for c, g in groups.items()}, "SUM", 60)
    if alert.metric == "latency_p95":
        return {"namespace": "AWS/ApplicationELB", "metric_name": "TargetResponseTime",
                "extended_statistic": "p95", "period": ALARM_PERIOD_S,
                "threshold": alert.threshold, "dimensions": dims}
    return _error_rate(alert, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count",
                       "RequestCount", dims)


def _per_colour(alert: Alert, metric: dict[str, str], statistic: str,
                dims: dict[str, dict[str, str]], combine: str, period: int) -> dict[str, Any]:
    """One metric as alarm arguments; over two colours, `combine` (MAX, SUM) of both."""
    if len(dims) == 1:
        return {**metric, "statistic": statistic, "period": period,
                "threshold": alert.threshold, "dimensions": next(iter(dims.values()))}
    queries = [{"id": f"m_{c}", "return_data": False, "metric": [{
        **metric, "period": period, "stat": statistic, "dimensions": d}]}
        for c, d in dims.items()]
    ids = ", ".join(q["id"] for q in queries)
    return {"threshold": alert.threshold, "metric_query": [*queries, {
        "id": "combined", "label": f"{combine.lower()} over both colours",
        "return_data": True, "expression": f"{combine}([{ids}])"}]}


def api_metric(alert: Alert, api: Resource) -> dict[str, Any] | None:
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
