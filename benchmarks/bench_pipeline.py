"""Speed of the live pipeline: frames/s, p50/p95 latency, time per stage, classifier ms per
face, resident memory, and (with --soak N) tracks and memory over a long run.

Run: python benchmarks/bench_pipeline.py [--frames 300] [--sizes 640x480,1280x720] [--faces 1,4]
                                         [--detect-every 3] [--threads 1] [--soak 50000] [--json OUT]
Same as `python -m fer bench`; see benchmarks/README.md for the last results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from fer.cli import main  # noqa: E402

if __name__ == "__main__":
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        from fer.commands import bench

        p = argparse.ArgumentParser(prog="bench_pipeline.py", description=bench.__doc__)
        bench.add_arguments(p)
        p.print_help()
        sys.exit(0)
    sys.exit(main(["bench", *sys.argv[1:]]))
