"""`flowc up` loops on a 7-task spec, in one run: the first `up`, an `up` with nothing
changed, an `up` after editing one task's module, and a rollback of that task's alias.

Each task has its own module; all share `jobs/common.py`. Reported: the wall time of
each command and its ratio to the first `up`. The claim (issue 16): the one-module-edit
`up` takes <= 25% of the first (per-task packages, flowc/targets/task_code.py, and the
local-cloud speed-ups of docs/deploy.md "Speed"). Uses the embedded AWS emulator
`flowc up` starts (stopped at the end with `flowc down`).

Where the time goes: `flowc up` keeps Terraform's `-json` stream of its last command in
the stack directory (flowc/deploy/terraform.py EVENTS_FILE). From its @timestamps, for the
edit `up` and the rollback: Terraform starting and loading the provider's schemas before
it reads anything, the refresh, the plan, the apply (each resource with Terraform's own
elapsed seconds) and the end; what remains of the wall time is flowc's own (Python
start, compile, reading the cloud back). The slowest resources of the first `up` are
listed too. BEFORE holds figures measured by this script before the last change to
`up`'s speed, for comparison.

Run: `python benchmarks/bench_up.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

FLOWC = str(Path(sys.executable).parent / "flowc")
TASKS = 7
LIMIT = 0.25
TOP = 6
STACK_DIR = Path("st/up/upbench/aws")  # flowc up --state st of app `upbench`
EVENTS = STACK_DIR / "flowc-terraform.jsonl"  # flowc.deploy.terraform.EVENTS_FILE


def _project() -> Path:
    work = Path(tempfile.mkdtemp(prefix="flowc-bench-up-"))
    jobs = work / "jobs"
    jobs.mkdir()
    (jobs / "__init__.py").write_text("")
    (jobs / "common.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    tasks = []
    for i in range(TASKS):
        (jobs / f"t{i}.py").write_text(
            f"from jobs.common import greet\n\ndef main():\n    print(greet('t{i}'))\n")
        tasks.append(f'task t{i} {{\n  python   = "jobs.t{i}:main"\n'
                     f'  schedule = cron("{i} 3 * * *")\n}}\n')
    (work / "app.flow").write_text("app upbench\n\n" + "\n".join(tasks))
    return work


# measured at commit 117616f (GOGC unset, every `up` runs terraform apply) by this script,
# load average 4.3 on 2 cores (the rollback was not measured then)
BEFORE = {"first_s": 79.3, "unchanged_s": 13.8, "edited_s": 22.6, "rollback_s": None}


def where_the_time_goes(events: list[dict]) -> dict:
    """Phases of one Terraform command from its -json stream (seconds), and each applied
    resource's own elapsed seconds."""
    def at(event: dict) -> float:
        return datetime.fromisoformat(event["@timestamp"]).timestamp()

    if not events:
        return {"terraform_s": 0.0, "phases": [], "resources": []}
    start, end = at(events[0]), at(events[-1])
    refresh = [at(e) for e in events if e["type"].startswith("refresh_")]
    planned = [at(e) for e in events if e["type"] == "change_summary"
               and e.get("changes", {}).get("operation") == "plan"]
    changes = [e for e in events if e["type"] in ("apply_start", "apply_complete")
               and e["hook"].get("action") != "read"]  # data sources are read while planning
    applying = [at(e) for e in changes]
    marks = [("terraform start, provider schemas, validation", start)]
    if refresh:
        marks.append((f"refresh ({sum(e['type'] == 'refresh_complete' for e in events)} "
                      "resources)", min(refresh)))
        marks.append(("plan", max(refresh)))
    elif planned:
        marks.append(("plan", planned[0]))
    if applying:
        marks.append(("apply: a provider process for it", planned[0] if planned else start))
        marks.append(("apply", min(applying)))
        marks.append(("outputs, state written", max(applying)))
    marks.append(("", end))
    phases = [(label, after - before) for (label, before), (_, after)
              in zip(marks, marks[1:], strict=False) if label and after >= before]
    resources = sorted(((e["hook"]["resource"]["addr"], e["hook"].get("action", ""),
                         e["hook"].get("elapsed_seconds", 0))
                        for e in changes if e["type"] == "apply_complete"),
                       key=lambda row: -row[2])
    return {"terraform_s": end - start, "phases": phases, "resources": resources}


def _run(work: Path, *args: str) -> tuple[float, dict]:
    """Wall time of one flowc command, and where its Terraform command spent it."""
    (work / EVENTS).unlink(missing_ok=True)
    began = time.monotonic()
    result = subprocess.run([FLOWC, *args], cwd=work, capture_output=True, text=True,
                            env=dict(os.environ))
    took = time.monotonic() - began
    if result.returncode != 0:
        raise SystemExit(f"flowc {' '.join(args)} failed: "
                         f"{(result.stdout + result.stderr)[-3000:]}")
    try:
        lines = (work / EVENTS).read_text().splitlines()
    except FileNotFoundError:  # no terraform command ran
        lines = []
    return took, where_the_time_goes([json.loads(line) for line in lines if line.strip()])


def _up(work: Path) -> tuple[float, dict]:
    return _run(work, "up", "app.flow", "--yes", "--state", "st")


def _first_release(work: Path) -> str:
    out = subprocess.run([FLOWC, "releases", "app.flow", "--state", "st", "--format", "json"],
                         cwd=work, capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout)["releases"][0]["id"]


def measure() -> dict:
    work = _project()
    try:
        first, first_tf = _up(work)
        unchanged, unchanged_tf = _up(work)
        module = work / "jobs" / "t3.py"
        module.write_text(module.read_text().replace("greet('t3')", "greet('task three')"))
        edited, edited_tf = _up(work)
        rollback, rollback_tf = _run(work, "rollback", "app.flow", "t3", "--to",
                                     _first_release(work), "--state", "st")
    finally:
        subprocess.run([FLOWC, "down", "app.flow", "--state", "st"], cwd=work,
                       capture_output=True, text=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    # the claim is about an `up` that applies only the edited task's changes, and a
    # rollback that moves its alias: say so if either did something else
    for label, tf in (("edit", edited_tf), ("rollback", rollback_tf)):
        touched = {address for address, _, _ in tf["resources"]}
        if not touched or any(".t3_" not in address for address in touched):
            raise SystemExit(f"the {label} changed {sorted(touched) or 'nothing'}, "
                             "not task t3's resources")
    return {"first_s": first, "unchanged_s": unchanged, "edited_s": edited,
            "rollback_s": rollback, "first_tf": first_tf, "unchanged_tf": unchanged_tf,
            "edited_tf": edited_tf, "rollback_tf": rollback_tf}


def _breakdown(title: str, wall: float, tf: dict) -> list[str]:
    lines = [f"where the time goes, {title} ({wall:.1f} s wall):"]
    lines += [f"  {secs:5.1f} s  terraform: {label}" for label, secs in tf["phases"]]
    lines += [f"           {secs:4.0f} s  {action:<7} {address}"
              for address, action, secs in tf["resources"][:TOP]]
    lines.append(f"  {wall - tf['terraform_s']:5.1f} s  flowc itself (Python, compile, "
                 "reading the cloud back)" + ("" if tf["phases"] else "; no terraform ran"))
    return lines


def report(m: dict) -> str:
    def row(label: str, key: str) -> str:
        was = BEFORE[key]
        line = f"{label:<34} {m[key]:6.1f} s  {m[key] / m['first_s']:4.0%} of the first"
        if was:
            line += (f"  (before: {was:.1f} s, {was / BEFORE['first_s']:.0%} of the first; "
                     f"now {m[key] / was:.2f}x)")
        return line
    lines = [row(f"flowc up, first ({TASKS} tasks)", "first_s"),
             row("flowc up, nothing changed", "unchanged_s"),
             row("flowc up, one module edited", "edited_s") + f"  limit {LIMIT:.0%}",
             row("flowc rollback of one alias", "rollback_s")]
    lines.append("slowest resources, first up (Terraform elapsed_seconds):")
    lines += [f"  {secs:4.0f} s  {address}" for address, _, secs in
              m["first_tf"]["resources"][:TOP]]
    lines += _breakdown("nothing changed", m["unchanged_s"], m["unchanged_tf"])
    lines += _breakdown("one module edited", m["edited_s"], m["edited_tf"])
    lines += _breakdown("rollback", m["rollback_s"], m["rollback_tf"])
    lines.append(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return "\n".join(lines)


def test_one_file_edit_up(benchmark):
    results: list[dict] = []
    benchmark.pedantic(lambda: results.append(measure()), rounds=1, iterations=1)
    print("\n" + report(results[0]))


if __name__ == "__main__":
    print(report(measure()))
