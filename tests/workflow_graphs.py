"""The shipped workflows, described once and written in both ComfyUI formats.

Graphs of later capabilities live in ``tests/graphs_<capability>.py`` (a ``GRAPHS`` dict each) and
are merged here.

Run ``python tests/workflow_graphs.py`` after changing a graph or a node's inputs: it rewrites
``workflows/<name>.json`` (UI format, opened by the ComfyUI frontend and template browser) and
``workflows/api/<name>.json`` (API format, for POST /prompt). A test checks the files are current.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from comfy_standins import CORE_NODES  # noqa: E402
from posemotion import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: E402

ALL_NODES = {**CORE_NODES, **NODE_CLASS_MAPPINGS}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}

# node id -> (class, (column, row), inputs); an input given as (node id, output slot) is a link,
# anything else a widget value (widgets left out take their defaults).
GRAPHS = {
    "pose_from_image": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "mode": "image", "face": True}),
        3: ("PoseMotionRenderSkeleton", (2, 0), {"pose_keypoint": (2, 0), "face": True}),
        4: ("SaveImage", (3, 0), {"images": (3, 0), "filename_prefix": "posemotion/skeleton"}),
        5: ("PoseMotionRenderNormals", (2, 1), {"landmarks_3d": (2, 2), "part": "whole"}),
        6: ("SaveImage", (3, 1), {"images": (5, 0), "filename_prefix": "posemotion/body_normals"}),
        7: ("MaskToImage", (2, 2), {"mask": (2, 1)}),
        8: ("SaveImage", (3, 2), {"images": (7, 0), "filename_prefix": "posemotion/person_mask"}),
        9: ("PoseMotionSavePoseKeypoint", (2, 3), {"pose_keypoint": (2, 0), "filename_prefix": "posemotion/pose"}),
    },
    "pose_from_video": {
        1: ("PoseMotionLoadVideo", (0, 0), {"video": "posemotion_walk.mp4", "max_frames": 48, "every_nth": 2,
                                            "max_side": 512}),
        2: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "fps": (1, 1), "mode": "video", "smoothing": 0.3,
                                             "person_mask": "none"}),
        3: ("PoseMotionRenderSkeleton", (2, 0), {"pose_keypoint": (2, 0)}),
        4: ("SaveAnimatedWEBP", (3, 0), {"images": (3, 0), "filename_prefix": "posemotion/skeleton", "fps": 15.0,
                                         "lossless": False, "quality": 90}),
        5: ("PoseMotionRenderNormals", (2, 1), {"landmarks_3d": (2, 2), "part": "hands", "thickness": 1.0}),
        6: ("SaveAnimatedWEBP", (3, 1), {"images": (5, 0), "filename_prefix": "posemotion/hand_normals", "fps": 15.0,
                                         "lossless": False, "quality": 90}),
    },
    "forecast_from_image": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "mode": "image", "person_mask": "none"}),
        3: ("PoseMotionTextEncode", (0, 1), {"text": "wave arms"}),
        4: ("PoseMotionLoadPoseForecaster", (1, 1), {"checkpoint": "[bundled] one_stage_minilm.safetensors"}),
        5: ("PoseMotionForecastPoses", (2, 0), {"forecaster": (4, 0), "conditioning": (3, 0), "initial_pose": (2, 0),
                                                "horizon": 45, "fps": 30.0}),
        6: ("PoseMotionRenderSkeleton", (3, 0), {"pose_keypoint": (5, 0)}),
        7: ("SaveAnimatedWEBP", (4, 0), {"images": (6, 0), "filename_prefix": "posemotion/forecast", "fps": 30.0,
                                         "lossless": False, "quality": 90}),
    },
    "forecast_with_blip": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "mode": "image", "person_mask": "none"}),
        3: ("PoseMotionLoadBLIP", (0, 1), {"model": "blip-itm-base-coco"}),
        4: ("PoseMotionBLIPEncode", (1, 1), {"blip": (3, 0), "image": (1, 0), "text": "walk forward"}),
        5: ("PoseMotionLoadPoseForecaster", (1, 2), {"checkpoint": "one_stage_blip.safetensors"}),
        6: ("PoseMotionForecastPoses", (2, 0), {"forecaster": (5, 0), "conditioning": (4, 0), "initial_pose": (2, 0),
                                                "horizon": 45, "fps": 30.0}),
        7: ("PoseMotionRenderSkeleton", (3, 0), {"pose_keypoint": (6, 0)}),
        8: ("SaveAnimatedWEBP", (4, 0), {"images": (7, 0), "filename_prefix": "posemotion/forecast_blip", "fps": 30.0,
                                         "lossless": False, "quality": 90}),
    },
}

# workflow -> node id -> inputs that tests replace to run the workflow on tiny models (a module's
# optional TEST_SETTINGS)
TEST_SETTINGS: dict[str, dict[int, dict]] = {}
for _module_path in sorted(Path(__file__).resolve().parent.glob("graphs_*.py")):
    _module = importlib.import_module(_module_path.stem)
    assert not set(_module.GRAPHS) & set(GRAPHS), f"{_module_path.name} repeats a workflow name"
    GRAPHS.update(_module.GRAPHS)
    TEST_SETTINGS.update(getattr(_module, "TEST_SETTINGS", {}))


def prompt_for_tests(path: Path) -> dict:
    """The API workflow at ``path`` with its TEST_SETTINGS applied."""
    prompt = json.loads(path.read_text())
    for node_id, inputs in TEST_SETTINGS.get(path.stem, {}).items():
        prompt[str(node_id)]["inputs"].update(inputs)
    return prompt


def input_specs(cls) -> list[tuple[str, tuple, bool]]:
    """(name, spec, required) for every visible input, in the frontend's order."""
    types = cls.INPUT_TYPES()
    return [(name, spec, section == "required")
            for section in ("required", "optional") for name, spec in types.get(section, {}).items()]


def is_widget(spec: tuple) -> bool:
    options = spec[1] if len(spec) > 1 else {}
    return (isinstance(spec[0], list) or spec[0] in WIDGET_TYPES) and not options.get("forceInput")


def widget_default(spec: tuple):
    options = spec[1] if len(spec) > 1 else {}
    if "default" in options:
        return options["default"]
    if isinstance(spec[0], list):
        return spec[0][0] if spec[0] else None
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}[spec[0]]


def output_names(cls) -> list[str]:
    return list(getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES)  # the frontend's own naming


def has_seed_control(name: str, spec: tuple) -> bool:
    """The frontend adds a "control after generate" widget (saved right after the value) to an INT
    input named seed or noise_seed, or one that asks for it."""
    options = spec[1] if len(spec) > 1 else {}
    return spec[0] == "INT" and (name in ("seed", "noise_seed") or bool(options.get("control_after_generate")))


def widget_values(cls, given: dict) -> list:
    """Positional widgets_values as the frontend saves them (an upload button and a seed's
    control-after-generate widget add their own values)."""
    values = []
    for name, spec, _ in input_specs(cls):
        if is_widget(spec):
            values.append(given.get(name, widget_default(spec)))
            if len(spec) > 1 and spec[1].get("image_upload"):
                values.append("image")
            if has_seed_control(name, spec):
                values.append("fixed")
    return values


def build_api(graph: dict) -> dict:
    prompt = {}
    for node_id, (class_type, _, given) in graph.items():
        cls = ALL_NODES[class_type]
        inputs = {}
        for name, spec, _ in input_specs(cls):
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
        for slot, (name, spec, _) in enumerate(s for s in input_specs(cls) if not is_widget(s[1])):
            if isinstance(given.get(name), tuple):
                source, source_slot = given[name]
                link_type = ALL_NODES[graph[source][0]].RETURN_TYPES[source_slot]
                links.append([len(links) + 1, source, source_slot, node_id, slot, link_type])
                outgoing.setdefault((source, source_slot), []).append(len(links))
    link_into = {(link[3], link[4]): link[0] for link in links}
    column_bottom: dict[int, int] = {}
    for order, (node_id, (class_type, (column, row), given)) in enumerate(sorted(graph.items(), key=lambda n: n[1][1])):
        cls = ALL_NODES[class_type]
        sockets = [(name, spec) for name, spec, _ in input_specs(cls) if not is_widget(spec)]
        widgets = widget_values(cls, given)
        height = 60 + 26 * (len(sockets) + len(widgets))
        if any(len(spec) > 1 and spec[1].get("image_upload") for _, spec, _ in input_specs(cls)):
            height += 202  # the frontend grows an image preview under an upload widget
        top = column_bottom.get(column, 60)
        # Output nodes grow an image preview after a run: leave room below them.
        column_bottom[column] = top + height + (320 if getattr(cls, "OUTPUT_NODE", False) else 60)
        nodes.append({
            "id": node_id,
            "type": class_type,
            "pos": [40 + 380 * column, top],
            "size": [320, height],
            "flags": {},
            "order": order,
            "mode": 0,
            "inputs": [{"name": name, "type": spec[0], "link": link_into.get((node_id, slot))}
                       for slot, (name, spec) in enumerate(sockets)],
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


if __name__ == "__main__":
    for path, text in rendered_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
