"""The daily report: reads its bucket and database URL from the environment."""

import os


def main() -> None:
    bucket = os.environ.get("BUCKET", "?")
    has_db = "yes" if os.environ.get("DB_URL") else "no"
    print(f"daily report for bucket {bucket} (database configured: {has_db})")
