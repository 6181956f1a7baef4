"""`flowc up` of a 7-task spec, then again after editing one task's module: the second
applies only that task's change (per-task packages, flowc/targets/task_code.py).

Each task has its own module; all share `jobs/common.py`. Reported: wall time of the
first `up`, of an `up` with nothing changed, and of an `up` after editing one task's
module, with their ratios to the first. The claim (issue 16): the one-file-edit `up`
takes <= 25% of the first. Uses the embedded AWS emulator `flowc up` starts (stopped at
the end with `flowc down`).

Where the time goes: `flowc up` prints one line per finished resource with Terraform's
own `elapsed_seconds` (apply_complete in its `-json` stream); the slowest of each `up`
are listed. BEFORE holds the same figures measured before the local-cloud speed-ups of
issue 16 point 4 (see docs/deploy.md), for comparison.

Run: `python benchmarks/bench_up.py`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOWC = str(Path(sys.executable).parent / "flowc")
TASKS = 7
LIMIT = 0.25
TOP = 6
# one finished resource as flowc up prints it: "  + aws_sqs_queue.x  (task x)  25s"
_DONE = re.compile(r"^\s+\S+ (?P<address>[\w.\[\]\"-]+)\s+\((?P<owner>[^)]*)\)"
                   r"\s+(?P<secs>\d+)s\s*$")


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


# measured at commit e0655dc (before issue 16 point 4) by this script, load average 7.6
BEFORE = {"first_s": 94.0, "unchanged_s": 27.6, "edited_s": 32.0}


def slowest(output: str) -> list[tuple[str, int]]:
    """(address, seconds) of the resources `flowc up` printed, slowest first."""
    found = [(m["address"], int(m["secs"])) for line in output.splitlines()
             if (m := _DONE.match(line))]
    return sorted(found, key=lambda row: -row[1])[:TOP]


def _up(work: Path) -> tuple[float, list[tuple[str, int]]]:
    began = time.monotonic()
    result = subprocess.run([FLOWC, "up", "app.flow", "--yes", "--state", "st"], cwd=work,
                            capture_output=True, text=True, env=dict(os.environ))  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"flowc up failed: {(result.stdout + result.stderr)[-3000:]}")
    return time.monotonic() - began, slowest(result.stdout + result.stderr)


def measure() -> dict:
    work = _project()
    try:
        first, first_top = _up(work)
        unchanged, _ = _up(work)
        module = work / "jobs" / "t3.py"
        module.write_text(module.read_text().replace("greet('t3')", "greet('task three')"))
        edited, edited_top = _up(work)
    finally:
        subprocess.run([FLOWC, "down", "app.flow", "--state", "st"], cwd=work,
                       capture_output=True, text=True)  # fmt: skip
    return {"first_s": first, "unchanged_s": unchanged, "edited_s": edited,
            "first_top": first_top, "edited_top": edited_top}


def report(m: dict) -> str:
    def row(label: str, key: str) -> str:
        was = BEFORE[key]
        return (f"{label:<32} {m[key]:6.1f} s  (before {was:.0f} s: {m[key] / was:.2f}x; "
                f"{m[key] / m['first_s']:.0%} of the first)")
    lines = [row(f"flowc up, first ({TASKS} tasks)", "first_s"),
             row("flowc up, nothing changed", "unchanged_s"),
             row("flowc up, one module edited", "edited_s")
             + f"  limit {LIMIT:.0%} of the first"]
    for title, key in (("first up", "first_top"), ("one-module-edit up", "edited_top")):
        lines.append(f"slowest resources, {title} (Terraform elapsed_seconds):")
        lines += [f"  {secs:4d} s  {address}" for address, secs in m[key]]
    lines.append(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return "\n".join(lines)


def test_one_file_edit_up(benchmark):
    results: list[dict[str, float]] = []
    benchmark.pedantic(lambda: results.append(measure()), rounds=1, iterations=1)
    print("\n" + report(results[0]))


if __name__ == "__main__":
    print(report(measure()))
