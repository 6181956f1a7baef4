"""The AWS side of the emulator: LocalStack when one answers, else an embedded moto server.

Detection follows localstack-client: `LOCALSTACK_HOST` (`host[:port]`, default
127.0.0.1:4566), health at `/_localstack/health`. Otherwise `connect()` uses the warm
embedded moto server shared by every command (warmcloud.py), starting it if needed
without waiting for it; `start()` runs one in-process for this command only.

Nothing waits for the server before it is needed: `provision_in_background` creates
the resources in a thread, and the calls that need them (secrets, dead letters,
alerts) wait until it has finished (`settle()`), so a failed run still reaches its
queue, while a run that needs nothing from AWS never waits for it.

What the spec declares is created there (idempotently, again on every reload):
- one SQS queue `<app>-<task>-dlq` per task with `on_failure = dead_letter`, holding
  again the dead letters its journal keeps (deadletters.py) when the queue lacks them;
- one Secrets Manager secret `<app>-<secret>` per secret that has a local value;
- one SNS topic `<app>-<task>-alert-<n>` per alert, with an email subscription per
  address.
Names come from the targets' naming helper (`flowc.targets.naming.Namer`), so they
are the names the AWS target gives the same resources (`<app>-<env>-...` with --env).
boto3 and moto are imported here only, so `flowc check` never pays for them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App, Task
from flowc.deploy.localcloud import localstack_endpoint
from flowc.diagnostics import Diagnostic
from flowc.emulator import deadletters, warmcloud
from flowc.targets.naming import Namer

TEST_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def dlq_name(app: App, task: Task | str) -> str:
    task_name = task if isinstance(task, str) else task.name
    return Namer(app).name(task_name, "dlq")


def secret_id(app: App, secret: str) -> str:
    return Namer(app).name(secret)


def topic_name(app: App, task: Task, index: int) -> str:
    return Namer(app).name(task.name, "alert", str(index))


@dataclass
class ProvisionReport:
    queues: dict[str, str] = field(default_factory=dict)  # task -> queue url
    secrets: dict[str, str] = field(default_factory=dict)  # secret -> secret id
    topics: dict[str, list[str]] = field(default_factory=dict)  # task -> topic arns
    diagnostics: list[Diagnostic] = field(default_factory=list)


class Cloud:
    """Clients for one AWS endpoint; `start()` picks LocalStack or the embedded server."""

    def __init__(self, endpoint: str, kind: str, region: str = "us-east-1", server: Any = None,
                 warm: warmcloud.WarmServer | None = None):
        self.endpoint = endpoint
        self.kind = kind  # "localstack" | "moto" | "external"
        self.region = region
        self._server = server
        self.warm = warm  # the shared server, while it may still be starting
        self._settled = threading.Event()  # the last provisioning has finished
        self._settled.set()
        self.failure: Exception | None = None  # why the last provisioning failed
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._queue_urls: dict[str, str] = {}
        self.report = ProvisionReport()
        self.journal: deadletters.Journal | None = None  # set by the session: letters kept

    @classmethod
    def connect(cls, state_dir: Path, region: str = "us-east-1",
                environ: Mapping[str, str] | None = None) -> Cloud:
        """LocalStack if it answers, else the state directory's warm server (started, not
        awaited)."""
        environ = os.environ if environ is None else environ
        if not warmcloud.enabled(environ):
            return cls.start(region, environ)
        url = localstack_endpoint(environ)
        if url:
            return cls(url, "localstack", region)
        server = warmcloud.ensure(state_dir, environ)  # leased to this process
        return cls(server.endpoint, "moto", region, warm=server)

    @classmethod
    def start(cls, region: str = "us-east-1", environ: Mapping[str, str] | None = None) -> Cloud:
        """Connect to LocalStack if it answers, else start an embedded moto server."""
        environ = os.environ if environ is None else environ
        url = localstack_endpoint(environ)
        if url:
            return cls(url, "localstack", region)
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        return cls(f"http://{host}:{port}", "moto", region, server)

    def stop(self) -> None:
        """Stop the embedded server, if this session started one (a warm one keeps running)."""
        if self.warm is not None:
            self.warm.release()
        if self._server is not None:
            server, self._server = self._server, None
            server.stop()

    def client(self, service: str) -> Any:
        with self._lock:
            if self.warm is not None and not self._clients:
                self.warm.wait()  # the first client: the shared server may still be starting
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                self._clients[service] = boto3.session.Session().client(
                    service,
                    endpoint_url=self.endpoint,
                    region_name=self.region,
                    config=Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=10),
                    **TEST_CREDENTIALS,
                )
            return self._clients[service]

    def task_environment(self) -> dict[str, str]:
        """Variables that point a task's AWS SDK at this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    # provisioning -----------------------------------------------------------------

    def provision_in_background(self, app: App, secret_values: Mapping[str, str | None],
                                then: Callable[[], None] = lambda: None) -> None:
        """`provision` in a thread, then `then()`; `settle()` waits for both."""
        self._settled.wait()  # one provisioning at a time, in order
        self._settled.clear()

        def work() -> None:
            try:
                self.provision(app, secret_values)
                then()
                self.failure = None
            except Exception as exc:  # noqa: BLE001 - reported by whoever needs the cloud
                self.failure = exc
            finally:
                self._settled.set()

        threading.Thread(target=work, name="flowc-provision", daemon=True).start()

    def _after_provisioning(self) -> None:
        """Run-time calls wait for provisioning (the queue restored, the secrets stored);
        if it failed they still try, and report their own error."""
        self._settled.wait()

    def settled(self, timeout: float) -> bool:
        """Whether the last provisioning has finished (waiting at most `timeout`)."""
        return self._settled.wait(timeout)

    def settle(self) -> None:
        """Wait for the last provisioning; raise what made it fail."""
        self._settled.wait()
        if self.failure is not None:
            raise self.failure

    def provision(self, app: App, secret_values: Mapping[str, str | None]) -> ProvisionReport:
        """Create (or update) the queues, secrets and topics `app` declares."""
        report = ProvisionReport()
        for service in ("sqs", "secretsmanager", "sns"):
            self.client(service)  # built once here, not in the first run's critical path
        for task in app.tasks:
            if task.on_failure == "dead_letter":
                report.queues[task.name] = url = self.queue_url(app, task.name)
                if self.journal is not None:
                    deadletters.restore(self.client("sqs"), url, dlq_name(app, task),
                                        self.journal)
            arns = []
            for index, alert in enumerate(task.alerts):
                arn = self.client("sns").create_topic(Name=topic_name(app, task, index))[
                    "TopicArn"
                ]
                for address in alert.notify:
                    self.client("sns").subscribe(TopicArn=arn, Protocol="email", Endpoint=address)
                arns.append(arn)
            if arns:
                report.topics[task.name] = arns
        for secret in app.secrets:
            value = secret_values.get(secret.name)
            if value is None:
                continue
            report.secrets[secret.name] = self.put_secret(app, secret.name, value)
        self.report = report
        return report

    def queue_url(self, app: App, task: str) -> str:
        name = dlq_name(app, task)
        if name not in self._queue_urls:
            self._queue_urls[name] = self.client("sqs").create_queue(QueueName=name)["QueueUrl"]
        return self._queue_urls[name]

    def put_secret(self, app: App, name: str, value: str) -> str:
        sm = self.client("secretsmanager")
        sid = secret_id(app, name)
        try:
            sm.create_secret(Name=sid, SecretString=value)
        except sm.exceptions.ResourceExistsException:
            sm.put_secret_value(SecretId=sid, SecretString=value)
        return sid

    # run time -------------------------------------------------------------------

    def get_secret(self, app: App, name: str) -> str | None:
        self._after_provisioning()
        sm = self.client("secretsmanager")
        try:
            return sm.get_secret_value(SecretId=secret_id(app, name))["SecretString"]
        except sm.exceptions.ResourceNotFoundException:
            return None

    def send_dead_letter(self, app: App, task: str, body: dict[str, Any]) -> tuple[str, str]:
        """Send a failed run to the task's queue; returns (queue url, message id)."""
        self._after_provisioning()
        url = self.queue_url(app, task)
        message_id = deadletters.send(self.client("sqs"), url, body)
        if self.journal is not None:
            self.journal.add(dlq_name(app, task), body)
        return url, message_id

    def dead_letters(self, app: App, task: str) -> list[deadletters.Letter]:
        """The task's dead letters, left in the queue."""
        self._after_provisioning()
        return deadletters.peek(self.client("sqs"), self.queue_url(app, task))

    def take_dead_letters(self, app: App, task: str, run_ids: set[str] | None,
                          hold_s: float) -> list[deadletters.Letter]:
        """Dead letters to replay, hidden from other readers for `hold_s` seconds."""
        self._after_provisioning()
        return deadletters.take(self.client("sqs"), self.queue_url(app, task), run_ids, hold_s)

    def delete_dead_letter(self, app: App, task: str, letter: deadletters.Letter) -> None:
        """Delete the message, then its journal entry (a crash between: sent back once)."""
        self._after_provisioning()
        self.client("sqs").delete_message(QueueUrl=self.queue_url(app, task),
                                          ReceiptHandle=letter.receipt)
        if self.journal is not None:
            self.journal.remove(dlq_name(app, task), letter.run_id)

    def publish_alert(self, topic_arn: str, subject: str, message: str) -> str:
        self._after_provisioning()
        return self.client("sns").publish(
            TopicArn=topic_arn, Subject=subject[:99], Message=message
        )["MessageId"]

    def describe(self) -> dict[str, Any]:
        """What `<state>/cloud.json` holds while the emulator runs."""
        return {
            "kind": self.kind,
            "endpoint": self.endpoint,
            "region": self.region,
            "queues": self.report.queues,
            "secrets": self.report.secrets,
            "topics": self.report.topics,
        }
