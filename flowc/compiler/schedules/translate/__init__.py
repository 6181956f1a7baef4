"""What every cron dialect shares: `lower` (checks, splitting, merging a schedule into
pieces a dialect can write), `fields` (writing one cron field) and `unix` (five-field
cron). Each target's own dialect lives in its package (flowc/targets/<name>/cron.py)
and is declared as the target's `cron`.
"""
