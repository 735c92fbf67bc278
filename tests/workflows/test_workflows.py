"""Every shipped workflow: the files are current, UI files match the node definitions, API files run."""

import json
from pathlib import Path

import pytest
import torch
from posemotion import NODE_CLASS_MAPPINGS
from posemotion.models.headless.workflow_format import has_seed_control, input_specs, is_widget
from posemotion.workflows.source.build import ALL_NODES, ROOT, rendered_files
from posemotion.workflows.source.graphs import GRAPHS
from support.workflow_runner import prompt_for_tests, run_prompt

UI_FILES = sorted((ROOT / "workflows").glob("*.json"))
API_FILES = sorted((ROOT / "workflows" / "api").glob("*.json"))


def test_workflow_files_are_current():
    assert {p.stem for p in UI_FILES} == set(GRAPHS) == {p.stem for p in API_FILES}
    for path, text in rendered_files().items():
        assert path.read_text() == text, f"{path} is stale: run python -m posemotion.workflows.source"


def test_every_pack_node_is_used_by_a_workflow():
    used = {node["type"] for path in UI_FILES for node in json.loads(path.read_text())["nodes"]}
    assert set(NODE_CLASS_MAPPINGS) <= used


def _check_widget(where: str, spec: tuple, value):
    kind, options = spec[0], (spec[1] if len(spec) > 1 else {})
    if isinstance(kind, list):
        assert value in kind, f"{where}: {value!r} is not one of {kind}"
    elif kind == "BOOLEAN":
        assert isinstance(value, bool), f"{where}: expected a boolean"
    elif kind == "STRING":
        assert isinstance(value, str), f"{where}: expected a string"
    else:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: expected a number"
        if kind == "INT":
            assert isinstance(value, int), f"{where}: expected an integer"
        assert options.get("min", value) <= value <= options.get("max", value), f"{where}: {value} out of range"


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_matches_node_definitions(path, comfy_dirs):
    workflow = json.loads(path.read_text())
    nodes = {node["id"]: node for node in workflow["nodes"]}
    assert workflow["last_node_id"] >= max(nodes) and workflow["last_link_id"] == len(workflow["links"])
    for node in nodes.values():
        assert node["type"] in ALL_NODES, f"unknown node type {node['type']}"
        cls = ALL_NODES[node["type"]]
        specs = input_specs(cls.INPUT_TYPES())
        sockets = [(name, spec, required) for name, spec, required in specs if not is_widget(spec)]
        plain = [i for i in node["inputs"] if "widget" not in i]
        assert [i["name"] for i in plain] == [name for name, _, _ in sockets]
        widget_specs = {name: spec for name, spec, _ in specs if is_widget(spec)}
        for socket in node["inputs"][len(plain):]:  # widgets fed by a link follow the plain sockets
            assert socket["widget"] == {"name": socket["name"]} and socket["link"] is not None
            assert socket["type"] == widget_specs[socket["name"]][0]
        for socket, (name, spec, required) in zip(plain, sockets):
            assert socket["type"] == spec[0]
            assert socket["link"] is not None or not required, f"{node['type']}.{name} is required but unlinked"
        values = list(node["widgets_values"])
        for name, spec, _ in specs:
            if is_widget(spec):
                _check_widget(f"{path.stem}: {node['type']}.{name}", spec, values.pop(0))
                if len(spec) > 1 and spec[1].get("image_upload"):
                    assert values.pop(0) == "image"
                if has_seed_control(name, spec):
                    assert values.pop(0) in ("fixed", "increment", "decrement", "randomize")
        assert values == [], f"{node['type']}: {len(values)} widget values too many"
        assert [o["type"] for o in node["outputs"]] == list(cls.RETURN_TYPES)
    for link_id, source, slot, target, target_slot, kind in workflow["links"]:
        assert ALL_NODES[nodes[source]["type"]].RETURN_TYPES[slot] == kind
        assert nodes[target]["inputs"][target_slot]["type"] == kind
        assert nodes[target]["inputs"][target_slot]["link"] == link_id
        assert link_id in nodes[source]["outputs"][slot]["links"]


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.stem)
def test_api_workflow_runs(path, comfy_dirs):
    prompt = prompt_for_tests(path)
    outputs = run_prompt(prompt)
    for node_id, node in prompt.items():
        if node["class_type"] == "PoseMotionDetectPose":
            frames = outputs[node_id]["result"][0]
            found = sum(bool(frame["people"]) for frame in frames)
            assert found >= 0.9 * len(frames), f"person found in only {found}/{len(frames)} frames"
        if node["class_type"] in ("PoseMotionRenderSkeleton", "PoseMotionRenderNormals"):
            image = outputs[node_id]["result"][0]
            assert image.ndim == 4 and image.shape[-1] == 3 and image.dtype == torch.float32
            assert image.amax() > 0.2, f"{node['class_type']} drew nothing"
    saved = sorted(p.relative_to(comfy_dirs["output"]).as_posix() for p in Path(comfy_dirs["output"]).rglob("*.*"))
    assert saved, "the workflow saved nothing"
