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

FIXED_DATE = (1980, 1, 1, 0, 0, 0)

# Never shipped: VCS, virtualenvs, caches, flowc's own output and state.
EXCLUDED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__",
        ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".terraform", ".flowc",
        "flowc.out", ".idea", ".vscode",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".flow", ".tfstate")
EXCLUDED_NAMES = frozenset({".DS_Store", ".env"})


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


def _excluded(rel: Path) -> bool:
    if any(part in EXCLUDED_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
        return True
    return rel.name in EXCLUDED_NAMES or rel.name.endswith(EXCLUDED_SUFFIXES)


def collect_code(root: Path, exclude: Iterable[Path] = ()) -> dict[str, bytes]:
    """Every shippable file under `root` as archive name -> bytes (sorted walk)."""
    root = Path(root)
    if not root.is_dir():
        raise PackagingError(f"code directory `{root}` does not exist")
    skip = [Path(p).resolve() for p in exclude]
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in EXCLUDED_DIRS
            and not d.endswith(".egg-info")
            and (here / d).resolve() not in skip
        )
        for fname in sorted(filenames):
            path = here / fname
            rel = path.relative_to(root)
            if _excluded(rel) or not path.is_file():
                continue
            files[rel.as_posix()] = path.read_bytes()
    return files


def _cache_root() -> Path:
    base = os.environ.get("FLOWC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "flowc"
    )
    return Path(base) / "vendor"


def vendor_requirements(requirements: Path, pip_args: Iterable[str] = ()) -> dict[str, bytes]:
    """Files of `pip install -r requirements -t DIR`, as archive name -> bytes.

    Cached by content; an empty requirements file (comments only) vendors nothing.
    """
    requirements = Path(requirements)
    try:
        text = requirements.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackagingError(f"cannot read requirements file `{requirements}`: {exc}") from exc
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    if not any(lines):
        return {}
    args = tuple(pip_args)
    key = hashlib.sha256(
        "\x1f".join((text, str(requirements.parent.resolve()), *args, sys.version)).encode()
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
    files = collect_code(target)
    files.pop(".complete", None)
    # pip writes absolute paths and installer names into metadata; keep bytes stable.
    return {k: v for k, v in files.items() if not k.endswith(("/RECORD", "/direct_url.json"))}


def code_files(
    base_dir: Path,
    code_dir: str,
    requirements: str | None,
    *,
    exclude: Iterable[Path] = (),
    pip_args: Iterable[str] = (),
) -> dict[str, bytes]:
    """The code directory plus vendored requirements (code wins on a name clash)."""
    base_dir = Path(base_dir)
    files: dict[str, bytes] = {}
    if requirements:
        files.update(vendor_requirements(base_dir / requirements, pip_args))
    files.update(collect_code(base_dir / code_dir, exclude=exclude))
    return files


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
