"""Where the emulator gets secret values: never from the .flow file.

For a secret `db_url`, in this order:
1. the environment variable `FLOWC_SECRET_DB_URL`;
2. a line `db_url = value` (or `DB_URL=value`) in `.flowc-secrets` next to the
   .flow file — a git-ignored, dotenv-like file: `#` comments, optional quotes.
The emulator stores these values in its secret store (Secrets Manager in
LocalStack or the embedded emulator); tasks read them from there at run time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

SECRETS_FILE = ".flowc-secrets"
ENV_PREFIX = "FLOWC_SECRET_"


def env_var_for(secret: str) -> str:
    return ENV_PREFIX + secret.upper()


def read_secrets_file(path: str | Path) -> dict[str, str]:
    """Parse a `.flowc-secrets` file; keys are lowercased. Missing file: empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return {}
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export ") :].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.lower()] = value
    return values


def local_secret_values(
    names: Iterable[str], base_dir: str | Path, environ: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """The local value of each secret, or None where neither source has one."""
    environ = os.environ if environ is None else environ
    from_file = read_secrets_file(Path(base_dir) / SECRETS_FILE)
    out: dict[str, str | None] = {}
    for name in names:
        value = environ.get(env_var_for(name))
        if value is None:
            value = from_file.get(name.lower())
        out[name] = value
    return out
