"""``python -m posemotion.workflows.source``: rewrite workflows/*.json and workflows/api/*.json.

With ``--thumbnails [NAME ...]`` it also runs the workflows (all, or those named) on the demo inputs
and rewrites their template-browser thumbnails workflows/<name>.jpg (thumbnails.py; needs the test
data installed, see README's Tests).
"""

import argparse
from pathlib import Path

from .build import ROOT, write_files
from .graphs import GRAPHS
from .thumbnails import default_mocap_dir, write_thumbnails

parser = argparse.ArgumentParser(prog="python -m posemotion.workflows.source", description=__doc__.splitlines()[0])
parser.add_argument("--thumbnails", nargs="*", choices=sorted(GRAPHS), metavar="NAME",
                    help="also render workflows/NAME.jpg by running the workflows (all when no NAME is given)")
parser.add_argument("--mocap-dir", type=Path, default=default_mocap_dir(),
                    help="folder with test_mocapbank.bvh from scripts/fetch_mocap.sh (default: %(default)s)")
args = parser.parse_args()

for _path in write_files():
    print(f"wrote {_path.relative_to(ROOT)}")
if args.thumbnails is not None:
    for _path in write_thumbnails(args.thumbnails, mocap_dir=args.mocap_dir):
        print(f"wrote {_path.relative_to(ROOT)}")
