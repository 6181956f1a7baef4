"""The real components flowc's tests and demo run against: dockerd, LocalStack, offline images.

Used by the pytest session fixtures (tests/components_support.py) and by `make demo`:

    python scripts/components.py with-docker [--image NAME ...] -- COMMAND...

runs COMMAND with DOCKER_HOST pointing at a reachable engine (the one already running,
else a private dockerd this script starts and stops), after importing the offline
busybox image under each NAME. Without Docker it says so once and runs COMMAND with the
`--without-docker` arguments added.

Nothing here reaches a registry: images are built from Debian packages
(`busybox-static` via `apt-get download`, a python rootfs via `debootstrap`) and
cached as root-filesystem tarballs under ~/.cache/flowc/images/<key>.tar, where the
key hashes the recipe, so a change of recipe (or a fresh machine) rebuilds them.
Every process started here is stopped by pid: SIGTERM, then SIGKILL after a timeout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flowc"
LOCALSTACK_VENV = ROOT / ".venv-localstack"
LOCALSTACK_SERVICES = "sqs,sns,secretsmanager,scheduler,events,iam,logs,s3,kms,cloudwatch,sts"
BUSYBOX_IMAGE = "flowc-offline/busybox:latest"
PYTHON_IMAGE = "flowc-offline/python:3-bookworm"
SUITE = "bookworm"


class ComponentError(RuntimeError):
    """A component could not be installed, built or started; the message says why."""


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)
    except FileNotFoundError as exc:
        raise ComponentError(f"`{argv[0]}` is not installed ({exc})") from None
    except subprocess.CalledProcessError as exc:
        output = (exc.stderr or exc.stdout or "").strip()[-1500:]
        raise ComponentError(f"`{' '.join(argv[:4])}` failed: {output}") from None


def stop_pid(pid: int, timeout: float) -> None:
    """SIGTERM `pid`, then SIGKILL when it is still there after `timeout` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:  # not our child: poll for it instead
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
            time.sleep(0.05)


def start_until_ready(name: str, argv: list[str], base: Path, ready, stop, timeout: float,
                      env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session (log in base/<name>.log) and wait for `ready()`.

    On exit or timeout: `stop()`, then ComponentError with the log's tail.
    """
    log_path = base / f"{name.lower()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, cwd=base, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True,
                                   preexec_fn=_die_with_parent)  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if ready():
            return process
        time.sleep(0.2)
    stop_pid(process.pid, 10.0)
    stop()
    tail = log_path.read_text(errors="replace")[-2000:]
    raise ComponentError(f"{name} did not become ready within {timeout:.0f}s:\n{tail}")


def unmount_under(base: Path) -> None:
    """Lazily unmount every mount point below `base`, deepest first."""
    prefix = str(base).rstrip("/") + "/"
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    for point in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _libc():
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()  # loaded before any fork: no dlopen in the child (see below)


def _die_with_parent() -> None:
    """In the child (preexec_fn): SIGTERM when the process that started it dies, so a
    killed test session or demo never leaves a daemon behind (Linux PR_SET_PDEATHSIG)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)


def _processes_under(marker: str) -> list[int]:
    """Processes whose command line names `marker`, and all their descendants."""
    parents: dict[int, int] = {}
    roots = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            if marker.encode() in (entry / "cmdline").read_bytes():
                roots.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    found = set(roots)
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    found.discard(os.getpid())
    return sorted(found)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


# dockerd ------------------------------------------------------------------------------


@dataclass
class Dockerd:
    """A private dockerd: own data-root, exec-root, pidfile and socket under `base`."""

    base: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.base / 'docker.sock'}"

    def start(self, timeout: float = 60.0) -> Dockerd:
        binary = shutil.which("dockerd") or "/usr/sbin/dockerd"
        if not Path(binary).exists():
            raise ComponentError(
                "dockerd is not installed and could not be installed: run "
                "scripts/install-docker.sh (apt-get install docker.io) and see its output"
            )
        self.base.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--data-root", str(self.base / "data"), "--exec-root",
                str(self.base / "exec"), "--pidfile", str(self.base / "dockerd.pid"),
                "--host", self.host, "--bridge=none", "--iptables=false", "--ip6tables=false",
                "--shutdown-timeout=2"]  # fmt: skip
        self.process = start_until_ready("dockerd", argv, self.base, self.ping, self.stop,
                                         timeout)
        return self

    def ping(self) -> bool:
        import docker

        try:
            client = docker.DockerClient(base_url=self.host, timeout=2)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False

    def client(self):
        import docker

        return docker.DockerClient(base_url=self.host, timeout=120)

    def import_image(self, tarball: Path, *names: str) -> None:
        client = self.client()
        try:
            import_image(client, tarball, *names)
        finally:
            client.close()

    def crash(self) -> None:
        """SIGKILL dockerd alone (its containers keep running): an engine that went away."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        containerd = _read_pid(self.base / "exec" / "containerd" / "containerd.pid")
        if self.process is not None:
            stop_pid(self.process.pid, 20.0)
            self.process = None
        if containerd is not None:  # dockerd stops its containerd; make sure after a crash
            stop_pid(containerd, 5.0)
        for pid in _processes_under(str(self.base)):  # shims and containers a crash left
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        unmount_under(self.base)  # dockerd leaves exec/netns/default mounted

    def remove(self) -> None:
        """Stop, then delete the data and exec roots."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def engine_reachable(host: str | None = None) -> bool:
    import docker

    try:
        client = docker.DockerClient(base_url=host) if host else docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


# offline images -------------------------------------------------------------------------

BUSYBOX_RECIPE = {"recipe": 1, "package": "busybox-static", "suite": SUITE}
PYTHON_RECIPE = {"recipe": 1, "variant": "minbase", "include": ["python3"],
                 "suite": SUITE, "mirror": "http://deb.debian.org/debian"}  # fmt: skip


def _cached_tar(name: str, recipe: dict, build) -> Path:
    """The cached rootfs tarball for `recipe`, built by `build(rootfs_dir)` when missing."""
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    key = hashlib.sha256(json.dumps(dict(recipe, arch=arch), sort_keys=True).encode()).hexdigest()
    path = CACHE / "images" / f"{name}-{key[:16]}.tar"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"flowc-{name}-") as work:
        rootfs = Path(work) / "rootfs"
        rootfs.mkdir()
        build(rootfs, Path(work))
        partial = path.with_suffix(".partial")
        run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."])
        partial.replace(path)  # atomic: a concurrent builder never sees half a tarball
    return path


def _apt_download(package: str, into: Path) -> Path:
    try:
        run(["apt-get", "download", package], cwd=into)
    except ComponentError:  # the package lists may never have been fetched on this machine
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "download", package], cwd=into)
    return next(into.glob(f"{package}_*.deb"))


def _build_busybox(rootfs: Path, work: Path) -> None:
    deb = _apt_download("busybox-static", work)
    run(["dpkg-deb", "-x", str(deb), str(rootfs)])
    busybox = rootfs / "bin" / "busybox"
    for applet in run([str(busybox), "--list"]).stdout.split():
        link = rootfs / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    for directory in ("tmp", "etc", "proc", "sys", "dev"):
        (rootfs / directory).mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                           "nonroot:x:65532:65532:nonroot:/tmp:/bin/sh\n")


def _build_python(rootfs: Path, work: Path) -> None:
    if not shutil.which("debootstrap"):
        raise ComponentError("debootstrap is not installed: run scripts/install-docker.sh")
    recipe = PYTHON_RECIPE
    run(["debootstrap", f"--variant={recipe['variant']}",
         "--include=" + ",".join(recipe["include"]), recipe["suite"], str(rootfs),
         recipe["mirror"]])  # fmt: skip
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc",
                 "usr/share/man", "usr/share/locale"):  # fmt: skip
        shutil.rmtree(rootfs / junk, ignore_errors=True)
    python = rootfs / "usr" / "bin" / "python"
    if not python.exists():
        python.symlink_to("python3")  # `python` as in the python:* images


def busybox_rootfs() -> Path:
    return _cached_tar("busybox", BUSYBOX_RECIPE, _build_busybox)


def python_rootfs() -> Path:
    return _cached_tar("python", PYTHON_RECIPE, _build_python)


def import_image(client, tarball: Path, *names: str) -> None:
    """`docker import` a rootfs tarball under each name, unless all are already there."""
    import docker

    missing = []
    for name in names:
        try:
            client.images.get(name)
        except docker.errors.ImageNotFound:
            missing.append(name)
    if not missing:
        return
    repository, tag = _split(missing[0])
    client.api.import_image(src=str(tarball), repository=repository, tag=tag)
    image = client.images.get(missing[0])
    for name in missing[1:]:
        image.tag(*_split(name))


def _split(name: str) -> tuple[str, str]:
    """`repo:tag` -> (repo, tag); the tag defaults to latest (a registry port is no tag)."""
    if ":" in name.rsplit("/", 1)[-1]:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, "latest"


# LocalStack -----------------------------------------------------------------------------


@dataclass
class LocalStack:
    """LocalStack from .venv-localstack, listening on 127.0.0.1:`port`."""

    base: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> LocalStack:
        python = LOCALSTACK_VENV / "bin" / "python"
        if not python.exists():
            raise ComponentError(
                f"LocalStack is not installed in {LOCALSTACK_VENV} and could not be: run "
                "scripts/install-localstack.sh and see its output"
            )
        self.base.mkdir(parents=True, exist_ok=True)
        env = dict(
            os.environ, GATEWAY_LISTEN=f"127.0.0.1:{self.port}", SERVICES=LOCALSTACK_SERVICES,
            SKIP_SSL_CERT_DOWNLOAD="1", DNS_ADDRESS="0", DISABLE_EVENTS="1",
            LOCALSTACK_VOLUME_DIR=str(self.base / "volume"), TMPDIR=str(self.base),
        )  # fmt: skip
        argv = [str(python), "-m", "localstack.runtime.main"]
        self.process = start_until_ready("LocalStack", argv, self.base, self.ready, self.stop,
                                         timeout, env)
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_localstack/health", timeout=1) as response:
                services = json.load(response).get("services", {})
        except (OSError, ValueError):
            return False
        return services.get("sqs") in ("available", "running")

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid, 15.0)
            try:  # LocalStack's own children, in its session
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process = None


# `make demo` ------------------------------------------------------------------------------


def with_docker(images: list[str], command: list[str], fallback: list[str]) -> int:
    """Run `command` with an engine holding the offline busybox image under `images`.

    Without Docker, say so once and run `command` + `fallback` (e.g. `--only` the python
    tasks), so the demo does not fail an image task on every fire.
    """
    env = dict(os.environ)
    dockerd = None
    try:
        if not engine_reachable():
            dockerd = Dockerd(Path(tempfile.mkdtemp(prefix="flowc-dockerd-"))).start()
            env["DOCKER_HOST"] = dockerd.host
        import docker

        client = docker.DockerClient(base_url=env["DOCKER_HOST"]) if dockerd else \
            docker.from_env()  # fmt: skip
        if images:
            import_image(client, busybox_rootfs(), *images)
        client.close()
    except ComponentError as exc:
        first = str(exc).splitlines()[0]
        print(f"demo: Docker is not available ({first}); running without the image tasks",
              flush=True)
        command = command + fallback
    try:
        return subprocess.call(command, env=env)
    finally:
        if dockerd is not None:
            dockerd.remove()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    wd = sub.add_parser("with-docker", help="run a command against a Docker engine")
    wd.add_argument("--image", action="append", default=[], help="busybox image name to import")
    wd.add_argument("--without-docker", default="", help="arguments added when Docker is absent")
    wd.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    return with_docker(args.image, command, args.without_docker.split())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
