"""Independent evaluators of each target's schedule semantics, used only by tests.

They share no code with flowc.compiler.schedules: `systemd` runs the real
`systemd-analyze calendar`, `unix_cron` wraps croniter, and `aws_cron` is a
small brute-force evaluator written from the EventBridge Scheduler docs.
"""
