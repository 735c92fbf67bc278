"""Every node of the pack called with seeded bad inputs, as ComfyUI (or another pack's node) could pass them.

The known-good call of each node comes from the shipped API workflows (run on tiny models). Each input
of it is then replaced, one at a time, by bad values of its kind: wrong types, numbers beyond the
INPUT_TYPES range, NaN/inf, empty and path-like strings, unknown file names, empty or malformed tensors,
huge sizes. A bad value must end as one InputError or ModelFileError that names the input; a value
of the right type that is merely odd (an empty prompt) may also succeed. No call may run longer than
CALL_SECONDS, and afterwards every node's known-good call must give the same result as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from posemotion import NODE_CLASS_MAPPINGS
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.nodes.bridge import ManagedModel
from posemotion.workflows.source.build import ROOT
from support.workflow_runner import prompt_for_tests, run_prompt

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CALL_SECONDS = 20  # a tiny-model call takes well under a second; this only catches hangs
SEED = 13
PATH_NAMES = ("../../etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini", "sub/../../x", "nul\x00byte")


class CallTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise CallTimeout()


def _call(node_class: type, inputs: dict):
    """One node call under a time limit -> ("ok", result) or ("error", exception)."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(CALL_SECONDS)
    try:
        return "ok", getattr(node_class(), node_class.FUNCTION)(**inputs)
    except CallTimeout:
        return "timeout", None
    except Exception as error:  # noqa: BLE001 - classified by the caller
        return "error", error
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _digest(value, h) -> None:
    if isinstance(value, torch.Tensor):
        h.update(str(value.dtype).encode() + str(tuple(value.shape)).encode())
        h.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.ndarray):
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, ManagedModel):
        _digest(value.module.state_dict(), h)
    elif isinstance(value, torch.nn.Module):
        _digest(value.state_dict(), h)
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            h.update(str(key).encode())
            _digest(value[key], h)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _digest(item, h)
    elif dataclasses.is_dataclass(value):
        _digest({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, h)
    elif isinstance(value, (int, float, str, bool, bytes, type(None))):
        h.update(repr(value).encode())
    elif hasattr(value, "__dict__"):
        _digest(vars(value), h)
    else:
        h.update(type(value).__name__.encode())


def _result_hash(returned, output_dir: Path) -> str:
    """The result's hash; for an output node, the saved files' bytes (their names count up)."""
    h = hashlib.sha256()
    files = returned.get("ui", {}).get("files") if isinstance(returned, dict) else None
    if files:
        returned = [(output_dir / f["subfolder"] / f["filename"]).read_bytes() for f in files]
    _digest(returned, h)
    return h.hexdigest()


def good_calls() -> dict[str, dict]:
    """{node type: inputs of its first use in the shipped workflows}, links replaced by real values."""
    calls = {}
    for path in sorted((ROOT / "workflows" / "api").glob("*.json")):
        prompt = prompt_for_tests(path)
        missing = {n["class_type"] for n in prompt.values()} & set(NODE_CLASS_MAPPINGS) - set(calls)
        if not missing:
            continue
        torch.manual_seed(0)
        outputs = run_prompt(prompt)
        for node_id, node in prompt.items():
            if node["class_type"] in missing and node["class_type"] not in calls:
                calls[node["class_type"]] = {
                    name: outputs[v[0]]["result"][v[1]] if isinstance(v, list) else v
                    for name, v in node["inputs"].items()}
    return calls


def _frozen(value, **changes):
    """A copy of a frozen dataclass with fields set past its own checks: what a buggy node could hand on."""
    copy = object.__new__(type(value))
    for field in dataclasses.fields(value):
        object.__setattr__(copy, field.name, changes.get(field.name, getattr(value, field.name)))
    return copy


def bad_values(kind, options: dict, good, others: dict, name: str, rng: random.Random) -> list[tuple[object, bool]]:
    """(value, may succeed) cases for one input of ``kind``; ``others`` holds good values of other types."""
    wrong = [("a string", False), ({"a": 1}, False), (None, False), (3.5, False), (torch.zeros(2), False)]
    if isinstance(kind, (list, tuple)):
        cases = [("", False), ("no such choice", False), (7, False), (None, False)]
        cases += [(p, False) for p in PATH_NAMES] + [("[bundled] ../../x.safetensors", False)]
    elif kind in ("INT", "FLOAT"):
        low, high = options.get("min"), options.get("max")
        cases = [("3", False), (None, False), (True, False), ([1], False)]
        cases += [(high + rng.randint(1, 10**6), False)] if high is not None else []
        cases += [(low - rng.randint(1, 10**6), False)] if low is not None else []
        if kind == "INT":
            cases += [(1.5, False), (math.nan, False), (2**80, False)]
        else:
            cases += [(math.nan, False), (math.inf, False), (-math.inf, False)]
    elif kind == "BOOLEAN":
        cases = [("true", False), (1, False), (None, False)]
    elif kind == "STRING":
        cases = [(None, False), (5, False), ({}, False)]
        if name == "filename_prefix":  # a file name: empty, too long or leading out of the folder must fail
            cases += [("", False), ("x" * 5000, False)] + [(p, False) for p in PATH_NAMES]
        else:  # text: odd but valid, so it may run (each success runs the whole node)
            cases += [("", True), ("w\u00f6rter \u2603 \U0001f600 " + "x" * 5000, True)]
    elif kind == "IMAGE":
        huge = torch.zeros(1, 1, 1, 3).expand(1, 40000, 40000, 3)  # no memory behind it
        cases = wrong + [(torch.zeros(0, 8, 8, 3), False), (torch.zeros(1, 0, 8, 3), False),
                         (torch.zeros(8, 8, 3), False), (torch.zeros(1, 8, 8, 7), False),
                         (torch.zeros(1, 8, 8, 3, dtype=torch.uint8), False),
                         (torch.full((1, 8, 8, 3), math.nan), False), (huge, False)]
    elif kind == "POSE_KEYPOINT":
        frame = dict(good[0])
        person = {"pose_keypoints_2d": [0.5] * 54}
        cases = wrong + [([], False), ([{}], False), ([dict(frame, people="x")], False),
                         ([dict(frame, people=[{"pose_keypoints_2d": [math.nan] * 54}])], False),
                         ([dict(frame, people=[{"pose_keypoints_2d": [0.5] * 10}])], False),
                         ([dict(frame, people=[person], canvas_width=math.inf)], False),
                         ([dict(frame, people=[person], canvas_width=10**9, canvas_height=10**9)], False)]
    elif kind == "MOTION":
        joints = good.joints
        cases = wrong + [(_frozen(good, joints=torch.full_like(joints, math.nan)), False),
                         (_frozen(good, joints=joints[:, :3]), False), (_frozen(good, joints=joints[:0]), False),
                         (_frozen(good, joints=joints.double()), False), (_frozen(good, fps=0.0), False),
                         (_frozen(good, layout="no_such_layout"), False),
                         (_frozen(good, canvas_size=(10**9, 10**9)), False)]
    elif kind == "MOTION_TOKENS":
        ids = good.ids
        cases = wrong + [(_frozen(good, ids=ids + 10**6), False), (_frozen(good, ids=ids.float()), False),
                         (_frozen(good, ids=ids[:0]), False), (_frozen(good, ids=-ids - 1), False)]
    else:  # objects made by the pack's loaders: wrong types and another loader's object
        cases = wrong + [(value, False) for other, value in others.items() if other != kind]
    return cases


def _input_specs(node_class: type) -> dict[str, tuple]:
    declared = node_class.INPUT_TYPES()
    return {**declared.get("required", {}), **declared.get("optional", {})}


def _output_types(calls: dict[str, dict]) -> dict[str, object]:
    """One good value of every type the pack's nodes pass along, taken from the good calls' inputs."""
    values = {}
    for node_type, inputs in calls.items():
        for name, spec in _input_specs(NODE_CLASS_MAPPINGS[node_type]).items():
            if isinstance(spec[0], str) and spec[0] not in ("INT", "FLOAT", "BOOLEAN", "STRING") and name in inputs:
                values.setdefault(spec[0], inputs[name])
    return values


def test_every_node_survives_fuzzed_inputs(comfy_dirs):
    calls = good_calls()
    assert set(calls) == set(NODE_CLASS_MAPPINGS), "every node needs a known-good call from a workflow"
    before = {}
    for node_type, inputs in calls.items():
        torch.manual_seed(0)
        outcome, returned = _call(NODE_CLASS_MAPPINGS[node_type], inputs)
        assert outcome == "ok", f"{node_type}: the known-good call failed: {returned!r}"
        before[node_type] = _result_hash(returned, comfy_dirs["output"])

    rng = random.Random(SEED)
    others = _output_types(calls)
    failures, counts = [], {"calls": 0, "refused": 0, "succeeded": 0}
    for node_type in sorted(calls):
        node_class, good = NODE_CLASS_MAPPINGS[node_type], calls[node_type]
        specs = _input_specs(node_class)
        optional = set(node_class.INPUT_TYPES().get("optional", {}))
        # None for an optional input means "not connected": the node runs with its default. An optional
        # input the known-good call leaves unconnected is fuzzed from a good value of its type elsewhere.
        cases = [(name, value, may_pass or (value is None and name in optional)) for name, spec in specs.items()
                 for value, may_pass in bad_values(spec[0], spec[1] if len(spec) > 1 else {},
                                                   good.get(name, others.get(spec[0]) if isinstance(spec[0], str)
                                                            else None), others, name, rng)]
        required = [name for name in node_class.INPUT_TYPES()["required"]]
        for name, value, may_pass in cases + [(required[0], "missing", False), ("no_such_input", 1, False)]:
            if value == "missing" and name == required[0]:
                inputs = {k: v for k, v in good.items() if k != name}
            else:
                inputs = {**good, name: value}
            torch.manual_seed(0)
            outcome, returned = _call(node_class, inputs)
            counts["calls"] += 1
            shown = f"{node_type}.{name}={value!r:.60}"
            if outcome == "timeout":
                failures.append(f"{shown}: still running after {CALL_SECONDS} s")
            elif outcome == "ok":
                counts["succeeded"] += 1
                if not may_pass:
                    failures.append(f"{shown}: accepted")
            elif not isinstance(returned, (InputError, ModelFileError)):
                failures.append(f"{shown}: {type(returned).__name__}: {returned}"[:300])
            elif name not in str(returned):
                failures.append(f"{shown}: the error does not name the input: {returned}"[:300])
            else:
                counts["refused"] += 1

    after = {}
    for node_type, inputs in calls.items():
        torch.manual_seed(0)
        outcome, returned = _call(NODE_CLASS_MAPPINGS[node_type], inputs)
        after[node_type] = _result_hash(returned, comfy_dirs["output"]) if outcome == "ok" else f"{outcome}: {returned!r}"
    changed = sorted(t for t in before if before[t] != after[t])
    print(f"fuzz: {counts['calls']} calls over {len(calls)} nodes, {counts['refused']} refused with a clear "
          f"error, {counts['succeeded']} succeeded, {len(failures)} failures")
    assert not failures, f"{len(failures)} of {counts['calls']} fuzzed calls failed:\n" + "\n".join(failures)
    assert not changed, f"known-good calls changed after the fuzz: {changed}"
    assert counts["refused"] > 10 * len(calls)


def test_missing_and_unknown_inputs_are_named():
    node_class = NODE_CLASS_MAPPINGS["PoseMotionEditPoseCodes"]
    with pytest.raises(InputError, match="^motion_tokens: missing"):
        getattr(node_class(), node_class.FUNCTION)(category="x", start_frame=0, end_frame=1)
    with pytest.raises(InputError, match="^colour: not an input of PoseMotionEditPoseCodes"):
        getattr(node_class(), node_class.FUNCTION)(colour="red")
