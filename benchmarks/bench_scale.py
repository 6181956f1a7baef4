"""Scale: a spec of N python tasks (default 10,000): `flowc check`, `flowc dev` up to its
first fire plan, and with `--compile` the compile of all targets (AWS, GCP, Kubernetes)
against a bare cdktf app synthesizing as many resources, in wall time and peak memory.

Targets (issue 16): check <= 5 s, dev start <= 5 s, compile <= 1.0 x the bare app, compile
peak memory (the whole process tree: Python and cdktf's Node) <= 600 MB.
Every task also shares one code directory, as a large generated spec would.

Run: `python benchmarks/bench_scale.py [N] [--compile]`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_start import dev_first_plan  # benchmarks/ is on sys.path as scripts run

FLOWC = str(Path(sys.executable).parent / "flowc")
TARGETS_S = {"check": 5.0, "dev": 5.0}
COMPILE_RATIO = 1.0
COMPILE_MB = 600


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


def _tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants now, in MB (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    total_kb, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total_kb += next((int(line.split()[1]) for line in status.splitlines()
                          if line.startswith("VmRSS:")), 0)
    return total_kb / 1024


def _cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _run_tree(cmd: list[str], cwd: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak MB of the whole process tree) of a command that must
    succeed; the tree (Python, its workers and the Node processes cdktf starts) is sampled
    every 100 ms. CPU time, unlike wall time, hardly depends on what else the machine runs."""
    cpu = _cpu_s()
    began = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.monotonic() - began
    done.set()
    sampler.join()
    if proc.returncode not in (0, 1):  # 1: the spec's errors; a crash is not
        raise SystemExit(f"{' '.join(cmd)} failed: {err[-2000:]}")
    return wall, _cpu_s() - cpu, peak[0]


def _resource_counts(out: Path) -> dict[str, int]:
    """Resources and data sources per target in a compile's output directory."""
    counts = {}
    for tf in sorted(out.glob("*/cdk.tf.json")):
        doc = json.loads(tf.read_text())
        counts[tf.parent.name] = sum(len(v) for section in ("resource", "data")
                                     for v in doc.get(section, {}).values())
    return counts


BARE = """
import json, os, sys, tempfile
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
import cdktf
with tempfile.TemporaryDirectory() as tmp:
    app = cdktf.App(outdir=tmp, skip_validation=True)
    for target, n in json.loads(sys.argv[1]).items():
        stack = cdktf.TerraformStack(app, "bench-" + target)
        for i in range(n):
            cdktf.TerraformResource(stack, f"r{i}", terraform_resource_type="null_resource")
    app.synth()
"""


def _compile(work: Path) -> dict[str, float]:
    """Compile of all targets, then a bare cdktf app with as many resources per stack."""
    flowc = _run_tree([FLOWC, "compile", "app.flow", "--out", "out"], work)
    counts = _resource_counts(work / "out")
    bare = _run_tree([sys.executable, "-c", BARE, json.dumps(counts)], work)
    return {"compile_s": flowc[0], "compile_cpu_s": flowc[1], "compile_mb": flowc[2],
            "bare_s": bare[0], "bare_cpu_s": bare[1], "bare_mb": bare[2],
            "resources": sum(counts.values())}


def _dev_start(cwd: Path) -> float:
    try:
        return dev_first_plan(cwd, dict(os.environ, FLOWC_WARM_CLOUD="1"), state="st")
    finally:
        subprocess.run([sys.executable, "-c", "import sys; from flowc.emulator import warmcloud;"
                        " warmcloud.stop(sys.argv[1])", str(cwd / "st" / "cloud")], check=False)


def measure(n: int = 10_000, compile_too: bool = False) -> dict[str, float]:
    work = _project(n)
    out: dict[str, float] = {"tasks": n}
    out["check_s"], out["check_cpu_s"], out["check_mb"] = _run_tree([FLOWC, "check",
                                                                      "app.flow"], work)
    out["dev_s"] = _dev_start(work)
    out["dev_again_s"] = _dev_start(work)  # on the state the first one left
    if compile_too:
        out.update(_compile(work))
    return out


def report(m: dict[str, float]) -> str:
    lines = [f"{m['tasks']:.0f} tasks",
             f"flowc check      {m['check_s']:.1f} s ({m['check_cpu_s']:.1f} s CPU; target "
             f"{TARGETS_S['check']:.0f} s), peak {m['check_mb']:.0f} MB",
             f"flowc dev start  {m['dev_s']:.1f} s to the first plan, {m['dev_again_s']:.1f} s "
             f"again on its state (target {TARGETS_S['dev']:.0f} s)"]
    if "compile_s" in m:
        lines += [f"flowc compile (aws, gcp, k8s: {m['resources']:.0f} resources) "
                  f"{m['compile_s']:.1f} s ({m['compile_cpu_s']:.0f} s CPU), peak "
                  f"{m['compile_mb']:.0f} MB (target {COMPILE_MB} MB)",
                  f"bare cdktf app, same resources {m['bare_s']:.1f} s "
                  f"({m['bare_cpu_s']:.0f} s CPU), peak {m['bare_mb']:.0f} MB",
                  f"compile / bare  {m['compile_s'] / m['bare_s']:.2f} x wall "
                  f"(target <= {COMPILE_RATIO:.1f}), "
                  f"{m['compile_cpu_s'] / m['bare_cpu_s']:.2f} x CPU"]
    return "\n".join(lines) + f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def test_scale_1000_tasks(benchmark):
    results: list[dict[str, float]] = []
    benchmark.pedantic(lambda: results.append(measure(1000)), rounds=1, iterations=1)
    print("\n" + report(results[0]))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(report(measure(int(args[0]) if args else 10_000, "--compile" in sys.argv)))
