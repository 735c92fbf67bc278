"""Reliability tier on a real ComfyUI server: fuzzed prompts, a soak, interrupts and the real frontend.

Needs COMFYUI_PATH (and COMFYUI_PYTHON / COMFYUI_PYTHONPATH as for test_comfyui_server.py, whose `server`
fixture starts ComfyUI with the pack, tiny models and input files); skipped without it. The browser test
also needs playwright in COMFYUI_PYTHON and /usr/bin/chromium. Each test prints its figures (-s shows
them). Runs are made real with POST /free (which empties ComfyUI's node cache) before each one that
must execute every node, and the tests check that no node came from the cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import websocket
from posemotion import NODE_CLASS_MAPPINGS
from posemotion.workflows.source.build import ROOT
from support.workflow_runner import prompt_for_tests
from test_comfyui_server import COMFYUI_PATH, _get, server  # noqa: F401 - `server` is the fixture `comfy` uses

pytestmark = [pytest.mark.comfyui,
              pytest.mark.skipif(not COMFYUI_PATH, reason="set COMFYUI_PATH to a ComfyUI checkout to run")]
API = ROOT / "workflows" / "api"
FUZZ_PROMPTS = 200
FUZZ_BASES = ("pose_from_image", "motion_tokenize", "motion_edit_pose_codes", "forecast_from_image",
              "pose_from_video")
SOAK_RUNS = 50
SOAK_VIDEO = {"1": {"max_frames": 6, "every_nth": 4, "max_side": 192}}  # pose_from_video, a few small frames
SEED = 13


@pytest.fixture(scope="module")
def comfy(request):
    """test_comfyui_server.py's server (ComfyUI + the pack), started once for this module."""
    return request.getfixturevalue("server")


# --- talking to the server ------------------------------------------------------------------------

def _post(comfy, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(comfy["url"] + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except json.JSONDecodeError:
            return error.code, {"text": text.decode(errors="replace")}


def _queue(comfy, prompt: dict, client_id: str | None = None) -> tuple[int, dict]:
    return _post(comfy, "/prompt", {"prompt": prompt, "client_id": client_id or str(uuid.uuid4())})


def _wait(comfy, prompt_id: str, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        history = _get(f"{comfy['url']}/history/{prompt_id}").get(prompt_id)
        if history and history["status"].get("completed") is not None and history["status"]["status_str"]:
            return history
        time.sleep(0.1)
    raise AssertionError(f"prompt {prompt_id} did not finish in {timeout} s")


def _free(comfy) -> None:
    """Empty the node cache and unload models, so that the next prompt runs every node."""
    deadline = time.time() + 300
    while any(_get(comfy["url"] + "/queue").values()) and time.time() < deadline:
        time.sleep(0.1)  # the idle worker applies the flags at once; a busy one only after its prompt
    _post(comfy, "/free", {"unload_models": True, "free_memory": True})
    time.sleep(0.5)


def _run(comfy, prompt: dict, fresh: bool = True, free: bool = True) -> dict:
    """Run ``prompt`` to success; ``fresh``: every node must execute (after /free unless ``free`` is False:
    alternating workflows also misses the cache, which keeps only the last prompt's nodes)."""
    if fresh and free:
        _free(comfy)
    status, body = _queue(comfy, prompt)
    assert status == 200, body
    history = _wait(comfy, body["prompt_id"])
    assert history["status"]["status_str"] == "success", json.dumps(history["status"])[:3000]
    if fresh:
        assert not _cached_nodes(history), f"nodes came from the cache: {_cached_nodes(history)}"
    return history


def _cached_nodes(history: dict) -> list[str]:
    return [n for kind, data in history["status"]["messages"] if kind == "execution_cached" for n in data["nodes"]]


def _output_hashes(comfy, history: dict) -> dict[str, str]:
    """{output node id: sha256 of each file it saved} for one finished prompt."""
    hashes = {}
    for node_id, output in sorted(history["outputs"].items()):
        for item in output.get("images", []) + output.get("files", []):
            path = comfy["base"] / "output" / item["subfolder"] / item["filename"]
            hashes.setdefault(node_id, []).append(hashlib.sha256(path.read_bytes()).hexdigest()[:16])
    return hashes


def _server_pid(comfy) -> int:
    """The ComfyUI process the fixture started: the one whose command line has its --port."""
    port = comfy["url"].rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                arguments = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"main.py" in arguments and b"--port" in arguments and port.encode() in arguments:
                return int(entry.name)
    raise AssertionError(f"no ComfyUI process listening on port {port}")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _open_files(pid: int) -> dict[str, str]:
    """{fd: target}, the smallest of a few samples: an HTTP or websocket socket may be open for a moment."""
    samples = []
    for _ in range(5):
        targets = {}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                targets[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                pass  # closed while listing
        samples.append(targets)
        time.sleep(0.2)
    return min(samples, key=len)


def _prompt(name: str, changes: dict | None = None) -> dict:
    prompt = prompt_for_tests(API / f"{name}.json")
    for node_id, inputs in (changes or {}).items():
        prompt[node_id]["inputs"].update(inputs)
    return prompt


# --- fuzz -----------------------------------------------------------------------------------------

PATHS = ("../../etc/passwd", "/etc/passwd", "..", "a/../../b", "C:\\x.png")


def _fuzz_case(rng: random.Random, info: dict, base: dict) -> tuple[dict, str, str, str]:
    """One bad prompt made from ``base`` -> (prompt, input name, kind of fault, 'input' for a bad value or
    'graph' for a bad link)."""
    prompt = json.loads(json.dumps(base))
    pack_nodes = sorted(i for i, n in prompt.items() if n["class_type"] in NODE_CLASS_MAPPINGS)
    node_id = rng.choice(pack_nodes)
    node = prompt[node_id]
    spec = info[node["class_type"]]["input"]
    declared = {**spec.get("required", {}), **spec.get("optional", {})}
    links = [k for k, v in node["inputs"].items() if isinstance(v, list)]
    widgets = [k for k, v in node["inputs"].items() if not isinstance(v, list) and k in declared]
    fault = rng.choice(["wrong_type", "range", "string", "file", "huge", "missing_link", "cycle", "link_type"])
    if fault in ("missing_link", "cycle", "link_type") and not links:
        fault = "wrong_type"
    if fault in ("missing_link", "cycle", "link_type"):
        name = rng.choice(links)
        if fault == "missing_link":
            node["inputs"][name] = [str(rng.choice([999, 1000, 4242])), 0]
        elif fault == "cycle":  # the input now comes from this node itself or from a node that depends on it
            downstream = [i for i, n in prompt.items() if any(isinstance(v, list) and v[0] == node_id
                                                              for v in n["inputs"].values())]
            node["inputs"][name] = [rng.choice(downstream + [node_id]), 0]
        else:  # another node's output, of another type or beyond its outputs
            node["inputs"][name] = [rng.choice([i for i in prompt if i != node_id]), rng.randint(0, 2)]
        return prompt, name, fault, "graph"
    name = rng.choice(widgets or list(node["inputs"]))
    kind = declared.get(name, ["?"])[0]
    options = declared.get(name, [None, {}])[1] if len(declared.get(name, [])) > 1 else {}
    if isinstance(kind, list) or fault == "file":
        value = rng.choice(["no_such_file.png", "", "[bundled] ../../x.safetensors", *PATHS])
    elif kind in ("INT", "FLOAT") and fault in ("range", "huge"):
        high, low = options.get("max", 10**6), options.get("min", -10**6)
        value = rng.choice([high + rng.randint(1, 10**9), low - rng.randint(1, 10**9), 10**18])
        if kind == "FLOAT":
            value = rng.choice([value, math.nan, math.inf, -math.inf])
    elif kind == "STRING":
        value = rng.choice(["", *PATHS, None, 12, {"a": 1}]) if name == "filename_prefix" else rng.choice(
            [None, 12, {"a": 1}, ["x"]])
    else:
        value = rng.choice(["not a number", {"a": 1}, None, [1, 2, 3], math.nan if kind == "FLOAT" else "x"])
    node["inputs"][name] = value
    return prompt, name, f"{fault}:{kind if isinstance(kind, str) else 'COMBO'}={value!r:.40}", "input"


def _fuzz_outcome(comfy, prompt: dict, name: str, accept: str) -> str:
    """'rejected' (400 with node_errors), 'failed' (execution_error naming the input), 'ran' (succeeded) or
    'BAD: ...' for anything else."""
    status, body = _queue(comfy, prompt)
    if status == 400:
        # a link to an output that is not there fails ComfyUI's graph check, which names no node
        if body.get("node_errors") or (accept == "graph" and body.get("error", {}).get("type")):
            return "rejected"
        return f"BAD: 400 without node_errors: {json.dumps(body)[:300]}"
    if status != 200:
        return f"BAD: HTTP {status}: {json.dumps(body)[:300]}"
    if body.get("node_errors"):  # the bad branch was refused; ComfyUI still runs the prompt's valid outputs
        _wait(comfy, body["prompt_id"], timeout=120)
        return "rejected"
    history = _wait(comfy, body["prompt_id"], timeout=120)
    if history["status"]["status_str"] == "success":
        return "ran"
    errors = [data for kind, data in history["status"]["messages"] if kind == "execution_error"]
    message = errors[0]["exception_message"] if errors else "(no execution_error)"
    if (accept == "graph" and "cycle" in message.lower()) or message.startswith(f"{name}:") or name in message:
        return "failed"
    return f"BAD: execution error not naming {name!r}: {message[:300]}"


def test_fuzzed_prompts_end_cleanly(comfy):
    info = _get(comfy["url"] + "/object_info")
    prompts = {name: _prompt(name) for name in FUZZ_BASES}
    prompts["pose_from_video"] = _prompt("pose_from_video", SOAK_VIDEO)
    reference = _prompt("pose_from_image")
    before = _output_hashes(comfy, _run(comfy, reference))
    rng = random.Random(SEED)
    outcomes, bad, ran, seconds = {}, [], [], {}
    started = time.time()
    # grouped by workflow: ComfyUI's cache keeps the last prompt's nodes, so the valid part is not rerun
    bases = sorted(rng.choice(sorted(prompts)) for _ in range(FUZZ_PROMPTS))
    for index, base in enumerate(bases):
        prompt, name, fault, accept = _fuzz_case(rng, info, prompts[base])
        case_started = time.time()
        outcome = _fuzz_outcome(comfy, prompt, name, accept)
        kind = outcome.split(":")[0]
        outcomes[kind] = outcomes.get(kind, 0) + 1
        seconds[kind] = seconds.get(kind, 0) + time.time() - case_started
        if outcome.startswith("BAD"):
            bad.append(f"#{index} {base} {fault} on {name}: {outcome}")
        elif outcome == "ran":  # a value ComfyUI converts (12 -> "12") or one the node accepts
            ran.append(f"{base} {fault} on {name}")
    assert _get(comfy["url"] + "/system_stats")["system"], "the server stopped answering"
    after = _output_hashes(comfy, _run(comfy, reference))
    print(f"\nfuzz: {FUZZ_PROMPTS} prompts in {time.time() - started:.0f} s: {outcomes}; seconds "
          f"{ {k: round(v) for k, v in seconds.items()} }; ran: {ran}")
    assert not bad, f"{len(bad)} of {FUZZ_PROMPTS} fuzzed prompts ended badly:\n" + "\n".join(bad)
    assert after == before, "the known-good workflow's outputs changed after the fuzz"


# --- soak -----------------------------------------------------------------------------------------

def test_soak_memory_and_file_handles_stay_flat(comfy):
    pid = _server_pid(comfy)
    prompts = [_prompt("pose_from_video", SOAK_VIDEO), _prompt("motion_tokenize")]
    figures, started = {}, time.time()
    _free(comfy)
    for run in range(1, SOAK_RUNS + 1):
        for prompt in prompts:  # each run executes every node: the two workflows share none
            _run(comfy, prompt, free=False)
        if run in (5, 25, SOAK_RUNS):
            figures[run] = (_rss_kib(pid), _open_files(pid))
    rss = {run: value[0] for run, value in figures.items()}
    fds = {run: value[1] for run, value in figures.items()}
    new_fds = sorted(set(fds[SOAK_RUNS].values()) - set(fds[5].values()))
    print(f"\nsoak: {SOAK_RUNS} x (pose_from_video, motion_tokenize) in {time.time() - started:.0f} s; VmRSS "
          f"{', '.join(f'run {r} {v / 1024:.0f} MiB' for r, v in rss.items())} "
          f"({100 * (rss[SOAK_RUNS] - rss[5]) / rss[5]:+.1f} % from run 5); open fds "
          f"{', '.join(f'run {r} {len(v)}' for r, v in fds.items())}; new at run {SOAK_RUNS}: {new_fds}")
    assert abs(rss[SOAK_RUNS] - rss[5]) <= 0.10 * rss[5], f"resident memory went from {rss[5]} KiB to {rss[SOAK_RUNS]}"
    assert len(fds[SOAK_RUNS]) <= len(fds[5]), f"open file handles grew: {new_fds}"


# --- interrupt ------------------------------------------------------------------------------------

# (workflow, changes making the node run long enough to be caught, node id, what it does)
INTERRUPTS = [
    ("pose_from_video", {"1": {"max_frames": 0, "every_nth": 1, "max_side": 320}}, "2", "detection over a video"),
    ("motion_tokenize", {}, "3", "tokenizer encode"),
    ("forecast_from_image", {"5": {"horizon": 45}}, "5", "forecast"),
    ("posegen_from_forecast", {"8": {"steps": 40}}, "8", "PoseGen sampler"),
]


def _interrupt_when_running(comfy, prompt: dict, node_id: str) -> tuple[dict, str]:
    """Queue ``prompt``, POST /interrupt once ``node_id`` reports progress (or starts, for nodes without
    progress), and return the finished history and what the interrupt caught."""
    client_id = str(uuid.uuid4())
    ws = websocket.create_connection(comfy["url"].replace("http", "ws") + f"/ws?clientId={client_id}", timeout=300)
    try:
        status, body = _queue(comfy, prompt, client_id)
        assert status == 200, body
        prompt_id, caught, seen = body["prompt_id"], "nothing", []
        while True:
            message = ws.recv()
            if not isinstance(message, str):
                continue  # previews
            event = json.loads(message)
            data = event.get("data", {})
            seen.append((event["type"], data.get("node")))
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            if event["type"] == "progress" and str(data.get("node")) == node_id and data["value"] < data["max"]:
                caught = f"during progress {data['value']}/{data['max']}"
            elif (event["type"] == "executing" and str(data.get("node")) == node_id
                  and not _reports_progress(prompt, node_id)):
                caught = "as it started"
            elif event["type"] in ("execution_success", "execution_error", "execution_interrupted"):
                return _wait(comfy, prompt_id), f"too late ({event['type']}; saw {seen[-12:]})"
            else:
                continue
            _post(comfy, "/interrupt", {})
            return _wait(comfy, prompt_id), caught
    finally:
        ws.close()


def _reports_progress(prompt: dict, node_id: str) -> bool:
    return prompt[node_id]["class_type"] in ("PoseMotionDetectPose", "PoseMotionPoseGenSample")


@pytest.mark.parametrize("workflow, changes, node_id, what", INTERRUPTS, ids=[i[0] for i in INTERRUPTS])
def test_interrupted_node_reruns_like_a_fresh_run(comfy, workflow, changes, node_id, what):
    prompt = _prompt(workflow, changes)
    fresh = _output_hashes(comfy, _run(comfy, prompt))
    for _attempt in range(3):  # on a loaded machine a short node can finish before the interrupt lands
        _free(comfy)
        interrupted, caught = _interrupt_when_running(comfy, prompt, node_id)
        kinds = [kind for kind, _ in interrupted["status"]["messages"]]
        if "execution_interrupted" in kinds:
            break
    rerun = _output_hashes(comfy, _run(comfy, prompt, fresh=False))
    print(f"\ninterrupt {what} ({workflow} node {node_id}): caught {caught}; status "
          f"{interrupted['status']['status_str']}, {kinds[-1]}; rerun equals fresh run: {rerun == fresh}")
    assert "execution_interrupted" in kinds, f"the run was not interrupted ({caught}): {kinds}"
    assert rerun == fresh


# --- the real frontend ----------------------------------------------------------------------------

def _has_playwright() -> bool:
    python = os.environ.get("COMFYUI_PYTHON", sys.executable)
    return subprocess.run([python, "-c", "import playwright.sync_api"], capture_output=True).returncode == 0


def test_workflows_open_and_run_in_the_real_frontend(comfy, tmp_path):
    if not os.path.exists("/usr/bin/chromium") or not _has_playwright():
        pytest.skip("needs /usr/bin/chromium and playwright in COMFYUI_PYTHON")
    shots = Path(os.environ.get("POSEMOTION_SCREENSHOTS", tmp_path / "screenshots"))
    script = Path(__file__).resolve().parents[1] / "support" / "browser_check.py"
    _free(comfy)  # the page's run must execute (a cached Detect Pose sends no summary)
    result = subprocess.run([os.environ.get("COMFYUI_PYTHON", sys.executable), str(script), comfy["url"], str(ROOT),
                             str(shots)], capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    baseline = set(report["baseline_errors"])
    problems = {name: {key: value for key, value in (("unknown_types", r["unknown_types"]),
                                                      ("widget_mismatch", r["widget_mismatch"]),
                                                      ("new_errors", sorted(set(r["errors"]) - baseline)),
                                                      ("nodes", r["nodes"] if r["nodes"] != r["expected_nodes"] else 0),
                                                      ("dialogs", r["dialogs"])) if value}
                for name, r in report["workflows"].items()}
    problems = {name: p for name, p in problems.items() if p}
    print(f"\nbrowser: {len(report['workflows'])} workflows opened, baseline page errors {sorted(baseline)}, "
          f"problems {problems}, run summary {report['run_summary']!r}, screenshots in {shots}")
    assert set(report["workflows"]) == {p.stem for p in (ROOT / "workflows").glob("*.json")}
    assert not problems
    assert report["run_summary"] and report["run_summary"].startswith("person found in 1/1 frames")
