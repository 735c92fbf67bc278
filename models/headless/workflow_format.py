"""ComfyUI's two workflow formats and the one set of rules that maps between them.

The UI format (what the frontend saves) keeps widget values as a positional list per node and
links as a separate table; the API format (what ``POST /prompt`` takes) names every input. The
position of each widget value follows the node's inputs in the order ``/object_info`` lists them
(required, then optional), plus the extra values the frontend saves after some widgets. Both the
workflow writer (``workflows/source/build.py``) and the runner's UI -> API conversion use these
rules, so a file we write is a file we can read back.

Node definitions are accepted as ``INPUT_TYPES()`` dicts, i.e. an ``/object_info`` entry's
``input`` (tuples or lists alike).
"""

from __future__ import annotations

import json

from ..core.errors import InputError

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
WIDGET_ZERO = {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}
UPLOAD_WIDGET_VALUE = "image"  # the frontend's upload button saves this after an image_upload widget
SEED_CONTROL_VALUE = "fixed"   # the "control after generate" widget; "fixed" keeps the seed as saved
# Never sent to the server: comments, and helpers that ui_to_api resolves through the links.
FRONTEND_ONLY_NODES = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
MUTED, BYPASSED = 2, 4  # a UI node's "mode" when it is switched off or passed through


def _options(spec) -> dict:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def input_specs(input_types: dict, input_order: dict | None = None) -> list[tuple[str, tuple, bool]]:
    """(name, spec, required) for every visible input, in the frontend's order (required, then
    optional; ``input_order`` from /object_info when given, else the dicts' own order)."""
    specs = []
    for section in ("required", "optional"):
        declared = input_types.get(section) or {}
        names = (input_order or {}).get(section) or list(declared)
        specs += [(name, declared[name], section == "required") for name in names if name in declared]
    return specs


def is_widget(spec) -> bool:
    return (isinstance(spec[0], list) or spec[0] in WIDGET_TYPES) and not _options(spec).get("forceInput")


def widget_default(spec):
    options = _options(spec)
    if "default" in options:
        return options["default"]
    choices = spec[0] if isinstance(spec[0], list) else options.get("options")
    if choices is not None:
        return choices[0] if choices else None
    return WIDGET_ZERO[spec[0]]


def has_seed_control(name: str, spec) -> bool:
    """The frontend adds a "control after generate" widget (saved right after the value) to an INT
    input named seed or noise_seed, or one that asks for it."""
    return spec[0] == "INT" and (name in ("seed", "noise_seed") or bool(_options(spec).get("control_after_generate")))


def saved_widgets(specs: list[tuple[str, tuple, bool]]) -> list[tuple[str, tuple, list]]:
    """(name, spec, extra values saved after it) for every widget, in widgets_values order."""
    widgets = []
    for name, spec, _ in specs:
        if is_widget(spec):
            extras = [UPLOAD_WIDGET_VALUE] if _options(spec).get("image_upload") else []
            if has_seed_control(name, spec):
                extras.append(SEED_CONTROL_VALUE)
            widgets.append((name, spec, extras))
    return widgets


def widget_values(input_types: dict, given: dict) -> list:
    """Positional widgets_values as the frontend saves them (an upload button and a seed's
    control-after-generate widget add their own values)."""
    values = []
    for name, spec, extras in saved_widgets(input_specs(input_types)):
        values.append(given.get(name, widget_default(spec)))
        values += extras
    return values


def widget_inputs(input_types: dict, values, input_order: dict | None = None, where: str = "node") -> dict:
    """The inverse of ``widget_values``: {input name: value} from a UI node's widgets_values.

    Files saved without the extra values (older frontends) are read too: a list exactly as long
    as the widgets themselves is taken as one value per widget."""
    widgets = saved_widgets(input_specs(input_types, input_order))
    if isinstance(values, dict):  # some frontends save widgets_values by name
        return {name: values[name] for name, _, _ in widgets if name in values}
    values = list(values or [])
    with_extras = sum(1 + len(extras) for _, _, extras in widgets)
    if len(values) == len(widgets) and len(values) != with_extras:
        widgets = [(name, spec, []) for name, spec, _ in widgets]
    elif len(values) < with_extras:
        raise InputError(where, f"has {len(values)} widget values but the server's definition has "
                                f"{len(widgets)} widgets ({', '.join(n for n, _, _ in widgets)}); was it saved "
                                f"with another version of the node?")
    inputs, position = {}, 0
    for name, _, extras in widgets:
        inputs[name] = values[position]
        position += 1 + len(extras)
    return inputs


def object_info_from_classes(classes: dict) -> dict:
    """An ``/object_info``-shaped dict built offline from node classes (what the converter reads:
    inputs, their order and the output types), JSON round-tripped as the server sends it."""
    info = {}
    for name, cls in classes.items():
        types = cls.INPUT_TYPES()
        info[name] = {
            "input": {section: types[section] for section in ("required", "optional") if section in types},
            "input_order": {section: list(types[section]) for section in ("required", "optional") if section in types},
            "output": list(cls.RETURN_TYPES),
            "output_node": bool(getattr(cls, "OUTPUT_NODE", False)),
        }
    return json.loads(json.dumps(info))


def is_api_format(workflow) -> bool:
    return isinstance(workflow, dict) and bool(workflow) and "nodes" not in workflow and all(
        isinstance(node, dict) and "class_type" in node for node in workflow.values())


def is_ui_format(workflow) -> bool:
    return isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list)


def _links_by_id(workflow: dict) -> dict[int, tuple]:
    """link id -> (origin node id, origin slot); links are lists in 0.4 files, objects in 1.0 ones."""
    links = {}
    for link in workflow.get("links") or []:
        if isinstance(link, dict):
            links[link["id"]] = (link["origin_id"], link["origin_slot"])
        else:
            links[link[0]] = (link[1], link[2])
    return links


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    """A UI-format workflow -> the API-format prompt the frontend would queue.

    Muted nodes and notes are left out; Reroute nodes, bypassed nodes (an output passes on the
    first input of the same type) and Primitive nodes (their value) are resolved the way the
    frontend resolves them. Node types the server does not know raise an InputError naming them.
    """
    if not is_ui_format(workflow):
        raise InputError("workflow", "is neither an API-format prompt nor a UI-format workflow (no 'nodes' list)")
    if (workflow.get("definitions") or {}).get("subgraphs"):
        raise InputError("workflow", "uses subgraphs; convert them to nodes in the frontend or export the API format")
    nodes = {node["id"]: node for node in workflow["nodes"]}
    links = _links_by_id(workflow)

    def source_of(link_id, seen=()):
        """What a link delivers: ("link", [node id, slot]), ("value", v), or None when nothing."""
        if link_id is None or link_id not in links:
            return None
        origin_id, slot = links[link_id]
        origin = nodes.get(origin_id)
        if origin is None or origin_id in seen:
            return None
        if origin["type"] == "Reroute":
            return source_of(next((i.get("link") for i in origin.get("inputs") or []), None), (*seen, origin_id))
        if origin["type"] == "PrimitiveNode":
            return ("value", (origin.get("widgets_values") or [None])[0])
        if origin.get("mode") == MUTED:
            return None
        if origin.get("mode") == BYPASSED:
            outputs = origin.get("outputs") or []
            wanted = outputs[slot].get("type") if slot < len(outputs) else None
            passing = next((i["link"] for i in origin.get("inputs") or []
                            if i.get("type") == wanted and i.get("link") is not None), None)
            return source_of(passing, (*seen, origin_id))
        return ("link", [str(origin_id), slot])

    prompt = {}
    for node in sorted(workflow["nodes"], key=lambda n: n.get("order", 0)):
        kind = node["type"]
        if kind in FRONTEND_ONLY_NODES or node.get("mode") in (MUTED, BYPASSED):
            continue
        where = f"node {node['id']} ({kind})"
        if kind not in object_info:
            raise InputError(where, "is not a node type the server knows (is its node pack installed?)")
        info = object_info[kind]
        inputs = widget_inputs(info["input"], node.get("widgets_values"), info.get("input_order"), where)
        declared = {name for name, _, _ in input_specs(info["input"], info.get("input_order"))}
        for socket in node.get("inputs") or []:
            if socket.get("name") not in declared:
                continue
            source = source_of(socket.get("link"))
            if source is not None:
                inputs[socket["name"]] = source[1]
        prompt[str(node["id"])] = {"inputs": inputs, "class_type": kind, "_meta": {"title": node.get("title", kind)}}
    return prompt


def parse_setting(text: str) -> tuple[str, str, object]:
    """``NODE.INPUT=VALUE`` -> (node id, input name, value); the value is JSON when it parses as
    JSON (numbers, true/false, lists), else the text itself."""
    target, equals, raw = text.partition("=")
    node_id, dot, name = target.partition(".")
    if not equals or not dot or not node_id.strip() or not name.strip():
        raise InputError("--set", f"expected NODE.INPUT=VALUE (e.g. 3.width=512), got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return node_id.strip(), name.strip(), value


def apply_settings(prompt: dict, settings, object_info: dict | None = None) -> dict:
    """Set inputs of an API-format prompt (in place, also returned). ``settings`` holds
    ``NODE.INPUT=VALUE`` texts or (node id, input, value) triples. An input is known when the node
    already has it or, given ``object_info``, when the node's class declares it."""
    for setting in settings:
        node_id, name, value = parse_setting(setting) if isinstance(setting, str) else setting
        node_id = str(node_id)
        if node_id not in prompt:
            listed = ", ".join(sorted(prompt, key=_id_order))
            raise InputError("--set", f"node {node_id} is not in the workflow (its nodes: {listed})")
        node = prompt[node_id]
        known = set(node["inputs"])
        if object_info and node["class_type"] in object_info:
            info = object_info[node["class_type"]]
            known |= {n for n, _, _ in input_specs(info["input"], info.get("input_order"))}
        if name not in known:
            raise InputError("--set", f"node {node_id} ({node['class_type']}) has no input {name!r} "
                                      f"(its inputs: {', '.join(sorted(known))})")
        node["inputs"][name] = value
    return prompt


def _id_order(node_id: str):
    return (0, int(node_id), "") if node_id.isdigit() else (1, 0, node_id)


def parse_upload(text: str) -> tuple[str, str]:
    """``NAME=PATH`` -> (name on the server, local path); a bare ``PATH`` keeps its file name.
    NAME may hold a subfolder of the server's input folder (``clips/walk.mp4``)."""
    name, equals, path = text.partition("=")
    if not equals:
        name, path = text.replace("\\", "/").rsplit("/", 1)[-1], text
    name, path = name.strip(), path.strip()
    if not name or not path:
        raise InputError("--upload", f"expected NAME=PATH (e.g. posemotion_person.png=photo.png), got {text!r}")
    if name.startswith("/") or ".." in name.split("/"):
        raise InputError("--upload", f"the server-side name {name!r} must stay inside ComfyUI's input folder")
    return name, path
