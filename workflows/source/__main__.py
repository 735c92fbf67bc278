"""``python -m posemotion.workflows.source``: rewrite workflows/*.json and workflows/api/*.json."""

from .build import ROOT, write_files

for _path in write_files():
    print(f"wrote {_path.relative_to(ROOT)}")
