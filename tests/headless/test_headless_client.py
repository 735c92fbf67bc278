"""The runner (library and ``python -m posemotion run``) against a small ComfyUI stand-in served on
127.0.0.1 (fake_comfyui.py): success with downloads, node errors, execution errors, uploads,
Ctrl-C, an unreachable server."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from fake_comfyui import PNG_BYTES, FakeComfyUI, start
from posemotion.cli.main import main
from posemotion.models.core.errors import InputError
from posemotion.models.headless import ServerError, client, object_info_from_classes, run_workflow
from posemotion.workflows.source.build import ALL_NODES, ROOT

API = ROOT / "workflows" / "api"
WIDTH_MAX = ALL_NODES["PoseMotionRenderSkeleton"].INPUT_TYPES()["required"]["width"][1]["max"]


@pytest.fixture(scope="module")
def fake():
    server = FakeComfyUI(object_info_from_classes(ALL_NODES))
    stop = start(server)
    yield server
    stop()


@pytest.fixture(autouse=True)
def fresh_behaviour(fake):
    fake.behaviour = "success"


@pytest.mark.parametrize("path", [API / "pose_from_image.json", ROOT / "workflows" / "pose_from_image.json"],
                         ids=["api", "ui"])
def test_success_queues_the_prompt_reports_progress_and_downloads_every_output(fake, tmp_path, path):
    seen = []
    result = run_workflow(path, fake.url, tmp_path / "out", settings=["3.width=96"], on_progress=seen.append)
    queued = fake.prompts[-1]
    assert queued["prompt"]["3"]["inputs"]["width"] == 96 and queued["client_id"]
    expected = json.loads((API / "pose_from_image.json").read_text())
    assert queued["prompt"]["2"]["inputs"] == expected["2"]["inputs"]
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in result.files)
    assert names == ["posemotion/body_normals_6_00001_.png", "posemotion/person_mask_8_00001_.png",
                     "posemotion/pose_9_00001.json", "posemotion/skeleton_4_00001_.png"]
    assert (tmp_path / "out" / "posemotion" / "skeleton_4_00001_.png").read_bytes() == PNG_BYTES
    assert json.loads((tmp_path / "out" / "posemotion" / "pose_9_00001.json").read_text()) == {"node": "9"}
    assert (seen[0].nodes_done, seen[-1].nodes_done, seen[-1].nodes_total) == (0, 9, 9)
    assert any(p.class_type == "PoseMotionDetectPose" and p.steps == 3 for p in seen)
    assert [p.nodes_done for p in seen] == sorted(p.nodes_done for p in seen)


def test_uploads_go_to_the_input_folder_under_the_given_names(fake, tmp_path):
    photo, clip = tmp_path / "photo.png", tmp_path / "motion.bvh"
    photo.write_bytes(PNG_BYTES)
    clip.write_text("HIERARCHY\n")
    run_workflow(API / "pose_from_image.json", fake.url, tmp_path / "out",
                 uploads=[f"posemotion_person.png={photo}", f"mocap/clip.bvh={clip}"])
    assert fake.uploads["posemotion_person.png"] == PNG_BYTES and fake.uploads["mocap/clip.bvh"] == b"HIERARCHY\n"
    assert fake.upload_forms[-1] == {"type": "input", "subfolder": "mocap", "overwrite": "true"}


def test_missing_upload_file_is_refused_before_anything_is_queued(fake, tmp_path):
    queued = len(fake.prompts)
    with pytest.raises(InputError, match=r"--upload: file not found: '.*nope.png'"):
        run_workflow(API / "pose_from_image.json", fake.url, tmp_path, uploads=[f"a.png={tmp_path / 'nope.png'}"])
    assert len(fake.prompts) == queued


def test_node_errors_come_back_in_the_servers_words(fake, tmp_path):
    queued = len(fake.prompts)
    with pytest.raises(ServerError) as caught:  # every output reads Detect Pose: nothing can run
        run_workflow(API / "pose_from_image.json", fake.url, tmp_path, settings=["2.min_confidence=5"])
    assert str(caught.value).splitlines() == [
        "ComfyUI rejected the workflow: Prompt outputs failed validation",
        "  node 2 (PoseMotionDetectPose): Value 5.0 bigger than max of 1.0: min_confidence"]
    assert len(fake.prompts) == queued


def test_outputs_that_fail_validation_are_reported_and_the_rest_is_downloaded(fake, tmp_path):
    result = run_workflow(API / "pose_from_image.json", fake.url, tmp_path, settings=["3.width=99999"])
    assert result.skipped == [f"  node 3 (PoseMotionRenderSkeleton): Value 99999 bigger than max of {WIDTH_MAX}: width"]
    assert sorted(p.name for p in result.files) == ["body_normals_6_00001_.png", "person_mask_8_00001_.png",
                                                     "pose_9_00001.json"]  # not the skeleton's saver, node 4


def test_execution_error_names_the_node_and_the_exception(fake, tmp_path):
    fake.behaviour = "execution_error"
    with pytest.raises(ServerError, match=r"^node 9 \(PoseMotionSavePoseKeypoint\) failed: "
                                          r"posemotion.models.core.errors.InputError: width: must be a multiple of 8"):
        run_workflow(API / "pose_from_image.json", fake.url, tmp_path / "out")
    assert not any((tmp_path / "out").rglob("*.*"))


def test_lost_websocket_messages_fall_back_to_history(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(client, "HISTORY_POLL_S", 0.2)
    fake.behaviour = "silent"
    results = []  # run in a thread so that a broken fallback fails the test instead of hanging the suite
    worker = threading.Thread(target=lambda: results.append(run_workflow(API / "pose_from_image.json", fake.url,
                                                                         tmp_path)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the runner did not fall back to /history within 60 s"
    assert len(results[0].files) == 4


def test_ctrl_c_interrupts_the_prompt_on_the_server(fake, tmp_path):
    fake.behaviour = "hang"

    def press_ctrl_c(progress):
        if progress.node_id == "9":  # the last node, which waits for /interrupt
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_workflow(API / "pose_from_image.json", fake.url, tmp_path, on_progress=press_ctrl_c)
    prompt_id = fake.interrupts[-1]["prompt_id"]
    assert fake.queue_deletes[-1] == [prompt_id]
    deadline = time.time() + 10
    while fake.history.get(prompt_id, {}).get("status", {}).get("status_str") != "error" and time.time() < deadline:
        time.sleep(0.05)
    assert fake.history[prompt_id]["status"]["messages"][-1][0] == "execution_interrupted"


def test_unreachable_server_is_one_clear_error(tmp_path):
    with pytest.raises(ServerError, match=r"cannot reach ComfyUI at http://127.0.0.1:9 .*is it running\?"):
        run_workflow(API / "pose_from_image.json", "http://127.0.0.1:9", tmp_path, settings=["3.width=96"])


def test_cli_run_prints_the_files_and_exits_zero(fake, tmp_path, capsys):
    code = main(["run", str(ROOT / "workflows" / "motion_tokenize.json"), "--server", fake.url,
                 "--out", str(tmp_path), "--set", "5.width=64"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert re.fullmatch(rf"prompt [0-9a-f-]+ finished in \d+\.\d s; 3 files in {re.escape(str(tmp_path))}", lines[-1])
    saved = ("source_motion_8_00001_.png", "tokenized_motion_6_00001_.png", "tokenized_motion_9_00001.json")
    assert sorted(lines[:-1]) == [f"wrote {tmp_path / 'posemotion' / name}" for name in saved]
    assert "9/9 nodes" in captured.err
    assert fake.prompts[-1]["prompt"]["5"]["inputs"]["width"] == 64


@pytest.mark.parametrize("argv, code, message", [
    (["--set", "2.min_confidence=5"], 1,
     "error: ComfyUI rejected the workflow: Prompt outputs failed validation\n"
     "  node 2 (PoseMotionDetectPose): Value 5.0 bigger than max of 1.0: min_confidence"),
    (["--set", "3.width=99999"], 1,
     "error: ComfyUI ran only the outputs that passed validation; it skipped:\n"
     f"  node 3 (PoseMotionRenderSkeleton): Value 99999 bigger than max of {WIDTH_MAX}: width"),
    (["--set", "30.width=1"], 2, "error: --set: node 30 is not in the workflow (its nodes: 1, 2, 3, 4, 5, 6, 7, 8, 9)"),
    (["--set", "width=1"], 2, "error: --set: expected NODE.INPUT=VALUE (e.g. 3.width=512), got 'width=1'"),
    (["--upload", "x.png=/no/such/file.png"], 2, "error: --upload: file not found: '/no/such/file.png'"),
])
def test_cli_errors_are_the_servers_or_ours_and_exit_non_zero(fake, tmp_path, capsys, argv, code, message):
    assert main(["run", str(API / "pose_from_image.json"), "--server", fake.url, "--out", str(tmp_path), *argv]) == code
    assert capsys.readouterr().err.strip().endswith(message)


def test_cli_execution_error_exits_one(fake, tmp_path, capsys):
    fake.behaviour = "execution_error"
    assert main(["run", str(API / "pose_from_image.json"), "--server", fake.url, "--out", str(tmp_path)]) == 1
    assert "error: node 9 (PoseMotionSavePoseKeypoint) failed: " in capsys.readouterr().err


def test_cli_ctrl_c_stops_the_server_side_run_and_exits_130(fake, tmp_path):
    """A real SIGINT to ``python -m posemotion run`` while the workflow runs."""
    fake.behaviour = "hang"
    interrupts, hanging_before = len(fake.interrupts), set(fake.hanging)
    # As from a terminal: SIGINT at its default in the child, even when this test runs as a background
    # job of a non-interactive shell (which starts it, and so every child, with SIGINT ignored).
    process = subprocess.Popen([sys.executable, "-m", "posemotion", "run", str(API / "pose_from_image.json"),
                                "--server", fake.url, "--out", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not set(fake.hanging) - hanging_before and process.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert set(fake.hanging) - hanging_before, process.communicate()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert len(fake.interrupts) == interrupts + 1
    assert {fake.interrupts[-1]["prompt_id"]} == set(fake.hanging) - hanging_before

