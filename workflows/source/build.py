"""Write the shipped workflows in both ComfyUI formats from their descriptions (``graphs.py``).

Run ``python -m posemotion.workflows.source`` after changing a graph or a node's inputs: it rewrites
``workflows/<name>.json`` (UI format, opened by the ComfyUI frontend and template browser) and
``workflows/api/<name>.json`` (API format, for POST /prompt). A test fails while the files are stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from ... import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from ...models.headless.workflow_format import input_specs, is_widget, widget_default, widget_values
from .core_nodes import CORE_NODES
from .graphs import GRAPHS

ROOT = Path(__file__).resolve().parents[2]
ALL_NODES = {**CORE_NODES, **NODE_CLASS_MAPPINGS}


def output_names(cls) -> list[str]:
    return list(getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES)  # the frontend's own naming


def sockets(cls, given: dict) -> list[tuple[str, tuple, bool]]:
    """A UI node's input sockets: (name, spec, is a widget): every non-widget input, then each widget
    input that ``given`` links to another node's output (the frontend keeps its widget value too)."""
    specs = input_specs(cls.INPUT_TYPES())
    return [(name, spec, False) for name, spec, _ in specs if not is_widget(spec)] + [
        (name, spec, True) for name, spec, _ in specs if is_widget(spec) and isinstance(given.get(name), tuple)]


def build_api(graph: dict) -> dict:
    prompt = {}
    for node_id, (class_type, _, given) in graph.items():
        cls = ALL_NODES[class_type]
        inputs = {}
        for name, spec, _ in input_specs(cls.INPUT_TYPES()):
            value = given.get(name)
            if isinstance(value, tuple):
                inputs[name] = [str(value[0]), value[1]]
            elif is_widget(spec):
                inputs[name] = given.get(name, widget_default(spec))
        prompt[str(node_id)] = {"inputs": inputs, "class_type": class_type,
                                "_meta": {"title": NODE_DISPLAY_NAME_MAPPINGS.get(class_type, class_type)}}
    return prompt


def build_ui(graph: dict) -> dict:
    links, nodes = [], []
    outgoing: dict[tuple[int, int], list[int]] = {}
    for node_id, (class_type, _, given) in graph.items():
        cls = ALL_NODES[class_type]
        for slot, (name, spec, _) in enumerate(sockets(cls, given)):
            if isinstance(given.get(name), tuple):
                source, source_slot = given[name]
                link_type = ALL_NODES[graph[source][0]].RETURN_TYPES[source_slot]
                links.append([len(links) + 1, source, source_slot, node_id, slot, link_type])
                outgoing.setdefault((source, source_slot), []).append(len(links))
    link_into = {(link[3], link[4]): link[0] for link in links}
    column_bottom: dict[int, int] = {}
    for order, (node_id, (class_type, (column, row), given)) in enumerate(sorted(graph.items(), key=lambda n: n[1][1])):
        cls = ALL_NODES[class_type]
        inputs = sockets(cls, given)
        widgets = widget_values(cls.INPUT_TYPES(), {k: v for k, v in given.items() if not isinstance(v, tuple)})
        height = 60 + 26 * (len(inputs) + len(widgets))
        if any(len(spec) > 1 and spec[1].get("image_upload") for _, spec, _ in input_specs(cls.INPUT_TYPES())):
            height += 202  # the frontend grows an image preview under an upload widget
        min_width, min_height = getattr(cls, "MIN_UI_SIZE", (0, 0))  # room for a node's own viewer
        width, height = max(320, min_width), max(height, min_height)
        top = column_bottom.get(column, 60)
        # Output nodes grow an image preview after a run: leave room below them.
        column_bottom[column] = top + height + (320 if getattr(cls, "OUTPUT_NODE", False) else 60)
        nodes.append({
            "id": node_id,
            "type": class_type,
            "pos": [40 + 380 * column, top],
            "size": [width, height],
            "flags": {},
            "order": order,
            "mode": 0,
            "inputs": [{"name": name, "type": spec[0], **({"widget": {"name": name}} if widget else {}),
                        "link": link_into.get((node_id, slot))} for slot, (name, spec, widget) in enumerate(inputs)],
            "outputs": [{"name": name, "type": kind, "links": outgoing.get((node_id, slot), []), "slot_index": slot}
                        for slot, (name, kind) in enumerate(zip(output_names(cls), cls.RETURN_TYPES))],
            **({"title": NODE_DISPLAY_NAME_MAPPINGS[class_type]} if class_type in NODE_DISPLAY_NAME_MAPPINGS else {}),
            "properties": {"Node name for S&R": class_type},
            "widgets_values": widgets,
        })
    return {"last_node_id": max(graph), "last_link_id": len(links), "nodes": nodes, "links": links,
            "groups": [], "config": {}, "extra": {}, "version": 0.4}


def rendered_files() -> dict[Path, str]:
    files = {}
    for name, graph in GRAPHS.items():
        files[ROOT / "workflows" / f"{name}.json"] = json.dumps(build_ui(graph), indent=1) + "\n"
        files[ROOT / "workflows" / "api" / f"{name}.json"] = json.dumps(build_api(graph), indent=1) + "\n"
    return files


def write_files() -> list[Path]:
    """Write every workflow file; returns the paths."""
    written = []
    for path, text in rendered_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
