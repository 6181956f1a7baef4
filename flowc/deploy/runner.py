"""`up()` and `down()`: compile, point at the local cloud, apply or destroy, read back.

Each spec and environment is one stack, `<state>/up/<app>[-<env>]/`: `aws/` holds what
`flowc compile --target aws` writes, the override file and Terraform's local state;
`flowc-up.json` records which spec and local cloud it belongs to. The compiled output in
`flowc.out/` (for real accounts) is never touched.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from flowc.compiler.ir import App
from flowc.deploy import applied, localcloud, localstack_scope
from flowc.deploy.blame import blame
from flowc.deploy.inventory import Row, clients, inventory, state_resources
from flowc.deploy.overrides import write_override
from flowc.deploy.plan import Plan, summarise
from flowc.deploy.progress import Progress
from flowc.deploy.subnets import local_subnets
from flowc.deploy.terraform import (
    Result,
    Terraform,
    TerraformError,
    find_terraform,
    mirror_path,
    write_cli_config,
)
from flowc.diagnostics import Diagnostic, has_errors
from flowc.targets.aws import TARGET as AWS
from flowc.targets.compile import TF_FILE

UP_DIR = "up"
PLAN_FILE = "flowc.tfplan"
RECORD = "flowc-up.json"


@dataclass
class Outcome:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cloud: localcloud.LocalCloud | None = None
    result: Result | None = None
    rows: list[Row] = field(default_factory=list)
    others: Any = None
    message: str = ""
    stopped: localcloud.LocalCloud | None = None  # the emulator `down` stopped
    plan: Plan | None = None  # what `terraform plan` said, per task (--plan, confirmation)
    declined: bool = False  # the user said no to the plan: nothing was applied
    unchanged: bool = False  # nothing changed since the last apply: Terraform did not run

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def root_dir(state: Path) -> Path:
    return Path(state) / UP_DIR


def stack_dir(state: Path, stack: str) -> Path:
    return root_dir(state) / stack


def deployed_stacks(state: Path) -> list[str]:
    """Stacks under `state` whose Terraform state still holds resources."""
    root = root_dir(state)
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir()
                  if d.is_dir() and state_resources(d / "aws"))


def find_stack(state: Path, spec: str | Path, env: str | None) -> str | None:
    """The stack a spec (and environment) was brought up as, from the records."""
    root = root_dir(state)
    target = str(Path(spec).resolve())
    for record in sorted(root.glob(f"*/{RECORD}")) if root.is_dir() else []:
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        if data.get("spec") == target and data.get("environment") == env:
            return record.parent.name
    return None


def up(app: App, state: Path, console: Console,
       environ: Mapping[str, str] | None = None, confirm: Callable[[Plan], bool] | None = None,
       plan_only: bool = False, releases: Mapping[str, Any] | None = None,
       refresh: bool = False) -> Outcome:
    """Compile the AWS target for `app` and apply it to the local cloud.

    `releases`: where each task's alias points (flowc.releases.plan.before_up).
    `plan_only`: plan, fill `Outcome.plan` and stop. `confirm`: plan, then apply that saved
    plan only if `confirm(plan)` says yes (`Outcome.declined` otherwise).
    When nothing changed since the last successful apply (flowc/deploy/applied.py) and
    the cloud still holds what it made, Terraform is not run (`Outcome.unchanged`), unless
    `refresh` or `plan_only`.
    """
    out = Outcome()
    if not (app.tasks_for("aws") or app.services_for("aws")):
        out.diagnostics.append(Diagnostic(
            "W601", "no task or service runs on aws, so there is nothing to bring up", None,
            "add `aws` to a task's or service's `targets` (or remove `targets` to run on "
            "every target)"))
        return out
    from flowc.targets.compile import compile_app

    try:
        find_terraform(environ)  # no terraform: say so before compiling
    except TerraformError as exc:
        out.diagnostics.append(exc.diagnostic)
        return out
    sdir = stack_dir(state, app.stack_name)
    workdir = sdir / "aws"
    with console.status("Compiling the AWS target…", spinner="dots"):
        results = compile_app(app, ["aws"], sdir, releases=releases)
    out.diagnostics.extend(d for r in results for d in r.diagnostics)
    if has_errors(out.diagnostics):
        return out
    try:
        with console.status("Starting the local cloud…", spinner="dots"):
            out.cloud = localcloud.ensure(root_dir(state), environ)
    except localcloud.LocalCloudError as exc:
        out.diagnostics.append(exc.diagnostic)
        return out
    console.print(("Started " if out.cloud.started else "Using ") + out.cloud.description)
    _write_record(sdir, app, out.cloud)
    try:
        tf, doc = open_workdir(workdir, out.cloud, state, environ, console, init=True)
    except TerraformError as exc:
        out.diagnostics.append(exc.diagnostic)
        return out
    targets = None
    if out.cloud.kind == "localstack":  # it cannot create everything offline
        targets, diagnostic = localstack_scope.scope(app, doc, out.cloud.endpoint)
        out.diagnostics.extend([diagnostic] if diagnostic else [])
    region = AWS.settings_of(app).region
    if not (plan_only or refresh) and applied.unchanged(workdir, out.cloud):
        out.rows, out.others, diags = inventory(app, doc, workdir, out.cloud.endpoint, region)
        if not diags:
            out.unchanged = True
            return out
        console.print("The local cloud lacks resources the last `up` made: running "
                      "Terraform.")  # W602 again below if it cannot make them
    if plan_only or confirm is not None:
        if not _plan(out, app, doc, tf, workdir, console, targets) or plan_only:
            return out
        assert out.plan is not None
        if not out.plan.empty and not confirm(out.plan):
            out.declined = True
            return out
        if not out.plan.empty:
            applied.forget(workdir)
            with Progress(console, app, doc, "Applying") as progress:
                out.result = tf.apply_plan(PLAN_FILE, progress)
            diags = blame(app, doc, out.result, str(workdir))
            out.diagnostics.extend(diags)
            if out.result.ok and not has_errors(diags):
                applied.remember(workdir, out.cloud)
        (workdir / PLAN_FILE).unlink(missing_ok=True)
    else:
        try:
            out.result, diags = deploy(app, workdir, out.cloud, state, console, environ,
                                       targets=targets)
        except TerraformError as exc:
            out.diagnostics.append(exc.diagnostic)
            return out
        out.diagnostics.extend(diags)
    rows, others, diags = inventory(app, doc, workdir, out.cloud.endpoint, region)
    out.rows, out.others = rows, others
    out.diagnostics.extend(diags)
    return out


def open_workdir(workdir: Path, cloud: localcloud.LocalCloud, state: Path,
                 environ: Mapping[str, str] | None = None, console: Console | None = None,
                 init: bool = False) -> tuple[Terraform, dict[str, Any]]:
    """Point `workdir` at `cloud` (the override file), then a Terraform there, initialised
    (always with `init`, else only if it never was), and the stack's document.

    Raises TerraformError."""
    doc = json.loads((workdir / TF_FILE).read_text())
    subnets = local_subnets(doc, lambda: clients(cloud.endpoint, _region(doc))("ec2"))
    _, diags = write_override(workdir, cloud.endpoint, subnets)
    if has_errors(diags):
        raise TerraformError(next(d for d in diags if d.is_error))
    tf = Terraform(workdir, write_cli_config(root_dir(state), mirror_path(environ)),
                   find_terraform(environ), environ)
    if init or not (workdir / ".terraform").is_dir():
        if console is None:
            tf.init()
        else:
            with console.status("terraform init…", spinner="dots"):
                tf.init()
    return tf, doc


def _region(doc: dict[str, Any]) -> str:
    configs = doc.get("provider", {}).get("aws") or [{}]
    return (configs[0] if isinstance(configs, list) else configs).get("region", "us-east-1")


def deploy(app: App | None, workdir: Path, cloud: localcloud.LocalCloud, state: Path,
           console: Console | None = None, environ: Mapping[str, str] | None = None,
           destroy: bool = False, targets: list[str] | None = None, init: bool = False,
           ) -> tuple[Result, list[Diagnostic]]:
    """Apply (or destroy) a compiled working directory in the local cloud: the one sequence
    `flowc up`, `flowc down` and `flowc rollback` share. Returns Terraform's result and
    the diagnostics that name the tasks behind its errors; a successful apply is
    remembered (flowc/deploy/applied.py). Raises TerraformError."""
    tf, doc = open_workdir(workdir, cloud, state, environ, console, init)
    applied.forget(workdir)
    if console is None:
        result = tf.destroy() if destroy else tf.apply(targets=targets)
    else:
        with Progress(console, app, doc, "Destroying" if destroy else "Applying") as progress:
            result = tf.destroy(progress) if destroy else tf.apply(progress, targets)
    if app is None:
        return result, _unowned(doc, result, workdir)
    diags = blame(app, doc, result, str(workdir), destroying=destroy)
    if not destroy and not targets and result.ok and not has_errors(diags):
        applied.remember(workdir, cloud)
    return result, diags


def _plan(out: Outcome, app: App, doc: dict[str, Any], tf: Terraform, workdir: Path,
          console: Console, targets: list[str] | None) -> bool:
    """`terraform plan` into PLAN_FILE, summarised per task in `out.plan`; False on errors."""
    with Progress(console, app, doc, "Planning") as progress:
        planned = tf.plan(PLAN_FILE, progress, targets)
    out.diagnostics.extend(blame(app, doc, planned, str(workdir)))
    if not planned.ok:
        if not has_errors(out.diagnostics):  # failed without a diagnostic: say so
            out.diagnostics.append(Diagnostic(
                "E605", f"`terraform plan` failed in {workdir}: "
                + (" ".join(planned.text[-3:]) or f"exit code {planned.returncode}"), None,
                "run `flowc up` again; if it persists, run terraform plan there"))
        return False
    out.plan = summarise(app, doc, planned, workdir)
    return True


def down(app: App | None, stack: str, state: Path, console: Console,
         keep_emulator: bool = False, environ: Mapping[str, str] | None = None) -> Outcome:
    """Destroy the stack's resources in the local cloud; stop the emulator when unused."""
    out = Outcome()
    sdir = stack_dir(state, stack)
    workdir = sdir / "aws"
    root = root_dir(state)
    cloud = localcloud.recorded(root)
    if not state_resources(workdir):
        out.message = f"nothing is deployed for {stack}"
        shutil.rmtree(sdir, ignore_errors=True)
    elif cloud is None or (cloud.kind == "moto" and not localcloud.alive(cloud)):
        out.message = (f"the local cloud that held {stack} is no longer running; "
                       "its resources went with it")
        shutil.rmtree(sdir, ignore_errors=True)
    else:
        try:
            if not localcloud.alive(cloud):
                raise localcloud.LocalCloudError(Diagnostic(
                    "E601", f"{cloud.description} does not answer, so its resources cannot "
                    "be destroyed", None,
                    "start it again (LOCALSTACK_HOST) and rerun `flowc down`"))
            out.result, diags = deploy(app, workdir, cloud, state, console, environ,
                                       destroy=True)
        except (TerraformError, localcloud.LocalCloudError) as exc:
            out.diagnostics.append(exc.diagnostic)
            return out
        out.diagnostics.extend(diags)
        if not out.ok:
            return out
        shutil.rmtree(sdir, ignore_errors=True)
        out.message = f"destroyed {stack} in {cloud.description}"
    remaining = deployed_stacks(state)
    if remaining and not keep_emulator and cloud is not None:
        out.message += f"; the local cloud keeps running for {', '.join(remaining)}"
    elif not keep_emulator:
        if cloud is not None and cloud.kind == "moto":
            out.stopped = localcloud.stop(root)
        else:
            localcloud.forget(root)
    return out


def _unowned(doc: dict[str, Any], result: Result, workdir: Path) -> list[Diagnostic]:
    """Errors of a destroy whose spec no longer loads: nothing to blame but the stack."""
    empty = App(name="", source="", base_dir=".", environment=None, tasks=(), secrets=())
    return blame(empty, doc, result, str(workdir), destroying=True)


def _write_record(sdir: Path, app: App, cloud: localcloud.LocalCloud) -> None:
    record = {"spec": str(Path(app.source).resolve()), "environment": app.environment,
              "stack": app.stack_name, "kind": cloud.kind, "endpoint": cloud.endpoint}
    sdir.mkdir(parents=True, exist_ok=True)
    (sdir / RECORD).write_text(json.dumps(record, indent=2) + "\n")
