"""The import arrows of docs/architecture.md, checked by parsing every module's imports (ast).

A wrong arrow (a library module importing a front door, a capability importing another outside the
table, anything but nodes/bridge.py touching ComfyUI, product code importing tests) fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# area -> areas it may import from inside the pack (its own area is always allowed). An area is a
# top-level folder, or models/<subpackage>; "root" is the pack's own __init__.py / __main__.py.
ALLOWED = {
    "models.core": set(),
    "models.media": {"models.core"},
    "models.motion": {"models.core"},
    "models.render": {"models.core"},
    "models.pose": {"models.core", "models.media", "models.render"},
    "models.captioning": {"models.core", "models.motion", "models.render", "models.tokenizers"},
    "models.forecasting": {"models.core", "models.media", "models.motion", "models.pose", "models.render",
                           "models.captioning"},
    "models.motion_text": {"models.core", "models.media", "models.motion", "models.pose", "models.render",
                           "models.tokenizers", "models.captioning", "models.forecasting"},
    "models.tokenizers": {"models.core", "models.motion"},
    "models.posegen": {"models.core", "models.media", "models.motion", "models.pose", "models.render"},
    "models.llm": {"models.core", "models.motion", "models.render", "models.tokenizers", "models.captioning",
                   "models.motion_text"},
    "models.genmo": {"models.core", "models.media", "models.motion", "models.pose", "models.render",
                     "models.captioning", "models.forecasting", "models.motion_text"},
    "models.headless": {"models.core"},
    "models": set(),
    "nodes": {"models.*"},
    "cli": {"models.*"},
    "workflows": {"root", "nodes", "models.*"},
    "root": {"nodes", "cli"},
    "benchmarks": {"models.*", "nodes", "cli"},
}
COMFY_MODULES = {"comfy", "comfy_extras", "comfy_api", "folder_paths", "server", "execution", "nodes"}
COMFY_SEAM = "nodes/bridge.py"
TEST_HELPERS = {"support", "conftest", "tiny_models", "workflow_runner", "comfy_standins", "workflow_graphs"}


def _area(parts: list[str]) -> str:
    if not parts or parts[0] in ("__init__", "__main__"):
        return "root"
    if parts[0] == "models" and len(parts) > 1:
        return f"models.{parts[1]}"
    return parts[0]


def _module_parts(path: Path, repo: Path) -> list[str]:
    parts = list(path.relative_to(repo).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _targets(path: Path, repo: Path) -> list[tuple[int, str, list[str] | None]]:
    """(line, absolute name, pack parts or None for a third-party module) of every import."""
    parts = _module_parts(path, repo)
    package = parts if path.name == "__init__.py" else parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            module = base + (node.module.split(".") if node.module else [])
            if node.module:
                found.append((node.lineno, ".".join(module), module))
            elif not base:  # "from ... import NAME" at the pack's root
                found += [(node.lineno, a.name, []) for a in node.names]
            else:  # "from . import x": x may be a submodule
                found += [(node.lineno, ".".join(module + [a.name]), module + [a.name]) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            pack = name.split(".")[1:] if name.split(".")[0] == "posemotion" else None
            found.append((node.lineno, name, pack))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                pack = alias.name.split(".")[1:] if alias.name.split(".")[0] == "posemotion" else None
                found.append((node.lineno, alias.name, pack))
    return found


def _allowed(source: str, target: str) -> bool:
    if target == source:
        return True
    rules = ALLOWED.get(source, set())
    return target in rules or ("models.*" in rules and target.startswith("models"))


def violations(repo: Path) -> list[str]:
    """Every import in ``repo`` that breaks the arrows above."""
    problems = []
    for path in sorted(repo.rglob("*.py")):
        rel = path.relative_to(repo).as_posix()
        if rel.startswith(("tests/", ".")) or "/." in rel or rel.startswith(("data/", "scripts/")):
            continue
        source = _area(_module_parts(path, repo))
        for line, name, pack in _targets(path, repo):
            where = f"{rel}:{line}: {name}"
            if pack is None:
                top = name.split(".")[0]
                if top in COMFY_MODULES and rel != COMFY_SEAM:
                    problems.append(f"{where}: only {COMFY_SEAM} may import ComfyUI")
                if top in TEST_HELPERS:
                    problems.append(f"{where}: product code imports a test helper")
                continue
            if pack and pack[0] == "tests":
                problems.append(f"{where}: product code imports tests/")
                continue
            target = _area(pack)
            if not _allowed(source, target):
                problems.append(f"{where}: {source} may not import {target}")
    return problems


def test_the_pack_follows_its_import_arrows():
    assert violations(REPO) == []


@pytest.mark.parametrize("rel, code, expected", [
    ("models/core/x.py", "from ..forecasting import model\n", "models.core may not import models.forecasting"),
    ("models/motion/x.py", "from ...nodes import bridge\n", "models.motion may not import nodes"),
    ("models/tokenizers/x.py", "from ..posegen.lora import load_lora\n", "may not import models.posegen"),
    ("nodes/x.py", "import folder_paths\n", "only nodes/bridge.py may import ComfyUI"),
    ("cli/x.py", "from ..nodes import bridge\n", "cli may not import nodes"),
    ("benchmarks/x.py", "from support.tiny_models import POSEGEN_FILES\n", "imports a test helper"),
    ("models/pose/x.py", "from posemotion.cli.main import main\n", "models.pose may not import cli"),
])
def test_a_wrong_arrow_is_reported(tmp_path, rel, code, expected):
    path = tmp_path / rel
    path.parent.mkdir(parents=True)
    path.write_text(code)
    found = violations(tmp_path)
    assert len(found) == 1 and expected in found[0], found
