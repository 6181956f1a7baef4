"""How long `flowc check` takes on a large spec (parse + check + schedule translation).

Run: make bench (pytest-benchmark) — prints per-call times; the claim is that checking
300 tasks stays far below a second on a laptop.
"""

from __future__ import annotations

from flowc.compiler.pipeline import load_text

SPEC = "".join(
    f'task t{i} {{\n  python = "jobs.main:main"\n  schedule = ["Mon..Fri 09:00", every 90m]\n'
    f'  memory = 512MB\n  env {{ A = "{i}" }}\n}}\n'
    for i in range(300)
)


def test_check_300_tasks(benchmark):
    result = benchmark(load_text, SPEC, "bench.flow")
    assert result.app is not None and len(result.app.tasks) == 300
