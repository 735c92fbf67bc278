"""The UI <-> API workflow rules (models/headless/workflow_format.py), with no server: the node
definitions come from the node classes themselves, shaped as /object_info sends them."""

from __future__ import annotations

import json

import pytest
from posemotion.models.core.errors import InputError
from posemotion.models.headless.client import prepare_prompt
from posemotion.models.headless.workflow_format import (
    apply_settings,
    object_info_from_classes,
    parse_setting,
    parse_upload,
    ui_to_api,
    widget_inputs,
    widget_values,
)
from posemotion.workflows.source.build import ALL_NODES, ROOT

UI_FILES = sorted((ROOT / "workflows").glob("*.json"))


@pytest.fixture(scope="module")
def object_info() -> dict:
    return object_info_from_classes(ALL_NODES)


def _without_meta(prompt: dict) -> dict:
    return {node_id: {k: v for k, v in node.items() if k != "_meta"} for node_id, node in prompt.items()}


def _ui(name: str) -> dict:
    return json.loads((ROOT / "workflows" / f"{name}.json").read_text())


def test_every_workflow_is_shipped_in_both_formats():
    assert [p.stem for p in UI_FILES] == sorted(p.stem for p in (ROOT / "workflows" / "api").glob("*.json"))
    assert len(UI_FILES) >= 8


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_converts_to_the_shipped_api_workflow(path, object_info):
    api = json.loads((ROOT / "workflows" / "api" / path.name).read_text())
    assert _without_meta(ui_to_api(json.loads(path.read_text()), object_info)) == _without_meta(api)


def test_upload_and_seed_widgets_save_extra_values_that_are_skipped(object_info):
    sample = object_info["PoseMotionPoseGenSample"]["input"]
    values = widget_values(sample, {"seed": 7, "steps": 3})
    seed_at = list(widget_inputs(sample, values)).index("seed")
    assert values[seed_at + 1] == "fixed"  # the control-after-generate value follows the seed
    assert widget_inputs(sample, values)["seed"] == 7 and widget_inputs(sample, values)["steps"] == 3
    load = object_info["LoadImage"]["input"]
    assert widget_values(load, {"image": "a.png"}) == ["a.png", "image"]
    assert widget_inputs(load, ["a.png", "image"]) == {"image": "a.png"}
    assert widget_inputs(load, ["a.png"]) == {"image": "a.png"}  # saved without the upload value
    assert widget_inputs(load, {"image": "b.png"}) == {"image": "b.png"}  # saved by name


def test_too_few_widget_values_name_the_node(object_info):
    workflow = _ui("pose_from_image")
    workflow["nodes"][1]["widgets_values"] = workflow["nodes"][1]["widgets_values"][:2]
    with pytest.raises(InputError, match=r"node 2 \(PoseMotionDetectPose\): has 2 widget values"):
        ui_to_api(workflow, object_info)


def test_unknown_node_type_is_named(object_info):
    workflow = _ui("pose_from_image")
    workflow["nodes"][0]["type"] = "SomePackLoader"
    with pytest.raises(InputError, match=r"node 1 \(SomePackLoader\): is not a node type the server knows"):
        ui_to_api(workflow, object_info)


def _insert_before_detection(workflow: dict, node: dict) -> None:
    """Route LoadImage's IMAGE through ``node`` (one IMAGE input, one IMAGE output) into DetectPose."""
    link = next(link for link in workflow["links"] if link[3] == 2 and link[4] == 0)
    node.update(inputs=[{"name": "image", "type": "IMAGE", "link": 90}],
                outputs=[{"name": "IMAGE", "type": "IMAGE", "links": [link[0]]}])
    workflow["nodes"].append(node)
    workflow["links"].append([90, 1, 0, node["id"], 0, "IMAGE"])
    link[1], link[2] = node["id"], 0


@pytest.mark.parametrize("node", [{"id": 20, "type": "Reroute", "mode": 0},
                                  {"id": 20, "type": "SomeImageFilter", "mode": 4}], ids=["reroute", "bypassed"])
def test_reroute_and_bypassed_nodes_pass_their_input_on(node, object_info):
    workflow = _ui("pose_from_image")
    _insert_before_detection(workflow, node)
    workflow["nodes"].append({"id": 21, "type": "Note", "mode": 0, "widgets_values": ["a comment"]})
    api = json.loads((ROOT / "workflows" / "api" / "pose_from_image.json").read_text())
    assert _without_meta(ui_to_api(workflow, object_info)) == _without_meta(api)


def test_muted_nodes_are_left_out_and_bypass_drops_a_link_of_no_matching_type(object_info):
    workflow = _ui("pose_from_image")
    nodes = {node["id"]: node for node in workflow["nodes"]}
    nodes[8]["mode"] = 2  # a muted saver is not sent
    nodes[3]["mode"] = 4  # bypassed skeleton renderer: no IMAGE input to pass on to its saver
    converted = ui_to_api(workflow, object_info)
    api = json.loads((ROOT / "workflows" / "api" / "pose_from_image.json").read_text())
    assert sorted(converted, key=int) == ["1", "2", "4", "5", "6", "7", "9"]
    assert converted["4"]["inputs"] == {"filename_prefix": api["4"]["inputs"]["filename_prefix"]}


def test_a_widget_fed_by_a_primitive_node_takes_its_value(object_info):
    workflow = _ui("pose_from_image")
    render = next(node for node in workflow["nodes"] if node["id"] == 3)
    render["inputs"].append({"name": "width", "type": "INT", "widget": {"name": "width"}, "link": 91})
    workflow["nodes"].append({"id": 22, "type": "PrimitiveNode", "mode": 0, "widgets_values": [640, "fixed"],
                              "outputs": [{"name": "INT", "type": "INT", "links": [91]}]})
    workflow["links"].append([91, 22, 0, 3, 1, "INT"])
    assert ui_to_api(workflow, object_info)["3"]["inputs"]["width"] == 640


def test_links_saved_as_objects_convert_too(object_info):
    workflow = _ui("forecast_from_image")
    workflow["links"] = [dict(zip(("id", "origin_id", "origin_slot", "target_id", "target_slot", "type"), link))
                         for link in workflow["links"]]
    api = json.loads((ROOT / "workflows" / "api" / "forecast_from_image.json").read_text())
    assert _without_meta(ui_to_api(workflow, object_info)) == _without_meta(api)


@pytest.mark.parametrize("text, expected", [
    ("3.width=512", ("3", "width", 512)),
    ("3.thickness=1.5", ("3", "thickness", 1.5)),
    ("2.face=false", ("2", "face", False)),
    ("3.text=wave arms", ("3", "text", "wave arms")),
    ('3.text="42"', ("3", "text", "42")),
    ("1.image=photos/me=1.png", ("1", "image", "photos/me=1.png")),
    ("3.link=[\"1\", 0]", ("3", "link", ["1", 0])),
])
def test_setting_values_are_json_else_text(text, expected):
    assert parse_setting(text) == expected


@pytest.mark.parametrize("text", ["3width=512", "3.width", ".width=1", "3.=1", "=1"])
def test_malformed_setting_is_refused(text):
    with pytest.raises(InputError, match=r"--set: expected NODE.INPUT=VALUE"):
        parse_setting(text)


def test_settings_change_known_inputs_and_name_unknown_ones(object_info):
    path = ROOT / "workflows" / "api" / "pose_from_image.json"
    prompt = json.loads(path.read_text())
    assert "fps" not in prompt["2"]["inputs"]  # declared by Detect Pose, left unlinked in this workflow
    apply_settings(prompt, ["3.width=96", "2.fps=12.5", ("2", "face", False)], object_info)
    assert prompt["3"]["inputs"]["width"] == 96 and prompt["2"]["inputs"]["fps"] == 12.5
    assert prompt["2"]["inputs"]["face"] is False
    with pytest.raises(InputError, match=r"--set: node 42 is not in the workflow \(its nodes: 1, 2, .*, 8, 9\)"):
        apply_settings(prompt, ["42.width=1"], object_info)
    with pytest.raises(InputError, match=r"--set: node 3 \(PoseMotionRenderSkeleton\) has no input 'widht'"):
        apply_settings(prompt, ["3.widht=1"], object_info)
    with pytest.raises(InputError, match=r"has no input 'fps'"):  # without definitions only present inputs count
        apply_settings(json.loads(path.read_text()), ["2.fps=1"])


def test_prepare_prompt_reads_both_formats_and_needs_definitions_for_ui(object_info):
    api = json.loads((ROOT / "workflows" / "api" / "motion_tokenize.json").read_text())
    from_ui = prepare_prompt(_ui("motion_tokenize"), ["5.width=64"], object_info)
    from_api = prepare_prompt(api, ["5.width=64"], object_info)
    assert _without_meta(from_ui) == _without_meta(from_api) and from_api["5"]["inputs"]["width"] == 64
    assert api["5"]["inputs"]["width"] == 384  # the caller's workflow is left as it was
    with pytest.raises(InputError, match="needs the server's /object_info"):
        prepare_prompt(_ui("motion_tokenize"))
    with pytest.raises(InputError, match="neither an API-format prompt nor a UI-format workflow"):
        prepare_prompt({"hello": 1})


@pytest.mark.parametrize("text, expected", [
    ("posemotion_person.png=photo.png", ("posemotion_person.png", "photo.png")),
    ("clips/walk.mp4=/data/a=b.mp4", ("clips/walk.mp4", "/data/a=b.mp4")),
    ("/data/posemotion_mocap.bvh", ("posemotion_mocap.bvh", "/data/posemotion_mocap.bvh")),
])
def test_upload_names_and_paths(text, expected):
    assert parse_upload(text) == expected


@pytest.mark.parametrize("text, problem", [
    ("=photo.png", "expected NAME=PATH"),
    ("a.png=", "expected NAME=PATH"),
    ("../escape.png=photo.png", "must stay inside ComfyUI's input folder"),
    ("/abs.png=photo.png", "must stay inside ComfyUI's input folder"),
])
def test_bad_upload_is_refused(text, problem):
    with pytest.raises(InputError, match=f"--upload: .*{problem}"):
        parse_upload(text)
