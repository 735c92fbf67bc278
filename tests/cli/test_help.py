"""The command line's front page: ``--help`` imports no heavy library, every option explains itself,
descriptions are plain text."""

import argparse
import subprocess
import sys

import pytest
from posemotion.cli.main import build_parser

# Libraries that take seconds to import; --help and argument errors must not wait for them.
HEAVY = ("torch", "transformers", "diffusers", "mediapipe", "cv2", "numpy", "accelerate", "posemotion.nodes")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_help_imports_no_heavy_library():
    """``python -m posemotion --help`` as a user runs it (the package's __init__ included), read
    through Python's own import log."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "posemotion", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage: python -m posemotion" in run.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "posemotion.cli.main" in imported  # the log is read correctly
    heavy = sorted(name for name in imported if name in HEAVY or name.startswith(tuple(h + "." for h in HEAVY)))
    assert not heavy, f"--help imported {heavy}"


@pytest.mark.parametrize("command", ["demo", "detect", "forecast", "motion-train"])
def test_command_help_imports_no_heavy_library(command):
    code = ("import sys\nfrom posemotion.cli.main import main\ntry:\n    main([%r, '--help'])\nexcept SystemExit:\n"
            "    pass\nprint(sorted(m for m in %r if m in sys.modules))" % (command, HEAVY))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"python -m posemotion {command}" in run.stdout
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_every_command_and_option_has_help():
    parser = build_parser()
    commands = _subcommands(parser)
    assert {"demo", "detect", "forecast", "forecast-train", "motion-train"} <= set(commands)
    listed = {a.dest: a.help for a in next(a for a in parser._actions
                                           if isinstance(a, argparse._SubParsersAction))._choices_actions}
    for name, sub in commands.items():
        assert listed.get(name), f"{name} has no one-line help"
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and len(action.help) > 10, f"{name} {action.option_strings or action.dest}: no help"


def test_descriptions_are_plain_text():
    parser = build_parser()
    pages = {"": parser.format_help(), **{n: s.format_help() for n, s in _subcommands(parser).items()}}
    for name, page in pages.items():
        for markup in ("``", ":func:", ":class:", "|forecast"):
            assert markup not in page, f"help of {name or 'python -m posemotion'} shows {markup!r}"
    assert "COMMAND" in pages[""] and "--help" in pages[""]


def test_commands_with_work_to_do_take_verbose():
    for name, sub in _subcommands(build_parser()).items():
        if sub.get_default("run") is not None:
            assert any("--verbose" in action.option_strings for action in sub._actions), name
