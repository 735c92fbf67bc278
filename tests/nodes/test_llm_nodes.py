"""Motion LLM nodes on a tiny random LLM installed in models/llm (support/llm_tiny_parts.py) and the real
MocapBank clip: loading, the four tasks, progress and interrupts per token, and each bad input
refused by name. The tiny model's motions are grammatical but meaningless: only lengths, frame rates,
determinism and errors are checked here."""

from __future__ import annotations

import os

import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.core.motion import Motion
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from posemotion.models.tokenizers.base import MotionTokens
from posemotion.models.tokenizers.codec import encode_motion
from posemotion.nodes import NODE_CLASS_MAPPINGS as NODES
from posemotion.nodes import bridge
from posemotion.nodes.llm_nodes import DEMO_CHOICE, EMBEDDED
from support.llm_tiny_parts import TINY_ADAPTER, TINY_BASE

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SAMPLE = {"seed": 3, "sampling": "sample", "temperature": 1.0, "top_p": 0.95}


@pytest.fixture(scope="module")
def walk(mocap_dir) -> Motion:
    return resample(read_motion(mocap_dir / "test_mocapbank.bvh"), 20.0)  # 15 s, smpl_22


def _load(base=TINY_BASE, adapter=TINY_ADAPTER, **options):
    node = NODES["PoseMotionLoadMotionLLM"]
    return node().load(**{"base": base, "adapter": adapter, "dtype": "float32", "merge_lora": True, **options})


def _text_to_motion(llm, text="a person walks forward", seconds=1.0, **options):
    return NODES["PoseMotionTextToMotion"]().generate(llm=llm, text=text, seconds=seconds, **{**SAMPLE, **options})


def _bundled_tokenizer(name):
    return NODES["PoseMotionLoadMotionTokenizer"]().load(f"[bundled] {name}")[0]


def test_loader_lists_models_and_the_four_tasks_run(comfy_dirs, walk):
    choices = NODES["PoseMotionLoadMotionLLM"].INPUT_TYPES()["required"]
    assert choices["base"][0] == [EMBEDDED, TINY_BASE]
    assert choices["adapter"][0] == [TINY_ADAPTER, DEMO_CHOICE]  # not the base folder's model.safetensors
    loaded = _load()
    assert "motion tokens (vqvae)" in loaded["ui"]["text"][0]
    llm = loaded["result"][0]

    out = _text_to_motion(llm, seconds=1.0)
    motion, tokens, fps = out["result"]
    assert (motion.num_frames, fps, motion.layout, tokens.num_steps) == (20, 20.0, "smpl_22", 5)
    again = _text_to_motion(llm, seconds=1.0)["result"][1]
    assert torch.equal(again.ids, tokens.ids)  # the same seed gives the same motion
    posed = _text_to_motion(llm, seconds=0.6, start_pose=walk, end_pose=walk)["result"][0]
    assert posed.num_frames == 12

    caption = NODES["PoseMotionMotionToText"]().caption(llm=llm, motion=walk, **{**SAMPLE, "sampling": "greedy"})
    assert isinstance(caption["result"][0], str) and caption["ui"]["text"] == [caption["result"][0]]
    from_tokens = NODES["PoseMotionMotionToText"]().caption(llm=llm, motion_tokens=tokens, **SAMPLE)
    assert isinstance(from_tokens["result"][0], str)

    predicted = NODES["PoseMotionPredictMotion"]().predict(llm=llm, motion=walk, context_seconds=1.0, seconds=1.0,
                                                           **SAMPLE)["result"][0]
    assert predicted.num_frames == 40  # the clip's last second, then one predicted second
    joined = NODES["PoseMotionInbetweenMotions"]().inbetween(llm=llm, first=walk, last=walk, context_seconds=1.0,
                                                             seconds=0.6, **SAMPLE)["result"][0]
    assert joined.num_frames == 20 + 12 + 20


def test_progress_is_reported_and_an_interrupt_stops_between_tokens(comfy_dirs, monkeypatch):
    llm = _load()["result"][0]
    checks = []

    class Interrupted(Exception):
        pass

    def interrupt_at_third_token():  # stands in for ComfyUI's model_management check (the bridge's seam)
        checks.append(1)
        if len(checks) == 3:
            raise Interrupted()

    monkeypatch.setattr(bridge, "check_interrupt", interrupt_at_third_token)
    with pytest.raises(Interrupted):
        _text_to_motion(llm, seconds=2.0)  # 10 token steps + start and end tokens
    assert len(checks) == 3


def test_bad_inputs_are_refused_by_name(comfy_dirs, walk):
    llm = _load()["result"][0]
    with pytest.raises(InputError, match="^text: "):
        _text_to_motion(llm, text="   ")
    with pytest.raises(InputError, match="^seconds: .*outside the allowed range"):
        _text_to_motion(llm, seconds=0.0)
    with pytest.raises(InputError, match=r"^seconds: expected a duration in \(0, 10\] seconds"):
        _text_to_motion(llm, seconds=30.0)
    with pytest.raises(InputError, match="^seconds: .*exceed this model's maximum"):
        NODES["PoseMotionPredictMotion"]().predict(llm=llm, motion=walk, context_seconds=6.0, seconds=6.0, **SAMPLE)
    with pytest.raises(InputError, match="^llm: expected MOTION_LLM from Load Motion LLM, got str"):
        _text_to_motion("a model")
    tokenizer = _bundled_tokenizer("vqvae_small.safetensors")
    with pytest.raises(InputError, match="^llm: expected MOTION_LLM"):
        _text_to_motion(tokenizer)
    with pytest.raises(InputError, match="^start_pose: expected a MOTION"):
        _text_to_motion(llm, start_pose=torch.zeros(4, 22, 3))

    pgr2m = _bundled_tokenizer("pgr2m_small.safetensors")
    other = encode_motion(pgr2m.module, walk)
    assert isinstance(other, MotionTokens) and other.tokenizer == "pgr2m"
    with pytest.raises(InputError, match="^motion_tokens: tokens come from a 'pgr2m' tokenizer"):
        NODES["PoseMotionMotionToText"]().caption(llm=llm, motion_tokens=other, **SAMPLE)
    with pytest.raises(InputError, match="^motion_tokens: connect either motion or motion_tokens"):
        NODES["PoseMotionMotionToText"]().caption(llm=llm, motion=walk, motion_tokens=other, **SAMPLE)
    with pytest.raises(InputError, match="^motion: nothing to describe"):
        NODES["PoseMotionMotionToText"]().caption(llm=llm, **SAMPLE)
    with pytest.raises(InputError, match="^first: the motion is too short"):
        NODES["PoseMotionInbetweenMotions"]().inbetween(llm=llm, first=Motion(walk.joints[:2], 20.0, "smpl_22"),
                                                        last=walk, context_seconds=1.0, seconds=1.0, **SAMPLE)


def test_bad_model_files_are_refused_by_name(comfy_dirs):
    with pytest.raises(ModelFileError, match="^adapter: file not found: 'missing.safetensors' in model folder 'llm'"):
        _load(adapter="missing.safetensors")
    with pytest.raises(ModelFileError, match="^base: file not found: 'no-such-base' in model folder 'llm'"):
        _load(base="no-such-base")
    with pytest.raises(InputError, match="^adapter: .* must be a name inside"):
        _load(adapter="../../etc/passwd")
    with pytest.raises(InputError, match="^motion_tokenizer: .*trained with a vqvae motion tokenizer.*not with the "
                                         "given pgr2m tokenizer"):
        _load(motion_tokenizer=_bundled_tokenizer("pgr2m_small.safetensors"))
    connected = _load(motion_tokenizer=_bundled_tokenizer("vqvae_small.safetensors"))["result"][0]
    assert connected.model.vocabulary.tokenizer_kind == "vqvae"
    llm_dir = comfy_dirs["models"] / "llm"
    # an official MotionGPT file needs a flan-t5 folder as base, and reads no other motion tokenizer
    (llm_dir / "motiongpt_s3_h3d.tar").write_bytes(b"not read before the base is checked")
    with pytest.raises(InputError, match="^base: an official MotionGPT checkpoint needs your flan-t5-base folder"):
        _load(base=EMBEDDED, adapter="motiongpt_s3_h3d.tar")
    with pytest.raises(ModelFileError, match="^base: t5_folder: .* holds a 'llama' config; MotionGPT needs flan-t5"):
        _load(adapter="motiongpt_s3_h3d.tar")
    os.remove(llm_dir / TINY_BASE / "config.json")
    with pytest.raises(ModelFileError, match=f"^base: folder not found: '{TINY_BASE}'"):
        _load()
