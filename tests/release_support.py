"""Helpers for the release tests: a spec with a canary and a layer, a local wheel for the
layer (no network), and a release log that has seen deployed versions.

`project(tmp)` writes `app.flow`, `jobs/main.py` and `layer-requirements.txt` (a wheel
built here, deterministic bytes) and returns the spec path. `seen(...)` records in the
log what a Terraform state would show after deploys, the way `flowc up` does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flowc.compiler.ir import App
from flowc.compiler.pipeline import load
from flowc.releases.log import Deployed, ReleaseLog
from flowc.releases.plan import deployment_key
from flowc.targets.packaging import deterministic_zip

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)

SPEC = """\
app shop
release { alias = "live"  canary = 10%  for = 30m }
layer shared { requirements = "layer-requirements.txt" }

task nightly {
  python   = "jobs.main:main"
  schedule = "Mon..Fri 02:00"
  timezone = "Europe/Berlin"
  targets  = [aws]
  layers   = [shared]
  on_failure = {on_failure}
  alert errors > 0 notify "ops@shop.example"
}

environment prod {
  aws { region = "eu-west-1" }
}
"""

WHEEL = "tinylayer-0.1-py3-none-any.whl"


def write_wheel(path: Path) -> None:
    dist = "tinylayer-0.1.dist-info"
    path.write_bytes(deterministic_zip({
        "tinylayer/__init__.py": b"GREETING = 'from the layer'\n",
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: tinylayer\nVersion: 0.1\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
        f"{dist}/RECORD": b"",
    }))


def write_code(base: Path, text: str = "v1") -> None:
    (base / "jobs").mkdir(parents=True, exist_ok=True)
    (base / "jobs" / "__init__.py").write_text("")
    (base / "jobs" / "main.py").write_text(
        f"def main():\n    print({text!r})\n")


def project(base: Path, on_failure: str = "dead_letter", code: str = "v1") -> Path:
    base.mkdir(parents=True, exist_ok=True)
    write_wheel(base / WHEEL)
    (base / "layer-requirements.txt").write_text(f"# a local wheel: no network\n./{WHEEL}\n")
    write_code(base, code)
    spec = base / "app.flow"
    spec.write_text(SPEC.replace("{on_failure}", on_failure))
    return spec


def loaded(spec: Path, env: str | None = "prod") -> App:
    result = load(spec, env)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.app


def seen(state: Path, app: App, workdir: Path, **tasks: Deployed) -> None:
    """Record what `workdir`'s Terraform state would show for `tasks`."""
    log = ReleaseLog.load(state, app)
    log.sync(deployment_key(workdir), tasks, "test deploy", NOW)
    log.save()
