"""Command line: ``python -m posemotion COMMAND ...`` (see ``DESCRIPTION``).

Each command module adds its subcommands with ``set_defaults(run=...)`` and imports only light
names at its top, so that ``--help`` answers at once; the work is imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys

from ..models.core.errors import InputError
from ..models.core.resources import console_output
from .caption import add_commands as add_caption_commands
from .corpus import add_commands as add_corpus_commands
from .evaluator import add_commands as add_evaluator_commands
from .forecast import add_commands as add_forecast_commands
from .genmo import add_commands as add_genmo_commands
from .llm import add_commands as add_llm_commands
from .motion import add_commands as add_motion_commands
from .pose import add_commands as add_pose_commands
from .run import add_commands as add_run_command

DESCRIPTION = ("PoseMotion without ComfyUI: detect poses in a video, forecast poses from an image and a short "
               "text, build the datasets, train and benchmark the forecasters and motion tokenizers, or run a "
               "workflow on a ComfyUI server.")
EPILOG = "Run 'python -m posemotion COMMAND --help' for the options of a command."
VERBOSE_HELP = "show the MediaPipe/TFLite log lines and third-party warnings that are hidden by default"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m posemotion", description=DESCRIPTION, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    add_pose_commands(commands)
    add_forecast_commands(commands)
    add_motion_commands(commands)
    add_caption_commands(commands)
    add_llm_commands(commands)
    add_genmo_commands(commands)
    add_corpus_commands(commands)
    add_evaluator_commands(commands)
    add_run_command(commands)
    for sub in commands.choices.values():
        if sub.get_default("run") is not None:
            sub.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with console_output(args.verbose):
        try:
            return args.run(args)
        except (InputError, FileNotFoundError) as error:  # ModelFileError is a FileNotFoundError
            print(f"error: {error}", file=sys.stderr)
            return 2
