"""Scale: a spec of N python tasks (default 10,000): `flowc check`, `flowc dev` up to its
first fire plan, and with `--compile` the AWS compile, in wall time and peak memory.

Targets (issue 16): check <= 5 s, dev start <= 5 s, compile peak memory <= 600 MB.
Every task also shares one code directory, as a large generated spec would.

Run: `python benchmarks/bench_scale.py [N] [--compile]`.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_start import dev_first_plan  # benchmarks/ is on sys.path as scripts run

FLOWC = str(Path(sys.executable).parent / "flowc")
TARGETS_S = {"check": 5.0, "dev": 5.0}


def spec(n: int) -> str:
    return "app scale\n" + "".join(
        f'\ntask t{i} {{\n  python   = "jobs:ok"\n'
        f'  schedule = cron("{i % 60} {i % 24} * * *")\n}}\n'
        for i in range(n)
    )


def _project(n: int) -> Path:
    work = Path(tempfile.mkdtemp(prefix="flowc-bench-scale-"))
    (work / "jobs.py").write_text("def ok():\n    pass\n")
    (work / "app.flow").write_text(spec(n))
    return work


def _run(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the child) of a command that must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.monotonic()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if result.returncode not in (0, 1):  # 1: warnings-as-errors do not apply; a crash does
        raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr[-2000:]}")
    return wall, max(peak, before) / 1024


def _dev_start(cwd: Path) -> float:
    try:
        return dev_first_plan(cwd, dict(os.environ, FLOWC_WARM_CLOUD="1"), state="st")
    finally:
        subprocess.run([sys.executable, "-c", "import sys; from flowc.emulator import warmcloud;"
                        " warmcloud.stop(sys.argv[1])", str(cwd / "st" / "cloud")], check=False)


def measure(n: int = 10_000, compile_too: bool = False) -> dict[str, float]:
    work = _project(n)
    out: dict[str, float] = {"tasks": n}
    out["check_s"], out["check_mb"] = _run([FLOWC, "check", "app.flow"], work)
    out["dev_s"] = _dev_start(work)
    if compile_too:
        out["compile_s"], out["compile_mb"] = _run(
            [FLOWC, "compile", "app.flow", "--target", "aws", "--out", str(work / "out")], work)
    return out


def report(m: dict[str, float]) -> str:
    lines = [f"{m['tasks']:.0f} tasks",
             f"flowc check      {m['check_s']:.1f} s (target {TARGETS_S['check']:.0f} s), "
             f"peak {m['check_mb']:.0f} MB",
             f"flowc dev start  {m['dev_s']:.1f} s to the first plan (target "
             f"{TARGETS_S['dev']:.0f} s)"]
    if "compile_s" in m:
        lines.append(f"flowc compile aws {m['compile_s']:.1f} s, peak {m['compile_mb']:.0f} MB")
    return "\n".join(lines) + f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def test_scale_1000_tasks(benchmark):
    results: list[dict[str, float]] = []
    benchmark.pedantic(lambda: results.append(measure(1000)), rounds=1, iterations=1)
    print("\n" + report(results[0]))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(report(measure(int(args[0]) if args else 10_000, "--compile" in sys.argv)))
