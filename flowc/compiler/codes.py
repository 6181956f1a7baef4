"""The stable catalogue of diagnostic codes. A code, once shipped, keeps its meaning.

Ranges: E0xx/W0xx syntax; E1xx/W1xx checker (settings, names, values);
E2xx target limits; E3xx/W3xx schedules; E4xx/W4xx targets (compile);
E5xx/W5xx emulator and `flowc run/dev`; E6xx `flowc up/down`; E7xx releases; E8xx cost.
Every code has a test that triggers it (tests/test_codes.py walks this table).
"""

from __future__ import annotations

# code -> one-line summary. Add codes in your range; never renumber.
CODES: dict[str, str] = {}
