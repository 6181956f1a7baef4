"""Deterministic code archives: the same code and requirements give the same zip bytes.

    files = collect_code(app.base_path / task.code_dir, exclude=[out_dir])
    files.update(vendor_requirements(app.base_path / task.requirements))   # pip, cached
    asset = make_asset("daily_report", files)    # Asset(filename, data, sha256, ...)

Entries are sorted, timestamps fixed (1980-01-01), permissions normalised, so
Terraform sees no change when nothing changed. Vendored requirements are installed
once with `pip install -r FILE -t DIR --no-compile` and cached under
`$FLOWC_CACHE_DIR` (default `~/.cache/flowc/vendor/`) by the hash of the file's text,
the extra pip arguments and the Python version.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowc.cache import cache_dir

if TYPE_CHECKING:  # imported where used: every flowc command imports this module
    import pathspec

FIXED_DATE = (1980, 1, 1, 0, 0, 0)

class PackagingError(Exception):
    """Code or requirements that cannot be packaged; targets turn it into a diagnostic."""


@dataclass(frozen=True)
class Asset:
    """A file the Terraform working directory references (e.g. `assets/code-1a2b.zip`)."""

    filename: str  # path relative to the target directory
    data: bytes

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sha256_base64(self) -> str:
        """Terraform's `filebase64sha256`, e.g. for `source_code_hash`."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode("ascii")

    @property
    def md5_hex(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()


def deterministic_zip(entries: Mapping[str, bytes]) -> bytes:
    """A zip of `entries` (archive name -> bytes), identical bytes for identical input."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the mode above is honoured
            zf.writestr(info, entries[name])
    return buf.getvalue()


# -- which files ship: the one home of that rule -------------------------------------------

# Never shipped: VCS, virtualenvs, caches, build tools' and flowc's own directories.
EXCLUDED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__",
        ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".terraform", ".flowc",
        "flowc.out", ".idea", ".vscode",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".flow", ".tfstate", ".tfstate.backup")
# flowc's own files, at any depth: local secret values, dotenv files, compile state.
EXCLUDED_NAMES = frozenset({".DS_Store", ".flowc-secrets", ".flowc-state.json"})
EXCLUDED_PREFIXES = (".env",)  # .env, .env.local, .envrc ...
IGNORE_FILES = (".gitignore", ".flowcignore")  # gitignore syntax, nested files honoured
# A directory holding one of these is flowc output or state, whatever its name:
# `<out>/<target>/.flowc-state.json` (compile), `history.sqlite`/`cloud.json`/`dev.lock`
# (dev, run).
OUTPUT_MARKERS = (".flowc-state.json", "history.sqlite", "cloud.json", "dev.lock")
STATE_SUBDIRS = ("releases", "versions")  # a state dir's logs: only `<stack>.json` files
EVENT_LOG_HEAD = b'{"event":'  # the first bytes of a `--events` JSONL file


@dataclass(frozen=True)
class CodeSelection:
    """The files of a code directory that ship, and the symlinks refused (with why)."""

    files: dict[str, Path]  # archive name -> file on disk
    refused: dict[str, str]  # archive name -> reason (a symlink leaving the directory)


def _is_state_dir(path: Path) -> bool:
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    if names & set(OUTPUT_MARKERS):
        return True
    for sub in STATE_SUBDIRS:
        if sub in names and (path / sub).is_dir():
            try:
                inner = os.listdir(path / sub)
            except OSError:
                continue
            if inner and all(n.endswith((".json", ".json.tmp")) for n in inner):
                return True
    return False


def _owned_by_flowc(name: str, is_dir: bool, path: Path) -> bool:
    if name in EXCLUDED_NAMES or name.startswith(EXCLUDED_PREFIXES):
        return True
    if is_dir:
        return name in EXCLUDED_DIRS or name.endswith(".egg-info") or _is_state_dir(path)
    if name.endswith(EXCLUDED_SUFFIXES):
        return True
    if not path.is_file():  # a FIFO or device: open() would block; it never ships anyway
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(len(EVENT_LOG_HEAD)) == EVENT_LOG_HEAD
    except OSError:
        return False


def _ignore_spec(directory: Path) -> pathspec.GitIgnoreSpec | None:
    import pathspec

    lines: list[str] = []
    for name in IGNORE_FILES:
        try:
            lines += (directory / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _ignored(specs: list[tuple[str, pathspec.GitIgnoreSpec]], rel: str, is_dir: bool) -> bool:
    """gitignore semantics: the deepest file that has a say wins, last pattern first."""
    verdict = False
    for base, spec in specs:
        sub = rel[len(base):] + ("/" if is_dir else "")
        result = spec.check_file(sub).include
        if result is not None:
            verdict = result
    return verdict


def _real(path: Path) -> Path:
    """The path with every symlink resolved; a loop gives a path that does not exist
    (Path.resolve raises RuntimeError on a loop in Python 3.11)."""
    return Path(os.path.realpath(path))


def select_code_files(code_dir: Path, exclude: Iterable[Path] = ()) -> CodeSelection:
    """The files of `code_dir` that ship in an archive (sorted), the one rule every target
    and the release hash use:
    - not matched by a `.gitignore` or `.flowcignore` (root or nested, gitignore syntax);
    - not flowc's own (secrets, `.env*`, state and output directories, event logs, specs)
      nor VCS/virtualenv/cache directories, at any depth;
    - not under a path in `exclude` (this compile's `--out`, `--state`, `--events`);
    - a symlink only when it resolves inside `code_dir` (else it is `refused`).
    """
    root = Path(code_dir)
    if not root.is_dir():
        raise PackagingError(f"code directory `{root}` does not exist")
    real_root = _real(root)
    skip = {_real(Path(p)) for p in exclude}
    skip.discard(real_root)  # `--out .`: its target directories go by their markers
    files: dict[str, Path] = {}
    refused: dict[str, str] = {}

    def walk(here: Path, rel: str, specs: list, seen: frozenset[Path]) -> None:
        spec = _ignore_spec(here)
        if spec is not None:
            specs = [*specs, (rel, spec)]
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError as exc:
            raise PackagingError(f"cannot read `{here}`: {exc.strerror or exc}") from exc
        for entry in entries:
            path = Path(entry.path)
            name_rel = rel + entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if _ignored(specs, name_rel, is_dir) or _owned_by_flowc(entry.name, is_dir, path):
                continue
            real = _real(path)
            if real in skip:
                continue
            if entry.is_symlink():
                if not real.exists():  # dangling or looping (an editor's lock file): no content
                    continue
                if real != real_root and real_root not in real.parents:
                    refused[name_rel] = (f"a symlink to `{real}`, outside the code directory")
                    continue
            if is_dir:
                if real not in seen:  # a link back up would loop forever
                    walk(path, name_rel + "/", specs, seen | {real})
            elif entry.is_file():
                files[name_rel] = path

    walk(root, "", [], frozenset({real_root}))
    return CodeSelection(dict(sorted(files.items())), refused)


def collect_code(root: Path, exclude: Iterable[Path] = ()) -> dict[str, bytes]:
    """Every shippable file under `root` as archive name -> bytes (`select_code_files`).

    Raises PackagingError when a symlink leaves the directory (`flowc check` reports
    that as E403 before any compile gets here).
    """
    selection = select_code_files(root, exclude)
    if selection.refused:
        name, why = next(iter(selection.refused.items()))
        raise PackagingError(f"`{name}` is {why}")
    try:
        return {name: path.read_bytes() for name, path in selection.files.items()}
    except OSError as exc:
        raise PackagingError(f"cannot read `{exc.filename}`: {exc.strerror or exc}") from exc


def _installed_files(root: Path) -> dict[str, bytes]:
    """What pip installed under `root`, minus bytecode caches and egg-info (sorted walk)."""
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d != "__pycache__" and not d.endswith(".egg-info"))
        here = Path(dirpath)
        for fname in sorted(filenames):
            if not fname.endswith((".pyc", ".pyo")) and (here / fname).is_file():
                files[(here / fname).relative_to(root).as_posix()] = (here / fname).read_bytes()
    return files


def _cache_root() -> Path:
    return cache_dir("vendor")


def vendor_requirements(requirements: Path, pip_args: Iterable[str] = ()) -> dict[str, bytes]:
    """Files of `pip install -r requirements -t DIR`, as archive name -> bytes.

    Cached by content; an empty requirements file (comments only) vendors nothing.
    """
    requirements = _real(Path(requirements))  # pip runs in its directory, not in ours
    try:
        text = requirements.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackagingError(f"cannot read requirements file `{requirements}`: {exc}") from exc
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    if not any(lines):
        return {}
    args = tuple(pip_args)
    key = hashlib.sha256(
        "\x1f".join((text, str(requirements.parent), *args, sys.version)).encode()
    ).hexdigest()[:32]
    target = _cache_root() / key
    if not (target / ".complete").exists():
        tmp = Path(tempfile.mkdtemp(prefix="flowc-vendor-"))
        cmd = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-input", "--no-compile", "--target", str(tmp), "-r", str(requirements), *args,
        ]
        proc = subprocess.run(
            cmd, cwd=requirements.parent, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise PackagingError(
                f"`pip install -r {requirements.name}` failed: " + " / ".join(tail)
            )
        (tmp / ".complete").write_text("ok\n")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    files = _installed_files(target)
    files.pop(".complete", None)
    # pip writes absolute paths and installer names into metadata; keep bytes stable.
    return {k: v for k, v in files.items() if not k.endswith(("/RECORD", "/direct_url.json"))}


def make_asset(stem: str, files: Mapping[str, bytes], folder: str = "assets") -> Asset:
    """A zip asset named `<folder>/<stem>-<first 12 hex of its sha256>.zip`."""
    data = deterministic_zip(files)
    digest = hashlib.sha256(data).hexdigest()[:12]
    return Asset(filename=f"{folder}/{stem}-{digest}.zip", data=data)


# -- Lambda layers and large packages (issue 7) -------------------------------------------

# AWS Lambda takes a zip of at most 50 MB in the request itself; larger ones (up to
# 250 MB unzipped) must come from an S3 object.
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
LAYER_PYTHON_DIR = "python"  # where Lambda's python runtimes look for a layer's packages


def layer_files(requirements: Path, pip_args: Iterable[str] = ()) -> dict[str, bytes]:
    """The vendored requirements as a python layer: every file under `python/`.

    Uses the same cached `vendor_requirements`, so a layer costs one pip install per
    requirements text and Python version, and the same inputs give the same zip bytes.
    """
    return {f"{LAYER_PYTHON_DIR}/{name}": data
            for name, data in vendor_requirements(requirements, pip_args).items()}


def needs_bucket(asset: Asset, limit: int = DIRECT_UPLOAD_LIMIT) -> bool:
    """True when `asset` is too large to upload to Lambda directly."""
    return len(asset.data) > limit
