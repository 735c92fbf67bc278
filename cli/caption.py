"""Options of ``python -m posemotion describe-motion``: facts, captions and HumanML3D text lines of a
motion file, optionally checked against a text. The work lives in caption_commands.py."""

from __future__ import annotations


def add_commands(commands) -> None:
    describe = commands.add_parser(
        "describe-motion", help="describe a motion file in words and check it against a text",
        description="Find what a motion does (walks, turns, jumps, raises an arm, ...), print the facts with their "
                    "times, English captions in the style of HumanML3D and HumanML3D text lines; with --check, "
                    "score the motion against a text. The captions are derived from the motion by rules.")
    describe.add_argument("file", help="a motion file (.bvh, .asf with its .amc, .npz, HumanML3D .npy) or "
                                       "POSE_KEYPOINT frames (.json, as Save Pose Keypoints writes them)")
    describe.add_argument("--amc", default=None,
                          help="the .amc motion of an .asf skeleton (default: the .amc of the same name beside it)")
    describe.add_argument("--fps", type=float, default=None,
                          help="frame rate of a .json file (required there); for a motion file, resample to it "
                               "(default: keep the file's)")
    describe.add_argument("--seed", type=int, default=0, help="chooses among the phrasings (default: 0)")
    describe.add_argument("--count", type=int, default=3, help="how many different captions (default: 3)")
    describe.add_argument("--check", default=None, metavar="TEXT",
                          help="also score the motion against this text (fraction of its facts found)")
    describe.set_defaults(run=run_command)


def run_command(args) -> int:
    # The work imports torch and numpy (seconds): imported only once the command runs, so that
    # --help and argument errors answer at once.
    from .caption_commands import run_command as run

    return run(args)
