"""A small test-only executor for API-format workflows over the pack's nodes and core stand-ins."""

from __future__ import annotations

import json
from graphlib import TopologicalSorter
from pathlib import Path

from posemotion import NODE_CLASS_MAPPINGS
from posemotion.workflows.source.graphs import TEST_SETTINGS

from .comfy_standins import CORE_NODES

ALL_NODES = {**CORE_NODES, **NODE_CLASS_MAPPINGS}


def _is_link(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def run_prompt(prompt: dict) -> dict[str, dict]:
    """Execute every node in dependency order -> {node id: {"result": tuple, "ui": dict | None}}."""
    graph = {node_id: {v[0] for v in node["inputs"].values() if _is_link(v)} for node_id, node in prompt.items()}
    outputs: dict[str, dict] = {}
    for node_id in TopologicalSorter(graph).static_order():
        node = prompt[node_id]
        cls = ALL_NODES[node["class_type"]]
        kwargs = {name: outputs[v[0]]["result"][v[1]] if _is_link(v) else v for name, v in node["inputs"].items()}
        returned = getattr(cls(), cls.FUNCTION)(**kwargs)
        if isinstance(returned, dict):
            outputs[node_id] = {"result": tuple(returned.get("result", ())), "ui": returned.get("ui")}
        else:
            outputs[node_id] = {"result": tuple(returned), "ui": None}
        assert len(outputs[node_id]["result"]) == len(cls.RETURN_TYPES), f"node {node_id} returned the wrong arity"
    return outputs


def prompt_for_tests(path: Path) -> dict:
    """The API workflow at ``path`` with its TEST_SETTINGS applied."""
    prompt = json.loads(path.read_text())
    for node_id, inputs in TEST_SETTINGS.get(path.stem, {}).items():
        prompt[str(node_id)]["inputs"].update(inputs)
    return prompt
