"""Benchmark the live pipeline (frames/s, latency, time per stage, memory): runs
benchmarks/bench_pipeline.py from the source repository. The benchmark is not part of the
installed package; an installed copy says so. `--quick` checks that it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fer.data.locations import REPO_ROOT

HELP = "benchmark the live pipeline: frames/s, latency, time per stage, memory (source checkout only)"
SCRIPT = REPO_ROOT / "benchmarks" / "bench_pipeline.py"


def _benchmark():
    """The benchmark module from this checkout's benchmarks/ folder, or None in an installed copy."""
    if not SCRIPT.is_file():
        return None
    root = str(SCRIPT.parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("benchmarks.bench_pipeline")


def add_arguments(p: argparse.ArgumentParser) -> None:
    bench = _benchmark()
    if bench is not None:
        bench.add_arguments(p)
    else:  # take (and drop) any options, so the user reads run()'s message, not "unrecognized arguments"
        parse = p.parse_known_args
        p.parse_known_args = lambda args=None, namespace=None: (parse([], namespace)[0], [])


def run(args) -> int:
    bench = _benchmark()
    if bench is None:
        print(f"error: the benchmark ships with the source repository (benchmarks/bench_pipeline.py), "
              f"not with the installed package; it is not at {SCRIPT}. Run it from a checkout: "
              f"python benchmarks/bench_pipeline.py", file=sys.stderr)
        return 2
    return bench.run(args)
