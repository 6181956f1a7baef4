"""The attempt supervisor: a tiny process between flowc and a task that catches every descendant.

flowc runs it as `python -I -S -c <this file's text> PARENT_PID -- ARGV...` (it imports
nothing from flowc, so the task's code directory cannot shadow it). It:
- becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so processes the task
  starts with `setsid` or by double-forking are re-parented to it, not to pid 1;
- asks for SIGUSR1 when flowc dies (PR_SET_PDEATHSIG), even after `kill -9` of flowc;
- forks and execs ARGV (the task), and waits for it;
- when the task's main process exits, SIGKILLs every remaining descendant, reaps
  them all, and exits with the task's exit code (128+N when signal N killed it).
Signals from flowc: SIGTERM is forwarded to every descendant (a graceful stop);
SIGUSR1 kills every descendant at once (timeout, end of the grace period, flowc died).
"""

import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
ME = os.getpid()


def descendants() -> list[int]:
    """Every live process below this one (from /proc: pid -> parent pid)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], list(children.get(ME, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def signal_all(sig: int) -> None:
    for pid in descendants():
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def reap() -> bool:
    """Reap every exited child; False once there are no children left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def kill_everything() -> None:
    """SIGKILL the whole tree until nothing is left (re-parented orphans included)."""
    while True:
        pids = descendants()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not reap() and not pids:
            return
        time.sleep(0.005)


def main() -> int:
    parent = int(sys.argv[1])
    argv = sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    killing = []
    signal.signal(signal.SIGUSR1, lambda *_: (killing.append(1), signal_all(signal.SIGKILL)))
    signal.signal(signal.SIGTERM, lambda *_: signal_all(signal.SIGTERM))
    signal.signal(signal.SIGINT, lambda *_: None)  # flowc decides; the terminal's ^C is its
    signal.signal(signal.SIGHUP, lambda *_: None)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGUSR1, 0, 0, 0)
    if os.getppid() != parent:  # flowc died before the death signal was armed
        return 128 + signal.SIGKILL
    task = os.fork()
    if task == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    if killing:  # SIGUSR1 came before the fork: the task must not outlive it either
        signal_all(signal.SIGKILL)
    status = None
    while status is None:
        try:
            pid, wait_status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == task:
            status = wait_status
        if killing:  # SIGUSR1 arrived: make sure late forks die too
            signal_all(signal.SIGKILL)
    kill_everything()
    if status is None:
        return 128 + signal.SIGKILL
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main())
