"""PoseGen nodes on tiny models written under the fake ComfyUI model folders (comfy_dirs)."""

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.posegen.kv_share import KVShareController
from posemotion.nodes import posegen_nodes as nodes
from safetensors.torch import save_file
from support.tiny_models import POSEGEN_FILES

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: a 2nd thread only contends

LOADER_DEFAULTS = dict(interpolation_model=nodes.SAME, base_lora=nodes.NONE, interpolation_lora=nodes.NONE,
                       lora_mode="merge", lora_strength=1.0, dtype="float32")


def load(**changes):
    files = {k: v for k, v in POSEGEN_FILES.items() if k != "interpolation_model"}
    return nodes.PoseMotionLoadPoseGen().load(**{**files, **LOADER_DEFAULTS, **changes})[0]


def test_loader_lists_model_folders_and_single_files(comfy_dirs):
    required = nodes.PoseMotionLoadPoseGen.INPUT_TYPES()["required"]
    assert required["transformer"][0] == ["posegen/720p-81f-base", "posegen/720p-81f-cond"]
    assert required["interpolation_model"][0][0] == nodes.SAME
    assert required["vae"][0] == ["wan2.1_vae"]
    assert required["clip_vision"][0] == ["clip_vision_h.safetensors"]
    assert required["text_encoder"][0] == ["umt5_xxl_fp16.safetensors"]  # the tokenizer folder is no model
    assert required["tokenizer"][0] == [nodes.WITH_ENCODER, "umt5-xxl-tokenizer"]


def test_plan_and_sample_nodes(comfy_dirs):
    model = load(interpolation_model=POSEGEN_FILES["interpolation_model"])
    assert model.interp_transformer is not None
    poses = torch.rand(20, 32, 48, 3)
    out = nodes.PoseMotionPoseGenPlanSegments().plan(81, 13, 5, 4, pose_frames=poses)
    plan, table = out["result"]
    assert out["ui"]["text"] == [table] and len(plan.segments) == 3 and "interpolation" in table
    frames = nodes.PoseMotionPoseGenSample().sample(
        model, torch.rand(1, 40, 40, 3), poses, "a woman dances", "woman", 0, 0, 81, 2, 4.0, 3, "custom",
        "0-1", "2-4", "offload", 2, False, hand_normals=torch.rand(20, 32, 48, 3), plan=plan)[0]
    assert frames.shape == (20, 32, 48, 3) and 0 <= frames.min() and frames.max() <= 1
    with pytest.raises(InputError, match="planned for 20 frames"):
        nodes.PoseMotionPoseGenSample().sample(model, torch.rand(1, 40, 40, 3), poses[:10], "a woman dances",
                                               "woman", 0, 0, 81, 2, 4.0, 3, "off", "", "", "device", 0, False,
                                               plan=plan)


def test_framing_presets_are_the_papers_at_40_blocks_and_scale():
    for name, (steps, blocks) in KVShareController.FRAMING_PRESETS.items():
        assert nodes.scaled_preset(name, 40) == (steps, blocks, (0, 11))
    assert nodes.scaled_preset("half_body", 30) == ((0, 2), (26, 30), (0, 8))  # Wan 1.3B: 34*0.75 = 25.5
    assert nodes.scaled_preset("close_up", 4)[1] == (3, 4)
    assert nodes.parse_range(" 0 - 2", "kv_steps") == (0, 2)
    for bad in ("2-2", "a-b", "3"):
        with pytest.raises(InputError, match="kv_steps"):
            nodes.parse_range(bad, "kv_steps")


@pytest.mark.parametrize("mode", ["merge", "separate"])
def test_interpolation_lora_switches_with_the_segment_kind(comfy_dirs, mode):
    generator = torch.Generator().manual_seed(0)
    lora = {"blocks.0.attn1.to_q.lora_A.weight": torch.randn(2, 32, generator=generator),
            "blocks.0.attn1.to_q.lora_B.weight": torch.randn(32, 2, generator=generator)}
    (comfy_dirs["models"] / "loras").mkdir()
    save_file(lora, str(comfy_dirs["models"] / "loras" / "posegen_interp.safetensors"))
    model = load(interpolation_lora="posegen_interp.safetensors", lora_mode=mode)
    assert model.phase == "base"
    transformer = model.transformer.module
    query = lambda: transformer.blocks[0].attn1.to_q(torch.ones(1, 32))  # noqa: E731
    with torch.no_grad():
        before = query()
        model.select_phase("interpolation")
        changed = query()
        model.select_phase("base")
        after = query()
    delta = torch.ones(1, 32) @ lora["blocks.0.attn1.to_q.lora_A.weight"].T @ lora["blocks.0.attn1.to_q.lora_B.weight"].T
    torch.testing.assert_close(changed - before, delta, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(after, before, atol=1e-6, rtol=0)
