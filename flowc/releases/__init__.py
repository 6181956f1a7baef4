"""Releases: the local release log, deployed versions, aliases, canaries and rollback.

    hashing.py   spec, code and function hashes (what makes a new release / version)
    log.py       the release log under the state dir (`<state>/releases/<stack>.json`)
    state.py     deployed versions and the live alias, read from a Terraform state file
    plan.py      the compile/up hooks: record the release, decide where each alias points
    rollback.py  `flowc rollback`: pin an alias to a recorded release's version

See docs/releases.md for the flow (compile with canary, promotion, rollback).
"""
