"""The one naming helper every target uses: deterministic, length-limited, collision-free.

    names = Namer(app)                       # one per target compile
    names.name("daily_report", "dlq")        # "reports-prod-daily_report-dlq"  (AWS style)
    names.name("daily_report", style=DNS, limit=52)   # "reports-prod-daily-report"

A name is the app name, the environment (when one is selected) and the given parts,
joined with `-`, then the `tail` parts joined with `--` in DNS style, so task `x_1`
(`x-1`) never meets task `x`'s tail `1` (`x--1`); a head that holds `--` itself (a name
with `__`) gets a hash suffix.
A name depends only on its own parts: a schedule's tail is `schedule_keys`, a hash of its
own entry, so adding, removing or reordering other tasks or entries renames nothing.
When it is longer than `limit` it is cut and ends in `-` plus 8 hex
digits of a hash of the full name, so it stays unique and never changes between
compiles. A Namer remembers every name it handed out: two different keys that would
get the same name (e.g. `a_b`+`c` and `a`+`b_c` in DNS style) get a hash suffix instead.
"""

from __future__ import annotations

import hashlib
import re

from flowc.compiler.ir import App, TargetSchedule, Task

AWS = "aws"  # [a-z0-9_-]: valid for Lambda, IAM, SQS, SNS, ECS, Scheduler, Secrets Manager
DNS = "dns"  # RFC 1035 / DNS-1123 label: [a-z0-9-], starts with a letter, ends alnum

AWS_LIMIT = 64  # Lambda function, IAM role, scheduler schedule, ECS family names
CRONJOB_LIMIT = 52  # Kubernetes CronJob names (Job names get an 11-char suffix)
DNS_LABEL_LIMIT = 63

HASH_LEN = 8

_INVALID = {AWS: re.compile(r"[^a-z0-9_-]"), DNS: re.compile(r"[^a-z0-9-]")}


def short_hash(text: str, length: int = HASH_LEN) -> str:
    """Hex digits of sha256(text); the suffix used when a name is shortened."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def sanitize(text: str, style: str = AWS) -> str:
    """Lowercase `text` and replace characters the style does not allow with `-`."""
    if style not in _INVALID:
        raise ValueError(f"unknown name style {style!r}")
    text = text.lower()
    if style == DNS:
        text = text.replace("_", "-")
    return _INVALID[style].sub("-", text)


def fit(full: str, limit: int, style: str = AWS, *, key: str | None = None) -> str:
    """`full` (already sanitized) made valid for `style` and at most `limit` characters.

    Names that fit are returned unchanged (DNS: edges fixed). Longer names are cut
    and get `-<hash of key or full>`, so distinct long names stay distinct.
    """
    if limit < HASH_LEN + 2:
        raise ValueError(f"limit {limit} is too small for a hashed name")
    name = full
    if style == DNS:
        name = name.strip("-")
        if not name or not name[0].isalpha():
            name = "x-" + name if name else "x"
    if len(name) <= limit and key is None:
        return name
    digest = short_hash(key if key is not None else full)
    keep = limit - HASH_LEN - 1
    head = name[:keep].rstrip("-_")
    if style == DNS and not head:
        head = "x"
    return f"{head}-{digest}"


class Namer:
    """Hands out resource names for one app (and environment) on one target."""

    def __init__(self, app: App, *, prefix: tuple[str, ...] | None = None):
        if prefix is None:
            prefix = (app.name,) + ((app.environment,) if app.environment else ())
        self.prefix = tuple(prefix)
        self._issued: dict[tuple[str, str], str] = {}  # (kind, name) -> key

    def name(
        self,
        *parts: str,
        style: str = AWS,
        limit: int = AWS_LIMIT,
        kind: str = "",
        prefixed: bool = True,
        tail: tuple[str, ...] = (),
    ) -> str:
        """The name for `parts` (app/env prefix first unless prefixed=False).

        `kind` scopes uniqueness (names of different resource kinds may repeat);
        asking twice for the same parts returns the same name.
        """
        words = (self.prefix if prefixed else ()) + tuple(p for p in parts if p)
        key = "\x1f".join((style, str(limit), *words, "\x1e", *tail))
        full = head = "-".join(sanitize(w, style) for w in words)
        if tail:
            sep = "--" if style == DNS else "-"
            full = sep.join((head, *(sanitize(w, style) for w in tail)))
        ambiguous = bool(tail) and style == DNS and ("--" in head or head.endswith("-"))
        candidate = fit(full, limit, style, key=key if ambiguous else None)
        owner = self._issued.get((kind, candidate))
        if owner is not None and owner != key:
            candidate = fit(full, limit, style, key=key)
            owner = self._issued.get((kind, candidate))
            if owner is not None and owner != key:  # pragma: no cover - sha256 collision
                raise ValueError(f"name collision on {candidate!r}")
        self._issued[(kind, candidate)] = key
        return candidate


def schedule_keys(task: Task, target: str) -> list[tuple[TargetSchedule, str]]:
    """The task's expressions on `target`, each with the key its resources are named by.

    The key is 8 hex digits of the schedule entry's own text (`"Mon 09:00"`, `every 90m`),
    how many equal entries come before it, and the expression's place among the ones that
    entry became: it never depends on other tasks or on the order of the entries.
    """
    out = []
    sources = [s.source for s in task.schedules]
    within: dict[int, int] = {}
    for ts in task.schedules_for(target):
        i = ts.schedule_index
        j = within[i] = within.get(i, -1) + 1
        occurrence = sources[:i].count(sources[i])
        out.append((ts, short_hash(f"{sources[i]}\x1f{occurrence}\x1f{j}")))
    return out


def logical_id(*parts: str) -> str:
    """A Terraform resource address name (`[a-z_][a-z0-9_]*`) from name parts."""
    text = "_".join(p for p in parts if p)
    text = re.sub(r"[^a-z0-9_]", "_", text.lower())
    if not text or not (text[0].isalpha() or text[0] == "_"):
        text = "r_" + text
    return text
