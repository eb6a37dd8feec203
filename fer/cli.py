"""`fer <command>` / `python -m fer <command>`: the command line; each command lives in fer/commands/.

One exit-code scheme for every command: 0 ok, 1 some inputs failed (the command says which),
2 usage (bad arguments, missing weights or data: nothing was analysed), 130 interrupted (Ctrl-C).
Commands print their results; the library reports through `logging`, which `-v` turns up.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# Sub-command name -> module in fer.commands ('-' in a name is '_' in its module). Add a module there,
# then its name here.
COMMANDS = ["analyze", "video", "evaluate", "train", "baseline", "bench", "calibrate", "explain", "compare",
            "publish", "export-mtcnn", "serve", "batch"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

log = logging.getLogger(__name__)


# Optional packages -> the extra that installs them, for the message when a command needs one.
EXTRAS = {"torch": "train", "torchvision": "train", "facenet_pytorch": "train", "safetensors": "train",
          "sklearn": "train", "skimage": "train", "onnx": "train", "timm": "train", "streamlit": "app", "fastapi": "api",
          "uvicorn": "api", "multipart": "api", "ray": "ray"}


# Import names that differ from the names pip installs.
PIP_NAMES = {"sklearn": "scikit-learn", "skimage": "scikit-image", "facenet_pytorch": "facenet-pytorch",
             "multipart": "python-multipart", "cv2": "opencv-python-headless", "PIL": "pillow"}


class MissingPackage(Exception):
    """A command needs a package this installation left out (the runtime ships without torch)."""

    def __init__(self, command: str, module: str):
        top = module.split(".")[0]
        super().__init__(f"`{command}` needs {PIP_NAMES.get(top, top)}, which is not installed: "
                         f"pip install 'fer-toolkit[{EXTRAS.get(top, 'dev')}]'")


def _load(name: str):
    """The command's module; None if there is none; MissingPackage if it needs an absent package."""
    module = f"fer.commands.{name.replace('-', '_')}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            return None
        raise MissingPackage(name, e.name or "?") from e


def _wanted(argv: list[str]) -> str | None:
    """The command named in argv (the first word that is not an option or --threads' value)."""
    skip = False
    for tok in argv:
        if skip:
            skip = False
        elif tok == "--threads":
            skip = True
        elif not tok.startswith("-"):
            return tok
    return None


def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _add_common(p: argparse.ArgumentParser) -> None:
    """-v and --threads, accepted before and after the command name. SUPPRESS keeps a command's
    parser from resetting what was given before it; a command with its own --threads keeps it."""
    for flags, kw in ((("-v", "--verbose"), dict(action="count", dest="verbose", default=argparse.SUPPRESS,
                                                  help="show the library's log: -v info, -vv debug")),
                      (("--threads",), dict(type=_positive_int, dest="global_threads", metavar="N",
                                            default=argparse.SUPPRESS,
                                            help="CPU threads per model call (default: fer.runtime's choice "
                                                 "for this machine)"))):
        try:
            p.add_argument(*flags, **kw)
        except argparse.ArgumentError:  # the command defines it itself
            pass


def prog_name(argv0: str | None = None) -> str:
    """How the user called us, for usage lines: 'python -m fer' or the script's name ('fer')."""
    name = os.path.basename(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else "")) or "fer"
    return "python -m fer" if name in ("__main__.py", "-m") else name


def build_parser(prog: str | None = None, command: str | None = None) -> argparse.ArgumentParser:
    """Every command is listed, but only `command`'s options are built: building them may import
    what the command needs (train's defaults come from torch code), and `fer analyze` must not."""
    from fer import __version__

    p = argparse.ArgumentParser(prog=prog or prog_name(), description="Facial emotion recognition toolkit")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common(p)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = _load(name)
        except MissingPackage as e:
            if name == command:
                raise
            sub.add_parser(name, help=f"(unavailable: {e})")
            continue
        if mod is None:
            continue
        sp = sub.add_parser(name, help=mod.HELP, description=(mod.__doc__ or mod.HELP).strip(),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == command:
            try:
                mod.add_arguments(sp)
            except ModuleNotFoundError as e:
                raise MissingPackage(name, e.name or "?") from e
            _add_common(sp)
            sp.set_defaults(func=mod.run)
    return p


def setup_logging(verbosity: int) -> None:
    """Warnings and errors from everything; the library's info (-v) or debug (-vv) on request."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")  # stderr; no-op if configured
    logging.captureWarnings(True)
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.getLogger("fer").setLevel(level)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run one command; returns the exit status (see the module's docstring)."""
    try:
        return _main(sys.argv[1:] if argv is None else list(argv), prog)
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback, the shell's status for SIGINT
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str], prog: str | None) -> int:
    try:
        parser = build_parser(prog, _wanted(argv))
    except MissingPackage as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(argv)  # usage errors exit with 2 here
    setup_logging(getattr(args, "verbose", 0) or 0)
    if getattr(args, "global_threads", None) is not None:
        from fer.runtime import set_threads

        set_threads(args.global_threads)
    try:
        return int(args.func(args) or EXIT_OK)
    except ModuleNotFoundError as e:  # e.g. `evaluate` without scikit-learn in a runtime install
        print(f"error: {MissingPackage(args.command, e.name or '?')}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, FileNotFoundError) as e:  # user errors (ImageError, VideoError...): a message
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `fer analyze *.jpg | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_FAILED
    except OSError as e:  # a disk full, a folder we may not write: the run failed, not the usage
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # a bug: one line for the user, the traceback with -v
        if getattr(args, "verbose", 0):
            log.error("traceback", exc_info=True)
        print(f"error: unexpected {type(e).__name__}: {e} (run with -v for the traceback)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
