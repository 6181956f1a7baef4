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


# (run id, status, started, finished, seconds its one attempt took) of `nightly`
RUNS = (
    ("r1", "succeeded", "2027-03-01T02:30:00+01:00", "2027-03-01T02:30:04+01:00", 4.0),
    ("r2", "failed", "2027-03-02T02:30:00+01:00", "2027-03-02T02:30:10+01:00", 10.0),
    ("r3", "dead_lettered", "2027-03-03T02:30:00+01:00", "2027-03-03T02:31:00+01:00", 60.0),
)


def write_history(state_dir: Path) -> None:
    """RUNS in the run history under `state_dir`, written as the emulator writes them."""
    from flowc.emulator.history import History

    history = History(state_dir)
    for run_id, status, began, ended, took in RUNS:
        history.start_run(run_id, "clocks", "nightly", "schedule", began, began, began)
        history.record_attempt(run_id, 1, began, ended, began, ended, 1, False, took, None)
        history.finish_run(run_id, status, ended, ended, 1)
    history.close()
