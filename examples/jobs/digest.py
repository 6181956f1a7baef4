"""The digest: a quick job that prints a line."""


def main() -> None:
    print("digest sent")
