"""What this target bills for one task, priced from its flowc/pricing/*.toml files.

See flowc.cost.providers for the shared pieces (Line, Pool, Workload).
"""

from __future__ import annotations

from flowc.compiler.ir import App, Service, Task
from flowc.cost import sizing
from flowc.cost.pricing import PriceBook
from flowc.cost.providers import (
    AlwaysOn,
    Line,
    Pool,
    Workload,
    billed_seconds,
    logs_line,
    replica_lines,
)
from flowc.releases.colours import has_colours
from flowc.targets.aws import TARGET as AWS
from flowc.targets.aws.overlap_guard import TRANSITIONS_PER_FIRE, guarded


class AwsPricing:
    """AWS's billed quantities for one task (registered as the target's `pricing`)."""

    name = "aws"
    regional = True  # its price files (and `--prices` files) name a region
    # price table -> the numeric keys a price file must give (flowc/pricing/aws-*.toml)
    SCHEMA: dict[str, tuple[str, ...]] = {
        "lambda": ("request_per_million", "gb_second", "billing_increment_ms",
                   "free_requests", "free_gb_seconds"),
        "fargate": ("vcpu_hour", "gb_hour", "minimum_seconds", "billing_increment_s"),
        "alb": ("hour",),
        "scheduler": ("invocation_per_million", "free_invocations"),
        "stepfunctions": ("transition_per_thousand", "free_transitions"),
        "queue": ("request_per_million", "free_requests"),
        "secrets": ("secret_month", "api_calls_per_10k"),
        "logs": ("ingestion_gb", "free_gb"),
    }

    def region(self, app: App) -> str:
        return AWS.settings_of(app).region

    # -- services (flowc.cost.services): always on, priced per hour -------------------------

    def service(self, service: Service, book: PriceBook, hours: float, count: int
                ) -> tuple[str, sizing.Size, list[Line]]:
        """Image service: Fargate vCPU-hours and GB-hours per task, plus one ALB's hours
        when it has a port (LCUs depend on traffic); with two colours (blue_green,
        canary) the colour out of traffic runs the lowest `replicas` too. Python service:
        Lambda and the HTTP API bill per request only, so nothing is fixed."""
        if service.handler.kind == "python":
            return ("AWS Lambda + API Gateway HTTP API (per request)",
                    sizing.lambda_size(service.memory_mib), [])
        size = sizing.fargate_size(service.memory_mib, service.cpu)
        if has_colours(service):
            count += service.scaling.min_replicas  # the rollback colour, at its minimum
        lines = replica_lines(count, size, hours, book.rate("fargate", "vcpu_hour"),
                              book.rate("fargate", "gb_hour"), "fargate")
        if not service.is_worker:
            lines.append(Line("load_balancer", "alb_hours", hours, "ALB-h",
                              book.rate("alb", "hour")))
        product = "ECS Fargate service" + (" x2 (blue, green)" if has_colours(service) else "")
        return product + ("" if service.is_worker else " + ALB"), size, lines

    def worst_replicas(self, service: Service) -> int:
        return service.scaling.max_replicas

    def service_notes(self, app: App) -> list[str]:
        notes = [f"service {s.name} on aws: Lambda and the HTTP API bill per request; with "
                 "no traffic assumed, nothing is fixed"
                 for s in app.services if s.runs_on("aws") and s.handler.kind == "python"]
        if any(not s.is_worker and s.runs_on("aws") and s.handler.kind == "image"
               for s in app.services):
            notes.append("services on aws: load balancer LCU-hours depend on traffic and are "
                         "not included")
        notes += [f"service {s.name} on aws: released {s.release.strategy}, so its second "
                  f"colour keeps {s.scaling.min_replicas} task(s) running for rollback "
                  "(counted; docs/releases.md)"
                  for s in app.services if s.runs_on("aws") and has_colours(s)]
        return notes

    def product(self, task: Task) -> str:
        return "AWS Lambda" if task.handler.kind == "python" else "ECS Fargate"

    def size(self, task: Task, p: PriceBook) -> sizing.Size:
        if task.handler.kind == "python":
            return sizing.lambda_size(task.memory_mib)
        return sizing.fargate_size(task.memory_mib, task.cpu)

    def lines(self, task: Task, w: Workload, p: PriceBook) -> list[Line]:
        size = self.size(task, p)
        out: list[Line] = []
        if task.handler.kind == "python":
            seconds = billed_seconds(w.duration_s, p.rate("lambda", "billing_increment_ms") / 1000)
            out.append(Line("requests", "lambda_requests", w.attempts, "requests",
                            p.rate("lambda", "request_per_million") / 1e6, "lambda_requests"))
            out.append(Line("compute", "lambda_gb_seconds", w.attempts * seconds * size.gib,
                            "GB-s", p.rate("lambda", "gb_second"), "lambda_gb_seconds"))
        else:
            seconds = billed_seconds(w.duration_s, p.rate("fargate", "billing_increment_s"),
                                     p.rate("fargate", "minimum_seconds"))
            out.append(Line("compute", "fargate_vcpu_seconds", w.attempts * seconds * size.vcpu,
                            "vCPU-s", p.rate("fargate", "vcpu_hour") / 3600))
            out.append(Line("compute", "fargate_gb_seconds", w.attempts * seconds * size.gib,
                            "GB-s", p.rate("fargate", "gb_hour") / 3600))
        out.append(Line("scheduler", "scheduler_invocations", w.attempts, "invocations",
                        p.rate("scheduler", "invocation_per_million") / 1e6, "scheduler"))
        if guarded(task):  # each fire runs the overlap guard (held fires: a few more)
            out.append(Line("scheduler", "sfn_state_transitions",
                            w.attempts * TRANSITIONS_PER_FIRE, "transitions",
                            p.rate("stepfunctions", "transition_per_thousand") / 1e3,
                            "stepfunctions"))
        out.append(Line("queues", "sqs_requests", w.dead_letters, "requests",
                        p.rate("queue", "request_per_million") / 1e6, "sqs"))
        out.append(Line("secrets", "secret_months", w.secret_share, "secret-months",
                        p.rate("secrets", "secret_month"), fixed=True))
        out.append(Line("secrets", "secret_api_calls", w.attempts * w.secret_reads, "calls",
                        p.rate("secrets", "api_calls_per_10k") / 1e4))
        out.append(logs_line(w, p.rate("logs", "ingestion_gb"), "logs"))
        return out

    def pools(self, p: PriceBook, days: int) -> list[Pool]:
        return [Pool("lambda_requests", p.rate("lambda", "free_requests")),
                Pool("lambda_gb_seconds", p.rate("lambda", "free_gb_seconds")),
                Pool("scheduler", p.rate("scheduler", "free_invocations")),
                Pool("stepfunctions", p.rate("stepfunctions", "free_transitions")),
                Pool("sqs", p.rate("queue", "free_requests")),
                Pool("logs", p.rate("logs", "free_gb"))]

    def always_on(self, task: Task, p: PriceBook, hours: float) -> AlwaysOn:
        size = sizing.fargate_size(task.memory_mib, task.cpu)
        usd = hours * (size.vcpu * p.rate("fargate", "vcpu_hour")
                       + size.gib * p.rate("fargate", "gb_hour"))
        return AlwaysOn("ECS Fargate service, 1 task", size, usd)
