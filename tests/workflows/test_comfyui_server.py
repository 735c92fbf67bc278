"""Real ComfyUI: start a checkout with --cpu, load the pack, check /object_info, run every API workflow.

Set COMFYUI_PATH to a ComfyUI checkout (0.3.64+). Optional: COMFYUI_PYTHON, the interpreter with
ComfyUI's requirements and ours (default: this one); COMFYUI_PYTHONPATH, prepended to PYTHONPATH for
the server (e.g. a stub torchvision on CPU-only machines, see README). Skipped when COMFYUI_PATH is unset.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from conftest import prepare_workflow_files
from posemotion import NODE_CLASS_MAPPINGS
from posemotion.cli.main import main as posemotion_main
from posemotion.models.headless import ComfyClient, run_workflow
from posemotion.models.headless.client import prepare_prompt
from posemotion.workflows.source.build import ROOT
from posemotion.workflows.source.graphs import TEST_SETTINGS
from support.workflow_runner import prompt_for_tests

COMFYUI_PATH = os.environ.get("COMFYUI_PATH")
pytestmark = [pytest.mark.comfyui,
              pytest.mark.skipif(not COMFYUI_PATH, reason="set COMFYUI_PATH to a ComfyUI checkout to run")]
PACK_NAME = "ComfyUI-PoseMotion"


def _environment() -> dict:
    env = dict(os.environ)
    extra = os.environ.get("COMFYUI_PYTHONPATH")
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [extra, env.get("PYTHONPATH")]))
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory, mocap_dir):

    base = tmp_path_factory.mktemp("comfyui")
    (base / "packs").mkdir()
    os.symlink(ROOT, base / "packs" / PACK_NAME)
    for name in ("input", "output", "models"):
        (base / name).mkdir()
    prepare_workflow_files(base / "input", base / "models", mocap_dir, tmp_path_factory)
    folders = "".join(f"  {p.name}: {p}\n" for p in sorted((base / "models").iterdir()) if p.is_dir())
    config = base / "extra_model_paths.yaml"
    config.write_text(f"posemotion_test:\n  custom_nodes: {base / 'packs'}\n{folders}")
    port = _free_port()
    log = open(base / "server.log", "w")
    process = subprocess.Popen(
        [os.environ.get("COMFYUI_PYTHON", sys.executable), "main.py", "--cpu", "--listen", "127.0.0.1",
         "--port", str(port), "--extra-model-paths-config", str(config),
         "--input-directory", str(base / "input"), "--output-directory", str(base / "output")],
        cwd=COMFYUI_PATH, env=_environment(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                _get(url + "/system_stats")
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.time() > deadline:
                    pytest.fail(f"ComfyUI did not start; log:\n{(base / 'server.log').read_text()[-4000:]}")
                time.sleep(1)
        yield {"url": url, "base": base}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_every_node_is_registered(server):
    info = _get(server["url"] + "/object_info")
    missing = sorted(set(NODE_CLASS_MAPPINGS) - set(info))
    log = (server["base"] / "server.log").read_text()
    assert not missing, f"nodes missing from /object_info: {missing}\n{log[-4000:]}"
    for name in NODE_CLASS_MAPPINGS:
        assert info[name]["category"].startswith("PoseMotion/")
    assert "posemotion_walk.mp4" in info["PoseMotionLoadVideo"]["input"]["required"]["video"][0]


def test_frontend_extension_is_served_once(server):
    extensions = [e for e in _get(server["url"] + "/extensions") if e.endswith("/posemotion.js")]
    assert extensions == [f"/extensions/{PACK_NAME}/posemotion.js"]


def test_workflow_templates_are_listed(server):
    templates = _get(server["url"] + "/workflow_templates")
    assert sorted(templates.get(PACK_NAME, [])) == sorted(p.stem for p in (ROOT / "workflows").glob("*.json"))


def test_workflow_thumbnails_are_served(server):
    """The template browser shows /api/workflow_templates/<pack>/<name>.jpg beside each workflow."""
    for path in sorted((ROOT / "workflows").glob("*.json")):
        url = f"{server['url']}/api/workflow_templates/{PACK_NAME}/{path.stem}.jpg"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == path.with_suffix(".jpg").read_bytes(), url


@pytest.mark.parametrize("path", sorted((ROOT / "workflows" / "api").glob("*.json")), ids=lambda p: p.stem)
def test_api_workflow_succeeds(server, path):
    body = json.dumps({"prompt": prompt_for_tests(path), "client_id": str(uuid.uuid4())}).encode()
    request = urllib.request.Request(server["url"] + "/prompt", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            prompt_id = json.loads(response.read())["prompt_id"]
    except urllib.error.HTTPError as error:
        pytest.fail(f"/prompt rejected {path.name}: {error.read().decode()[:2000]}")
    deadline = time.time() + 300
    while time.time() < deadline:
        history = _get(f"{server['url']}/history/{prompt_id}").get(prompt_id)
        if history and history["status"].get("completed") is not None and history["status"]["status_str"] != "":
            break
        time.sleep(1)
    else:
        pytest.fail(f"{path.name} did not finish in time")
    assert history["status"]["status_str"] == "success", json.dumps(history["status"])[:3000]
    saved = [item for node in history["outputs"].values() for item in node.get("images", []) + node.get("files", [])]
    assert saved and all((server["base"] / "output" / s["subfolder"] / s["filename"]).is_file() for s in saved)


MEMORY_CHECK = """
import sys, torch
sys.path.insert(0, '.')
import comfy.cli_args
comfy.cli_args.args.cpu = True
import comfy.model_management as mm
sys.path.insert(0, sys.argv[1])
import importlib.util
spec = importlib.util.spec_from_file_location('posemotion_pack', sys.argv[2] + '/__init__.py',
                                              submodule_search_locations=[sys.argv[2]])
pack = importlib.util.module_from_spec(spec); sys.modules['posemotion_pack'] = pack; spec.loader.exec_module(pack)
from posemotion_pack.nodes import bridge
import folder_paths
assert bridge.IN_COMFYUI
assert '.safetensors' in folder_paths.folder_names_and_paths['pose_forecast'][1]
managed = bridge.ManagedModel(torch.nn.Linear(3, 2), 'tiny')
module = managed.load()
assert module is managed.module
assert any(m.model is managed.patcher for m in mm.current_loaded_models)
print('forward', tuple(module(torch.ones(1, 3)).shape), 'device', bridge.compute_device(), 'out', bridge.output_device())
"""


def test_bridge_inside_comfyui_manages_memory():
    result = subprocess.run([os.environ.get("COMFYUI_PYTHON", sys.executable), "-c", MEMORY_CHECK,
                             str(ROOT.parent), str(ROOT)], cwd=COMFYUI_PATH, env=_environment(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "forward (1, 2) device cpu" in result.stdout


# --- the headless runner (python -m posemotion run) against the real server -------------------

def _settings_for_tests(name: str) -> list[str]:
    """TEST_SETTINGS as --set arguments."""
    return [f"{node}.{key}={json.dumps(value)}" for node, inputs in TEST_SETTINGS.get(name, {}).items()
            for key, value in inputs.items()]


@pytest.mark.parametrize("form", ["api", "ui"])
@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "workflows" / "api").glob("*.json")))
def test_runner_runs_every_workflow_and_downloads_its_outputs(server, tmp_path, name, form):
    path = ROOT / "workflows" / ("api" if form == "api" else "") / f"{name}.json"
    if form == "ui":  # converted with the real /object_info, the UI file is the shipped API prompt
        converted = prepare_prompt(json.loads(path.read_text()), _settings_for_tests(name),
                                   ComfyClient(server["url"]).object_info())
        expected = prompt_for_tests(ROOT / "workflows" / "api" / f"{name}.json")
        assert {k: v["inputs"] for k, v in converted.items()} == {k: v["inputs"] for k, v in expected.items()}
    result = run_workflow(path, server["url"], tmp_path, settings=_settings_for_tests(name))
    assert result.files
    for downloaded in result.files:
        assert downloaded.read_bytes() == (server["base"] / "output" / downloaded.relative_to(tmp_path)).read_bytes()


def test_runner_uploads_the_files_a_workflow_reads(server, tmp_path, capsys):
    photo = server["base"] / "input" / "posemotion_person.png"
    mocap = server["base"] / "input" / "posemotion_mocap.bvh"
    result = run_workflow(ROOT / "workflows" / "motion_tokenize.json", server["url"], tmp_path / "motion",
                          settings=["1.file=headless_upload.bvh"], uploads=[f"headless_upload.bvh={mocap}"])
    assert (server["base"] / "input" / "headless_upload.bvh").read_bytes() == mocap.read_bytes()
    assert any(p.suffix == ".bvh" for p in result.files)
    code = posemotion_main(["run", str(ROOT / "workflows" / "pose_from_image.json"), "--server", server["url"],
                            "--out", str(tmp_path / "pose"), "--set", "1.image=headless/photo.png",
                            "--upload", f"headless/photo.png={photo}"])
    printed = capsys.readouterr()
    print(printed.out)  # the command's closing lines (pytest -rP shows them)
    assert code == 0, printed.err
    assert (server["base"] / "input" / "headless" / "photo.png").read_bytes() == photo.read_bytes()
    assert printed.out.splitlines()[-1].endswith(f"; 4 files in {tmp_path / 'pose'}")
    assert len(list((tmp_path / "pose").rglob("*.*"))) == 4
