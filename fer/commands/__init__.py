"""One module per `python -m fer` sub-command, each with HELP, add_arguments(parser) and run(args).

Modules import only argparse at the top, so building the parser stays fast; heavy imports
happen inside `run`.
"""

from fer.data.locations import DATA_ROOT as DEFAULT_DATA  # noqa: F401  (one place: fer.data.locations)
