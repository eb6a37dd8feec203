"""`python -m fer`: the same command line as the `fer` script, under the name it was called by."""

from fer.cli import main

raise SystemExit(main(prog="python -m fer"))
