"""Parses its command line at import, with a required option it will never get from hetcalc."""
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.parse_args()


def build():
    raise AssertionError("never reached")
