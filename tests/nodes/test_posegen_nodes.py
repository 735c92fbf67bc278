"""PoseGen nodes on tiny models written under the fake ComfyUI model folders (comfy_dirs)."""

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.posegen import pipeline
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


def sample(model, poses, segment_length, plan=None, **changes):
    values = dict(reference_image=torch.rand(1, 40, 40, 3), prompt="a woman dances", subject_word="woman", width=0,
                  height=0, steps=2, cfg=4.0, seed=3, kv_share="off", kv_steps="", kv_blocks="", kv_cache="device",
                  block_swap=0, vae_tiling=False)
    return nodes.PoseMotionPoseGenSample().sample(model, pose_frames=poses, segment_length=segment_length,
                                                  plan=plan, **{**values, **changes})[0]


def test_plan_and_sample_nodes(comfy_dirs):
    model = load(interpolation_model=POSEGEN_FILES["interpolation_model"])
    assert model.interp_transformer is not None
    poses = torch.rand(20, 32, 48, 3)
    out = nodes.PoseMotionPoseGenPlanSegments().plan(81, 13, 5, 4, pose_frames=poses)
    plan, table = out["result"]
    assert out["ui"]["text"] == [table] and len(plan.segments) == 3 and "interpolation" in table
    frames = sample(model, poses, 13, plan, kv_share="custom", kv_steps="0-1", kv_blocks="2-4", kv_cache="offload",
                    block_swap=2, hand_normals=torch.rand(20, 32, 48, 3))
    assert frames.shape == (20, 32, 48, 3) and 0 <= frames.min() and frames.max() <= 1
    assert {p.device.type for p in model.transformer.module.parameters()} == {"cpu"}  # block swap gave it back
    with pytest.raises(InputError, match="planned for 20 frames"):
        sample(model, poses[:10], 13, plan)
    with pytest.raises(InputError, match="segment_length") as error:  # the widget and the plan disagree
        sample(model, poses, 81, plan)
    assert "13" in str(error.value)


def test_the_sampler_plans_only_without_a_plan(comfy_dirs, monkeypatch):
    model, poses, calls = load(), torch.rand(20, 32, 48, 3), []
    plan_segments = pipeline.plan_segments
    for module in (pipeline, nodes):
        monkeypatch.setattr(module, "plan_segments", lambda *args, **kwargs: calls.append(args) or
                            plan_segments(*args, **kwargs))
    plan = nodes.PoseMotionPoseGenPlanSegments().plan(81, 17, 0, 0, pose_frames=poses)["result"][0]
    assert len(calls) == 1
    reference = torch.rand(1, 40, 40, 3)
    with_plan = sample(model, poses, 17, plan, steps=1, reference_image=reference)
    assert len(calls) == 1  # the plan node's only
    assert torch.equal(sample(model, poses, 17, steps=1, reference_image=reference), with_plan)
    assert len(calls) == 2


@pytest.mark.parametrize("mode", ["merge", "separate"])
def test_interpolation_lora_switches_with_the_segment_kind(comfy_dirs, mode):
    generator = torch.Generator().manual_seed(0)
    lora = {"blocks.0.attn1.to_q.lora_A.weight": torch.randn(2, 32, generator=generator),
            "blocks.0.attn1.to_q.lora_B.weight": torch.randn(32, 2, generator=generator)}
    (comfy_dirs["models"] / "loras").mkdir()
    save_file(lora, str(comfy_dirs["models"] / "loras" / "posegen_interp.safetensors"))
    model = load(interpolation_lora="posegen_interp.safetensors", lora_mode=mode)
    transformer = model.transformer.module
    query = lambda: transformer.blocks[0].attn1.to_q(torch.ones(1, 32))  # noqa: E731
    with torch.no_grad():
        before = query()
        assert torch.equal(before, load().transformer.module.blocks[0].attn1.to_q(torch.ones(1, 32)))  # base phase
        model.select_phase("interpolation")
        changed = query()
        model.select_phase("base")
        after = query()
    delta = torch.ones(1, 32) @ lora["blocks.0.attn1.to_q.lora_A.weight"].T @ lora["blocks.0.attn1.to_q.lora_B.weight"].T
    torch.testing.assert_close(changed - before, delta, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(after, before, atol=1e-6, rtol=0)
