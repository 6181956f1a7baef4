"""The local emulator behind `flowc dev` and `flowc run` (SPEC §4), built on the IR.

One job per module: `clock` (real/virtual time), `scheduler` (queue of next fires),
`executor` (a run: attempts, retries, dead letter), `runners` (processes, Docker),
`cloud` (LocalStack or embedded moto), `secrets` (local secret values), `alerts`,
`history` (SQLite), `events` (JSONL), `watch` (hot reload), `view` (terminal output),
`session` (wires them together).
"""
