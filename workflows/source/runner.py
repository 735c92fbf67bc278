"""Run an API-format workflow in this process, without ComfyUI: the pack's nodes plus the core nodes'
minimal behaviour (core_nodes.py). The tests run every shipped workflow with it, the thumbnail
renderer (thumbnails.py) the parts of a workflow its thumbnail shows.
"""

from __future__ import annotations

from graphlib import TopologicalSorter

from .build import ALL_NODES


def is_link(value) -> bool:
    """An API input that names another node's output: [node id, output slot]."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def needed_nodes(prompt: dict, targets) -> set[str]:
    """``targets`` and every node they read from, directly or not."""
    needed, pending = set(), [str(t) for t in targets]
    while pending:
        node_id = pending.pop()
        if node_id not in needed:
            needed.add(node_id)
            pending += [v[0] for v in prompt[node_id]["inputs"].values() if is_link(v)]
    return needed


def run_prompt(prompt: dict, targets=None) -> dict[str, dict]:
    """Execute the nodes in dependency order, all of them or only what ``targets`` (node ids) need
    -> {node id: {"result": tuple, "ui": dict | None}}."""
    chosen = needed_nodes(prompt, targets) if targets is not None else set(prompt)
    graph = {node_id: {v[0] for v in prompt[node_id]["inputs"].values() if is_link(v)} for node_id in chosen}
    outputs: dict[str, dict] = {}
    for node_id in TopologicalSorter(graph).static_order():
        node = prompt[node_id]
        cls = ALL_NODES[node["class_type"]]
        kwargs = {name: outputs[v[0]]["result"][v[1]] if is_link(v) else v for name, v in node["inputs"].items()}
        returned = getattr(cls(), cls.FUNCTION)(**kwargs)
        if isinstance(returned, dict):
            outputs[node_id] = {"result": tuple(returned.get("result", ())), "ui": returned.get("ui")}
        else:
            outputs[node_id] = {"result": tuple(returned), "ui": None}
        if len(outputs[node_id]["result"]) != len(cls.RETURN_TYPES):
            raise RuntimeError(f"node {node_id} ({node['class_type']}) returned {len(outputs[node_id]['result'])} "
                               f"outputs, its RETURN_TYPES has {len(cls.RETURN_TYPES)}")
    return outputs
