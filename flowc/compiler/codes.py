"""The stable catalogue of diagnostic codes. A code, once shipped, keeps its meaning.

Ranges: E0xx/W0xx syntax; E1xx/W1xx checker (settings, names, values);
E2xx target limits; E3xx/W3xx schedules; E4xx/W4xx targets (compile);
E5xx/W5xx emulator and `flowc run/dev`; E6xx `flowc up/down`; E7xx releases; E8xx cost.
Every code has a test that triggers it (tests/test_codes.py walks this table).
"""

from __future__ import annotations

# code -> one-line summary. Add codes in your range; never renumber.
CODES: dict[str, str] = {
    # -- syntax (flowc/grammar/parser.py)
    "E001": "unexpected character",
    "E002": "unterminated string",
    "E003": "bad escape in a string literal",
    "E004": "unexpected end of file (usually a missing `}`)",
    "E005": "unexpected token",
    "E006": "nesting too deep",
    "E007": "file is not UTF-8 text",
    "E008": "file cannot be read",
    "E009": "internal error while reading the file",
    # -- checker (flowc/compiler/check.py, check_task.py, values.py)
    "E101": "invalid name",
    "E102": "unknown setting (with a did-you-mean)",
    "E103": "setting given twice",
    "E104": "declaration given twice (task, secret, environment, app, defaults)",
    "E105": "task has both `python` and `image`",
    "E106": "task has neither `python` nor `image`",
    "E107": "bad handler: `python` is not module:function, or `image` is not an image",
    "E108": "`command` on a python task",
    "E109": "value of the wrong kind for a setting",
    "E110": "bad size",
    "E111": "bad duration",
    "E112": "number out of range",
    "E113": "unknown timezone (with a suggestion)",
    "E114": "undefined secret",
    "E115": "unknown or empty targets",
    "E116": "bad `on_failure` value",
    "E117": "bad alert metric or comparison",
    "E118": "alert notify is not an email address",
    "E119": "requirements file not found",
    "E120": "environment selected with --env is not declared",
    "E121": "unknown top-level declaration",
    "E122": "bad backend block",
    "E123": "task without a schedule",
    "E124": "value is not a schedule",
    "E125": "unknown reference (only secret.NAME)",
    "E126": "declaration written in the wrong shape",
    "W101": "secret declared but unused",
    "W102": "file declares no task",
    "W103": "python module not found next to the spec",
    # -- target limits (flowc/compiler/limits.py)
    "E201": "timeout over the target runtime's limit",
    "E202": "memory outside the target runtime's range",
    "E203": "retries over the target's limit",
    "W201": "`cpu` ignored where CPU follows memory (AWS Lambda)",
}
