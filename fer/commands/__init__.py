"""One module per `python -m fer` sub-command, each with HELP, add_arguments(parser) and run(args).

Modules import only argparse at the top, so building the parser stays fast; heavy imports
happen inside `run`.
"""

from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
