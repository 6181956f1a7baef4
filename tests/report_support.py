"""A DST-heavy spec for the report tests: Europe/Berlin around 02:30, in March and October.

In March 2027 the clocks skip 02:00-03:00 on Sunday the 28th, in October they repeat it
on Sunday the 31st. `nightly` (systemd) skips 02:30 on the 28th like every target;
`cron_nightly` (Vixie cron) fires at 03:00 then, which AWS and Kubernetes do not (W300);
`half_hourly` loses 02:00 and 02:30 everywhere; Cloud Scheduler documents none of it.
"""

from __future__ import annotations

from pathlib import Path

DST_SPEC = """\
app clocks

defaults {
  timezone = "Europe/Berlin"
}

task nightly {
  python   = "jobs.main:main"
  schedule = "*-*-* 02:30"
}

task cron_nightly {
  python   = "jobs.main:main"
  schedule = cron("30 2 * * *")
  description = "the same time, read as cron"
}

task half_hourly {
  image    = "busybox:1.36"
  command  = ["sh", "-c", "date"]
  memory   = 512MB
  schedule = every 30m
  targets  = [gcp, k8s]
}

task month_end {
  python   = "jobs.main:main"
  schedule = "Fri *-*~07/1 18:00"
  targets  = [aws]
}
"""
DST_TASKS = ("nightly", "cron_nightly", "half_hourly", "month_end")


def write_dst_spec(directory: Path) -> Path:
    (directory / "jobs").mkdir(exist_ok=True)
    (directory / "jobs" / "__init__.py").write_text("")
    (directory / "jobs" / "main.py").write_text("def main():\n    print('tick')\n")
    path = directory / "clocks.flow"
    path.write_text(DST_SPEC)
    return path
