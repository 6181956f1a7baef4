"""The Terraform override file that points the AWS target's output at a local cloud.

`write_override(workdir, endpoint)` reads `workdir/cdk.tf.json` and writes
`workdir/flowc_local_override.tf.json` (Terraform merges `*_override.tf.json` over the
main file, so the compiled output itself stays exactly what `flowc compile` writes):

- every `aws` provider configuration (aliases too) reads the profile PROFILE of the AWS
  config file `workdir/CONFIG_FILE` (written beside it), whose `endpoint_url` sends
  every AWS API call to the local cloud; it gets test credentials, and skips for the
  checks that need a real account; `max_retries` is small because a local emulator that
  fails once fails again. (Not the provider's `endpoints` block: validating that block
  costs the AWS provider 4-7 s of CPU in each of the four processes an apply starts.)
- the backend becomes local (`terraform.tfstate` in the working directory), so a
  `backend s3` environment never touches a real bucket;
- local-only settings (LOCAL_ONLY below): secrets are deleted at once on destroy
  (`recovery_window_in_days = 0`), so `flowc down` leaves nothing and a later `up` can
  create them again; ECS services do not wait for a steady state (moto runs no task);
  an HTTPS listener serves HTTP on its port (LOCAL_HTTPS_LISTENER: its certificate is
  the real account's);
- attributes the emulator does not read back (IGNORE_CHANGES: a function's logging
  config, three ECS service settings, an ingress rule's description and group) are
  ignored after creation, so a re-run applies only what changed.
- subnets: an environment's `aws { subnets }` are a real account's; the ones the local
  cloud lacks are replaced by its default subnets wherever the output names them
  (subnets.py), so an image service's load balancer and ECS services can be created.
What moto lacks as an API (Application Auto Scaling tags) is added to the server itself
(moto_server.py), not overridden here. docs/deploy.md lists each difference.

A resource type whose service is not in SERVICES is an error (E606): flowc applies only
what it knows the local cloud serves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowc.deploy.subnets import substitutions
from flowc.diagnostics import Diagnostic
from flowc.targets.compile import TF_FILE, write_if_changed

OVERRIDE_FILE = "flowc_local_override.tf.json"
CONFIG_FILE = "flowc-aws-config"  # an AWS shared config file (the format of ~/.aws/config)
PROFILE = "flowc-local"
STATE_FILE = "terraform.tfstate"
MAX_RETRIES = 2

# resource/data type prefix -> provider `endpoints` key (longest prefix wins)
SERVICES: dict[str, str] = {
    "aws_lambda_": "lambda",
    "aws_iam_": "iam",
    "aws_sqs_": "sqs",
    "aws_sns_": "sns",
    "aws_scheduler_": "scheduler",
    "aws_secretsmanager_": "secretsmanager",
    "aws_cloudwatch_log_": "logs",
    "aws_cloudwatch_event_": "events",
    "aws_cloudwatch_metric_alarm": "cloudwatch",
    "aws_cloudwatch_composite_alarm": "cloudwatch",
    "aws_cloudwatch_dashboard": "cloudwatch",
    "aws_ecs_": "ecs",
    "aws_sfn_": "stepfunctions",  # provider endpoint alias of sfn; LocalStack names it so
    "aws_ecr_": "ecr",
    "aws_kms_": "kms",
    "aws_s3_": "s3",
    "aws_ssm_": "ssm",
    "aws_xray_": "xray",
    "aws_security_group": "ec2",
    "aws_vpc": "ec2",
    "aws_subnet": "ec2",
    "aws_caller_identity": "sts",
    # services (flowc/targets/aws/services.py)
    "aws_lb": "elbv2",  # aws_lb, aws_lb_listener, aws_lb_listener_rule, aws_lb_target_group
    "aws_appautoscaling_": "appautoscaling",
    "aws_apigatewayv2_": "apigatewayv2",
}
# data sources the provider answers without calling AWS
NO_SERVICE = {"aws_region", "aws_partition", "aws_iam_policy_document", "aws_arn",
              "aws_default_tags"}
# services every configuration gets (the provider may call STS on its own)
ALWAYS = ("sts",)

# resource type -> attributes set only when applying to a local cloud (see module doc)
LOCAL_ONLY: dict[str, dict[str, Any]] = {
    "aws_secretsmanager_secret": {"recovery_window_in_days": 0},
    # moto runs no ECS task, so a service never becomes steady: the wait would time out
    "aws_ecs_service": {"wait_for_steady_state": False},
}
# an HTTPS listener's certificate is one of the real account's, which the local cloud lacks
# (the listener would be refused): locally the listener serves HTTP on the same port
LOCAL_HTTPS_LISTENER = {"protocol": "HTTP", "certificate_arn": None, "ssl_policy": None}
# resource type -> attributes the emulator does not read back (moto 5), ignored after
# creation so a re-run does not show a change every time (see docs/deploy.md)
IGNORE_CHANGES: dict[str, list[str]] = {
    "aws_lambda_function": ["logging_config"],
    # returned as unset (the provider then plans its default or flowc's value again)
    "aws_ecs_service": ["availability_zone_rebalancing", "enable_ecs_managed_tags",
                        "health_check_grace_period_seconds"],
    # no description; the referenced group comes back as `<account>/sg-...`
    "aws_vpc_security_group_ingress_rule": ["description", "referenced_security_group_id"],
}


def service_for(type_: str) -> str | None:
    """The `endpoints` key for a resource or data source type ("" if it needs none)."""
    if type_ in NO_SERVICE:
        return ""
    matches = [p for p in SERVICES if type_.startswith(p)]
    return SERVICES[max(matches, key=len)] if matches else None


def services_used(doc: dict[str, Any]) -> tuple[list[str], list[Diagnostic]]:
    """Endpoint keys the Terraform document needs, and E606 for types flowc cannot map."""
    services = set(ALWAYS)
    diagnostics = []
    for block in ("resource", "data"):
        for type_ in sorted(doc.get(block, {})):
            if not type_.startswith("aws_"):
                continue
            service = service_for(type_)
            if service is None:
                diagnostics.append(Diagnostic(
                    "E606",
                    f"the AWS output uses `{type_}`, whose service flowc up cannot point at "
                    "the local cloud",
                    None,
                    "add its prefix and endpoint name to SERVICES in flowc/deploy/overrides.py "
                    "(this is a flowc bug; please report it)",
                ))
            elif service:
                services.add(service)
    return sorted(services), diagnostics


def aws_config(endpoint: str) -> str:
    """The AWS config file that points the profile PROFILE at the cloud at `endpoint`."""
    return (f"# written by `flowc up`: Terraform's AWS calls here go to the local cloud\n"
            f"[profile {PROFILE}]\nendpoint_url = {endpoint}\n")


def override_document(doc: dict[str, Any], config_file: Path,
                      subnets: dict[str, str] | None = None) -> tuple[dict[str, Any],
                                                                      list[Diagnostic]]:
    """The override for compiled document `doc`, its provider reading `config_file`
    (`aws_config`) for the local cloud's endpoint; `subnets` replaces subnet IDs the local
    cloud lacks (subnets.local_subnets)."""
    _, diagnostics = services_used(doc)
    configs = doc.get("provider", {}).get("aws") or [{}]
    if isinstance(configs, dict):
        configs = [configs]
    providers = []
    for config in configs:
        provider: dict[str, Any] = {
            "access_key": "test",
            "secret_key": "test",
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": True,
            "skip_region_validation": True,
            "s3_use_path_style": True,
            "max_retries": MAX_RETRIES,
            "profile": PROFILE,
            "shared_config_files": [str(config_file)],
        }
        if config.get("alias"):
            provider["alias"] = config["alias"]
        providers.append(provider)
    out: dict[str, Any] = {
        "//": "written by `flowc up`: points this directory at a local cloud; "
              "deploy to AWS from `flowc compile` output instead",
        "terraform": {"backend": {"local": {"path": STATE_FILE}}},
        "provider": {"aws": providers},
    }
    resources: dict[str, dict[str, Any]] = {}
    for type_, bodies in sorted(doc.get("resource", {}).items()):
        for id_, body in sorted(bodies.items()):
            settings = dict(LOCAL_ONLY.get(type_, {}))
            if type_ == "aws_lb_listener" and body.get("certificate_arn"):
                settings.update(LOCAL_HTTPS_LISTENER)
            unread = IGNORE_CHANGES.get(type_, [])
            if unread:
                lifecycle = dict(body.get("lifecycle") or {})
                ignored = list(lifecycle.get("ignore_changes") or [])
                lifecycle["ignore_changes"] = ignored + [a for a in unread if a not in ignored]
                settings["lifecycle"] = lifecycle
            if settings:
                resources.setdefault(type_, {})[id_] = settings
    replaced = substitutions(doc, subnets or {})
    for type_, bodies in replaced.get("resource", {}).items():
        for id_, arguments in bodies.items():
            resources.setdefault(type_, {}).setdefault(id_, {}).update(arguments)
    if resources:
        out["resource"] = resources
    if replaced.get("data"):
        out["data"] = replaced["data"]
    return out, diagnostics


def write_override(workdir: Path, endpoint: str, subnets: dict[str, str] | None = None
                   ) -> tuple[Path, list[Diagnostic]]:
    """Write the override and its AWS config file beside `workdir/cdk.tf.json` (only when
    their bytes change)."""
    workdir = Path(workdir)
    doc = json.loads((workdir / TF_FILE).read_text())
    config = (workdir / CONFIG_FILE).resolve()
    override, diagnostics = override_document(doc, config, subnets)
    path = workdir / OVERRIDE_FILE
    if not diagnostics:
        write_if_changed(config, aws_config(endpoint).encode())
        write_if_changed(path, (json.dumps(override, indent=2, sort_keys=True) + "\n").encode())
    return path, diagnostics
