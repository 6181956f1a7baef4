"""Instant start: `flowc run` of a task that takes 0.1 s, and `flowc dev` up to its first
fire plan, in wall time, against the floor every command pays: starting Python and
importing flowc's CLI (`python -c "import flowc.cli"`).

The state directory is fresh, so the first `flowc run` also starts its warm embedded
AWS server (flowc/emulator/warmcloud.py); the later ones find it running.
Reported: each time, the medians, and what flowc adds on top of the floor and the task's
own 0.1 s. The claims (issue 16): `run` <= 1.0 s and `dev` first plan <= 1.0 s; on a
loaded machine compare the margins over the floor.

Run: `python benchmarks/bench_start.py [ROUNDS]` (default 5), or `make bench`.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOWC = str(Path(sys.executable).parent / "flowc")
LIMIT_S = 1.0
TASK_S = 0.1
SPEC = """\
app quick

task nap {
  python   = "jobs:nap"
  schedule = every 1h
}
"""


def _project() -> tuple[Path, dict[str, str]]:
    work = Path(tempfile.mkdtemp(prefix="flowc-bench-start-"))
    (work / "jobs.py").write_text(f"import time\n\ndef nap():\n    time.sleep({TASK_S})\n")
    (work / "app.flow").write_text(SPEC)
    return work, dict(os.environ, FLOWC_CLOUD_DIR=str(work / "cloud"))  # `run` and `dev`


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    began = time.monotonic()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr[-2000:]}")
    return time.monotonic() - began


def dev_first_plan(cwd: Path, env: dict[str, str], state: str = "dev-state") -> float:
    """Wall seconds from starting `flowc dev` to its `next fires` line (also bench_scale)."""
    began = time.monotonic()
    proc = subprocess.Popen([FLOWC, "dev", "app.flow", "--plain", "--no-watch", "--state",
                             state], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "next fires" in line:
                return time.monotonic() - began
        raise SystemExit("flowc dev ended before printing its plan")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a huge spec may not stop in time: by force
            proc.kill()
            proc.wait()


def measure(rounds: int = 5) -> dict[str, list[float]]:
    work, env = _project()
    try:
        out = {
            "floor": [_timed([sys.executable, "-c", "import flowc.cli"], work, env)
                      for _ in range(rounds)],
            "run_cold": [_timed([FLOWC, "run", "app.flow", "nap", "--state", "st"], work, env)],
            "run": [_timed([FLOWC, "run", "app.flow", "nap", "--state", "st"], work, env)
                    for _ in range(rounds)],
            "dev_plan": [dev_first_plan(work, env) for _ in range(rounds)],
        }
    finally:
        subprocess.run([sys.executable, "-c", "import sys; from flowc.emulator import warmcloud;"
                        " warmcloud.stop(sys.argv[1])", str(work / "cloud")], check=False)
    return out


def report(m: dict[str, list[float]]) -> str:
    med = {k: statistics.median(v) for k, v in m.items()}
    load = os.getloadavg()[0]
    return (
        f"import flowc.cli (floor)       {med['floor']:.2f} s median\n"
        f"flowc run, first (starts AWS)  {m['run_cold'][0]:.2f} s\n"
        f"flowc run of a {TASK_S} s task      {med['run']:.2f} s median "
        f"(limit {LIMIT_S:.1f}); over the floor: {med['run'] - med['floor']:.2f} s, of which "
        f"the task {TASK_S} s\n"
        f"flowc dev to its first plan    {med['dev_plan']:.2f} s median "
        f"(limit {LIMIT_S:.1f}); over the floor: {med['dev_plan'] - med['floor']:.2f} s\n"
        f"ratios: run/floor {med['run'] / med['floor']:.2f}, dev/floor "
        f"{med['dev_plan'] / med['floor']:.2f}; load average {load:.1f} on {os.cpu_count()} "
        "cores"
    )


def test_start_times(benchmark):
    results: list[dict[str, list[float]]] = []
    benchmark.pedantic(lambda: results.append(measure(3)), rounds=1, iterations=1)
    print("\n" + report(results[0]))


if __name__ == "__main__":
    print(report(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
