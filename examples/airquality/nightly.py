"""The nightly task of the platform example: aggregate yesterday's readings."""


def main():
    print("aggregating yesterday's air-quality readings")
