"""Runs `terraform init`, `apply` and `destroy` in one working directory, streaming events.

`apply`/`destroy` run with `-json` (Terraform's machine-readable UI) and hand each line
to a callback as an `Event` while collecting a `Result`: the plan's and the apply's
change counts, each resource's planned action, completed and failed resources, and
Terraform's diagnostics (`blame.py` turns those into flowc diagnostics).

Providers come from the filesystem mirror (`FLOWC_TF_PLUGIN_MIRROR`, default
/opt/tf-plugins, SPEC §3) through a CLI config file given as TF_CLI_CONFIG_FILE; only the
providers the mirror holds are taken from it, others from the registry (cached under
the state directory). Terraform runs without the caller's AWS_* and TF_CLI_ARGS* variables,
so it never reaches a real account or gets extra arguments.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.diagnostics import Diagnostic, DiagnosticError

DEFAULT_MIRROR = Path("/opt/tf-plugins")
RC_FILE = "terraform.rc"
PLUGIN_CACHE = "plugin-cache"
# resources applied at once (Terraform's default is 10): against a local cloud most of an
# apply is the provider sleeping in its propagation waits (an SQS queue >= 25 s, a KMS
# key ~13 s), not the emulator working, so overlapping more of them shortens the apply
PARALLELISM = 32
# records what `terraform init` was last run for, so an unchanged directory skips it
INIT_STAMP = "flowc-init.json"
# Terraform's -json stream of the last command run in a directory, kept for `bench_up.py`
# and for a look at where an `up` spent its time (each line carries its @timestamp)
EVENTS_FILE = "flowc-terraform.jsonl"
# Go's garbage collector target for terraform and its providers: much of a one-edit `up`
# is the AWS provider building its ~1,800 resource schemas, in each of the 4 provider
# processes of an apply, mostly allocation; collecting at 4x the live heap instead of 2x
# cut a plan's CPU by a third for ~150 MB more memory per process (docs/deploy.md "Speed")
GO_GC = "400"


class TerraformError(DiagnosticError):
    """Terraform could not run or failed; carries the diagnostic."""


@dataclass(frozen=True)
class Event:
    """One line of Terraform's JSON UI (type e.g. apply_start, apply_complete, diagnostic)."""

    type: str
    message: str
    address: str | None = None
    action: str | None = None
    elapsed: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, line: str) -> Event:
        try:
            data = json.loads(line)
        except ValueError:
            return cls("text", line.rstrip("\n"))
        if not isinstance(data, dict):
            return cls("text", line.rstrip("\n"))
        hook = data.get("hook") or data.get("change") or {}
        resource = hook.get("resource") or {}
        address = resource.get("addr")
        if data.get("type") == "diagnostic":
            address = (data.get("diagnostic") or {}).get("address")
        return cls(data.get("type", "text"), data.get("@message", ""), address,
                   hook.get("action"), hook.get("elapsed_seconds"), data)


@dataclass
class Result:
    returncode: int = 0
    plan: tuple[int, int, int] | None = None  # add, change, remove
    applied: tuple[int, int, int] | None = None
    planned: dict[str, str] = field(default_factory=dict)  # address -> action
    completed: list[tuple[str, str, float]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # address -> action
    errors: list[dict[str, Any]] = field(default_factory=list)  # Terraform diagnostics
    warnings: list[dict[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # lines that were not JSON

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.errors

    @property
    def replaced(self) -> list[str]:
        return sorted(a for a, action in self.planned.items() if action == "replace")

    def add(self, event: Event) -> None:
        if event.type == "planned_change" and event.address:
            self.planned[event.address] = event.action or ""
        elif event.type == "change_summary":
            changes = event.raw.get("changes", {})
            counts = (changes.get("add", 0), changes.get("change", 0), changes.get("remove", 0))
            if changes.get("operation") == "plan":
                self.plan = counts
            else:
                self.applied = counts
        elif event.type == "apply_complete" and event.address:
            self.completed.append((event.address, event.action or "", event.elapsed or 0.0))
        elif event.type == "apply_errored" and event.address:
            self.failed[event.address] = event.action or ""
        elif event.type == "diagnostic":
            diag = dict(event.raw.get("diagnostic") or {})
            diag.setdefault("action", self.failed.get(diag.get("address") or "", ""))
            (self.errors if diag.get("severity") == "error" else self.warnings).append(diag)
        elif event.type == "text" and event.message.strip():
            self.text.append(event.message)


def find_terraform(environ: Mapping[str, str] | None = None) -> str:
    """The terraform binary on PATH; E602 when there is none."""
    environ = os.environ if environ is None else environ
    found = shutil.which("terraform", path=environ.get("PATH", os.defpath))
    if found is None:
        raise TerraformError(Diagnostic(
            "E602", "`terraform` was not found on PATH; flowc up applies the AWS output "
            "with it", None,
            "install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install) "
            "and put it on PATH"))
    return found


def mirror_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("FLOWC_TF_PLUGIN_MIRROR") or DEFAULT_MIRROR)


def mirrored_providers(mirror: Path) -> list[str]:
    """`host/namespace/type` of every provider in a filesystem mirror (unpacked layout)."""
    if not mirror.is_dir():
        return []
    return sorted(
        f"{ns.parent.name}/{ns.name}/{ty.name}"
        for ns in mirror.glob("*/*") if ns.is_dir()
        for ty in ns.iterdir() if ty.is_dir()
    )


def write_cli_config(root: Path, mirror: Path) -> Path:
    """The CLI config: the mirror's providers from the mirror, the rest from the registry."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    providers = mirrored_providers(mirror)
    lines = [f'plugin_cache_dir = "{(root / PLUGIN_CACHE).resolve()}"',
             "provider_installation {"]
    if providers:
        listed = ", ".join(f'"{p}"' for p in providers)
        lines += ["  filesystem_mirror {", f'    path    = "{mirror.resolve()}"',
                  f"    include = [{listed}]", "  }",
                  "  direct {", f"    exclude = [{listed}]", "  }"]
    else:
        lines += ["  direct {}"]
    lines.append("}")
    (root / PLUGIN_CACHE).mkdir(exist_ok=True)
    path = root / RC_FILE
    text = "\n".join(lines) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def terraform_environment(rc: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items()
           if not k.startswith(("AWS_", "TF_CLI_ARGS")) and k not in ("TF_DATA_DIR",
                                                                     "TF_WORKSPACE")}
    env.update(TF_CLI_CONFIG_FILE=str(Path(rc).resolve()), TF_IN_AUTOMATION="1",
               TF_INPUT="0", CHECKPOINT_DISABLE="1")
    env.setdefault("GOGC", GO_GC)
    return env


class Terraform:
    """terraform in `workdir` with the CLI config `rc`."""

    def __init__(self, workdir: Path, rc: Path, binary: str = "terraform",
                 environ: Mapping[str, str] | None = None):
        self.workdir = Path(workdir)
        self.binary = binary
        self.env = terraform_environment(rc, environ)

    def init(self) -> None:
        """`terraform init`; E603 with Terraform's own error when it fails. Skipped when
        it already ran for the same providers, backend and CLI config (it takes seconds,
        and an unchanged `up` has nothing for it to do)."""
        stamp = self.workdir / ".terraform" / INIT_STAMP
        wanted = self._init_inputs()
        if (self.workdir / ".terraform.lock.hcl").is_file() and stamp.is_file() \
                and stamp.read_text() == wanted:
            return
        self._init()
        stamp.write_text(wanted)

    def _init_inputs(self) -> str:
        """What `terraform init` depends on: every `terraform` block (required providers,
        backend) of the directory's JSON files, and the CLI config naming the mirror."""
        blocks = {path.name: json.loads(path.read_text()).get("terraform")
                  for path in sorted(self.workdir.glob("*.tf.json"))}
        rc = Path(self.env["TF_CLI_CONFIG_FILE"]).read_text()
        return json.dumps({"terraform": blocks, "rc": rc}, sort_keys=True)

    def _init(self) -> None:
        out = subprocess.run(
            [self.binary, "init", "-input=false", "-no-color"], cwd=self.workdir,
            env=self.env, capture_output=True, text=True, start_new_session=True)
        if out.returncode == 0:
            return
        errors = _error_summaries(out.stdout + out.stderr)
        raise TerraformError(Diagnostic(
            "E603", "`terraform init` failed in " f"{self.workdir}: "
            + (errors[0] if errors else f"exit code {out.returncode}"),
            None,
            "the AWS provider must be in the mirror (FLOWC_TF_PLUGIN_MIRROR, default "
            "/opt/tf-plugins) or downloadable from registry.terraform.io",
            tuple(errors[1:4])))

    def apply(self, on_event: Callable[[Event], None] | None = None,
              targets: list[str] | None = None) -> Result:
        """Apply everything, or only `targets` (resource addresses) and what they need."""
        only = [f"-target={address}" for address in targets or ()]
        return self._stream(["apply", "-auto-approve", "-input=false", "-json",
                             "-lock-timeout=60s", *only], on_event)

    def plan(self, plan_file: str, on_event: Callable[[Event], None] | None = None,
             targets: list[str] | None = None) -> Result:
        """`terraform plan`, saved to `plan_file` so that what is confirmed is what applies."""
        only = [f"-target={address}" for address in targets or ()]
        return self._stream(["plan", "-input=false", "-json", "-lock-timeout=60s",
                             f"-out={plan_file}", *only], on_event)

    def apply_plan(self, plan_file: str,
                   on_event: Callable[[Event], None] | None = None) -> Result:
        return self._stream(["apply", "-input=false", "-json", "-lock-timeout=60s",
                             plan_file], on_event)

    def destroy(self, on_event: Callable[[Event], None] | None = None) -> Result:
        return self._stream(["apply", "-destroy", "-auto-approve", "-input=false", "-json",
                             "-lock-timeout=60s"], on_event)

    def _stream(self, args: list[str], on_event: Callable[[Event], None] | None) -> Result:
        result = Result()
        args = [args[0], f"-parallelism={PARALLELISM}", *args[1:]]
        proc = subprocess.Popen([self.binary, *args], cwd=self.workdir, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1,
                                # the terminal's Ctrl-C reaches flowc only, which forwards
                                # exactly one SIGINT (a second makes Terraform drop its state)
                                start_new_session=True)
        assert proc.stdout is not None
        try:
            with open(self.workdir / EVENTS_FILE, "w", encoding="utf-8") as log:
                for line in proc.stdout:
                    log.write(line)
                    event = Event.parse(line)
                    result.add(event)
                    if on_event is not None:
                        on_event(event)
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)  # Terraform stops cleanly and saves its state
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        result.returncode = proc.wait()
        return result


def _error_summaries(text: str) -> list[str]:
    """Each `Error: ...` of Terraform's human output, then its first detail paragraph."""
    out: list[str] = []
    lines = [line.strip().lstrip("│").strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        if not line.startswith("Error: "):
            continue
        out.append(line[len("Error: "):])
        paragraph: list[str] = []
        for follow in lines[i + 1:]:
            if follow.startswith("Error: ") or (not follow and paragraph):
                break
            if follow:
                paragraph.append(follow)
        if paragraph:
            out.append(" ".join(paragraph)[:400])
    return out
