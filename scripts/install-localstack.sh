#!/usr/bin/env bash
# Installs LocalStack into its own venv (default .venv-localstack): it needs Python >= 3.12
# and pins dependencies older than a plain `pip install` picks, so uv resolves it as of the
# release date. Usage: install-localstack.sh [DEST] [PIP_PYTHON]; PIP_PYTHON installs uv
# when no `uv` is on PATH (default: python3).
set -euo pipefail
dest=${1:-.venv-localstack}
pip_python=${2:-python3}
version=2026.3.0
stamp="$dest/.installed-$version"
if [ -f "$stamp" ]; then exit 0; fi

# A Python >= 3.12 that really runs (a pyenv shim on PATH may not): on PATH or under pyenv
# (PYENV_ROOT, `pyenv root`, ~/.pyenv). Prints the interpreter's real path.
find_python() {
  local candidate root
  local candidates=()
  for candidate in python3.13 python3.12; do
    if command -v "$candidate" >/dev/null 2>&1; then candidates+=("$(command -v "$candidate")"); fi
  done
  for root in "${PYENV_ROOT:-}" "$(pyenv root 2>/dev/null || true)" "$HOME/.pyenv"; do
    [ -n "$root" ] || continue
    for candidate in $(ls -d "$root"/versions/3.13* "$root"/versions/3.12* 2>/dev/null | sort -rV); do
      candidates+=("$candidate/bin/python3")
    done
  done
  for candidate in "${candidates[@]}"; do
    "$candidate" -c 'import sys; assert sys.version_info >= (3, 12); print(sys.executable)' \
      2>/dev/null && return
  done
  return 1
}
python=$(find_python) || { echo "LocalStack needs Python 3.12 or 3.13; none found on PATH or under pyenv" >&2; exit 1; }

uv=$(command -v uv 2>/dev/null || true)
if [ -z "$uv" ]; then
  uv_dir=$(mktemp -d)
  "$pip_python" -m pip install --quiet --target "$uv_dir" uv
  uv="$uv_dir/bin/uv"
fi
echo "installing LocalStack $version into $dest ($python)"
rm -rf "$dest"
"$uv" venv --quiet -p "$python" "$dest"
VIRTUAL_ENV="$dest" "$uv" pip install --quiet --python "$dest/bin/python" --exclude-newer 2026-03-31 \
  "localstack-core[runtime]==$version" boto3
touch "$stamp"
