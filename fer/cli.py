"""`python -m fer <command>`: the command-line interface; each command lives in fer/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys

# Sub-command name -> module in fer.commands. Add a module there, then its name here.
COMMANDS = ["analyze", "video", "evaluate", "train", "baseline", "bench", "calibrate", "explain", "compare",
            "publish"]


def _available() -> dict[str, object]:
    mods = {}
    for name in COMMANDS:
        try:
            mods[name] = importlib.import_module(f"fer.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"fer.commands.{name}":
                raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fer", description="Facial emotion recognition toolkit")
    sub = p.add_subparsers(dest="command", required=True)
    for name, mod in _available().items():
        sp = sub.add_parser(name, help=mod.HELP, description=(mod.__doc__ or mod.HELP).strip())
        mod.add_arguments(sp)
        sp.set_defaults(func=mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from fer.imageio import ImageError

    try:
        return int(args.func(args) or 0)
    except (ImageError, FileNotFoundError, ValueError) as e:  # user errors: a message, not a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
