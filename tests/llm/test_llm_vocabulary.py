"""Motion tokens in the LM vocabulary, the prompt templates, and the base loader's refusals.

Tiny LMs only (a random 2-layer LLaMA on the real SmolLM2 tokenizer), except the one test marked
``slow`` that loads the embedded SmolLM2 GGUF (~25 s).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.llm.base import load_base, tiny_base
from posemotion.models.llm.prompts import MAX_TEXT_TOKENS, TASKS, clean_text, load_templates
from posemotion.models.llm.vocabulary import MotionVocabulary, extend_vocabulary
from posemotion.models.tokenizers.base import MotionTokens
from support.llm_tiny_parts import tiny_motion_tokenizer

SMOLLM2_VOCABULARY = 49_152


def random_tokens(vocabulary: MotionVocabulary, sizes: tuple[int, ...], steps: int, seed: int = 0) -> MotionTokens:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.stack([torch.randint(0, size, (steps,), generator=generator) for size in sizes], dim=1)
    return MotionTokens(ids, sizes, vocabulary.tokenizer_kind, steps * vocabulary.downsample, vocabulary.fps)


def extended(smol_tokenizer, kind: str):
    base = tiny_base(smol_tokenizer)
    motion_tokenizer = tiny_motion_tokenizer(kind)
    vocabulary = extend_vocabulary(base.model, base.tokenizer, motion_tokenizer)
    return base, vocabulary, tuple(motion_tokenizer.codebook_sizes())


@pytest.mark.parametrize("kind, blocks", [("vqvae", ["motion"]), ("part_vq", ["hand", "body"])])
def test_ids_are_contiguous_after_the_base_vocabulary(smol_tokenizer, kind, blocks):
    base, vocabulary, sizes = extended(smol_tokenizer, kind)
    assert vocabulary.first_id == SMOLLM2_VOCABULARY
    assert [b.name for b in vocabulary.blocks] == blocks
    assert vocabulary.num_added == sum(size + 3 for size in sizes)  # K codes + start, end, mask per block
    assert list(vocabulary.added_ids) == list(range(SMOLLM2_VOCABULARY, SMOLLM2_VOCABULARY + vocabulary.num_added))
    assert len(base.tokenizer) == SMOLLM2_VOCABULARY + vocabulary.num_added
    assert base.model.get_input_embeddings().weight.shape[0] == len(base.tokenizer)
    # the text tokenizer maps every added string to its id, in order
    strings = vocabulary.token_strings()
    assert base.tokenizer.convert_tokens_to_ids(strings) == list(vocabulary.added_ids)
    # the blocks follow each other: codes, then start, end, mask, then the next block
    position = vocabulary.first_id
    for index, block in enumerate(vocabulary.blocks):
        assert vocabulary.code_range(index) == range(position, position + block.size)
        assert [vocabulary.special_id(index, s) for s in ("start", "end", "mask")] == [
            position + block.size + k for k in range(3)]
        position += block.size + 3
    assert strings[0] == f"<{blocks[0]}_id_0>"


def test_new_embedding_rows_start_inside_the_old_distribution(smol_tokenizer):
    base, vocabulary, _ = extended(smol_tokenizer, "vqvae")
    weight = base.model.get_input_embeddings().weight.detach()
    old, new = weight[: vocabulary.first_id], weight[vocabulary.first_id:]
    assert torch.isfinite(new).all()
    assert new.mean(0).sub(old.mean(0)).abs().max() < 0.5 * old.std()
    assert base.model.get_output_embeddings().weight is base.model.get_input_embeddings().weight  # tied


def test_single_stream_round_trip_and_layout(smol_tokenizer):
    _, vocabulary, sizes = extended(smol_tokenizer, "vqvae")
    tokens = random_tokens(vocabulary, sizes, steps=7)
    ids = vocabulary.encode(tokens)
    assert len(ids) == 7 + 2
    assert ids[0] == vocabulary.special_id(0, "start") and ids[-1] == vocabulary.special_id(0, "end")
    assert ids[1:-1] == [vocabulary.first_id + c for c in tokens.ids[:, 0].tolist()]
    back = vocabulary.decode(ids, sizes)
    assert torch.equal(back.ids, tokens.ids)
    assert (back.tokenizer, back.num_frames, back.fps, back.codebook_sizes) == ("vqvae", 28, 20.0, sizes)
    # text around the motion is ignored
    assert torch.equal(vocabulary.decode([17, 42, *ids, 2], sizes).ids, tokens.ids)


def test_part_vq_round_trip_is_hand_first(smol_tokenizer):
    _, vocabulary, sizes = extended(smol_tokenizer, "part_vq")
    tokens = random_tokens(vocabulary, sizes, steps=5, seed=3)  # columns (body, hand)
    ids = vocabulary.encode(tokens)
    hand, body = ids[:7], ids[7:]
    assert hand[0] == vocabulary.special_id(0, "start") and hand[-1] == vocabulary.special_id(0, "end")
    assert body[0] == vocabulary.special_id(1, "start") and body[-1] == vocabulary.special_id(1, "end")
    assert hand[1:-1] == [vocabulary.code_range(0).start + c for c in tokens.ids[:, 1].tolist()]  # hand column
    assert body[1:-1] == [vocabulary.code_range(1).start + c for c in tokens.ids[:, 0].tolist()]  # body column
    back = vocabulary.decode(ids, sizes)
    assert torch.equal(back.ids, tokens.ids) and back.tokenizer == "part_vq"


@pytest.mark.parametrize("kind", ["vqvae", "part_vq"])
def test_masked_steps_become_each_blocks_mask_token(smol_tokenizer, kind):
    _, vocabulary, sizes = extended(smol_tokenizer, kind)
    tokens = random_tokens(vocabulary, sizes, steps=6, seed=1)
    plain, masked = vocabulary.encode(tokens), vocabulary.encode(tokens, masked_steps=range(2, 4))
    per_block = 6 + 2
    for index in range(len(vocabulary.blocks)):
        body = slice(index * per_block + 1, index * per_block + 7)
        assert masked[body][2:4] == [vocabulary.special_id(index, "mask")] * 2
        assert masked[body][:2] == plain[body][:2] and masked[body][4:] == plain[body][4:]
    with pytest.raises(InputError) as error:  # a mask token is not a code: decoding refuses it
        vocabulary.decode(masked, sizes)
    assert error.value.input_name == "motion_answer"


def test_decode_refuses_incomplete_or_unequal_blocks(smol_tokenizer):
    _, vocabulary, sizes = extended(smol_tokenizer, "part_vq")
    ids = vocabulary.encode(random_tokens(vocabulary, sizes, steps=4))
    for broken in (ids[:-1], ids[:6] + ids[7:], ids[:2] + ids[3:]):  # no body end; no hand end; 3 hand vs 4 body
        with pytest.raises(InputError) as error:
            vocabulary.decode(broken, sizes)
        assert error.value.input_name == "motion_answer"


def test_encode_refuses_tokens_of_another_tokenizer_kind(smol_tokenizer):
    _, vocabulary, sizes = extended(smol_tokenizer, "vqvae")
    other = MotionTokens(torch.zeros(3, 2, dtype=torch.int64), (16, 16), "part_vq", 12, 20.0)
    with pytest.raises(InputError, match="'part_vq' tokenizer") as error:
        vocabulary.encode(other)
    assert error.value.input_name == "motion_tokens"


def test_vocabulary_dict_round_trip_and_steps(smol_tokenizer):
    _, vocabulary, _ = extended(smol_tokenizer, "part_vq")
    assert MotionVocabulary.from_dict(vocabulary.to_dict()) == vocabulary
    assert [vocabulary.steps_for_seconds(s) for s in (4.0, 2.0, 0.1, 10.0)] == [20, 10, 1, 50]  # 20 fps / 4


def test_extending_twice_is_refused(smol_tokenizer):
    base, _, _ = extended(smol_tokenizer, "vqvae")
    with pytest.raises(InputError, match="fresh base") as error:
        extend_vocabulary(base.model, base.tokenizer, tiny_motion_tokenizer("vqvae"))
    assert error.value.input_name == "base"


# templates --------------------------------------------------------------------------------------

FIELDS = {"text": "a person waves", "seconds": "2.0", "motion": "<motion_id_16><motion_id_3><motion_id_17>",
          "start_pose": "<motion_id_16><motion_id_1><motion_id_17>", "end_pose": "<motion_id_16><motion_id_2><motion_id_17>"}


def test_every_task_renders_with_several_phrasings():
    templates = load_templates()
    assert set(templates.tasks) >= set(TASKS)
    for task in TASKS:
        phrasings = templates.tasks[task]["instructions"]
        assert len(phrasings) >= 3, task
        prompts = [templates.prompt(task, k, **FIELDS) for k in range(len(phrasings))]
        assert len(set(prompts)) == len(prompts), task
        for prompt, instruction in zip(prompts, phrasings):
            assert instruction in prompt and prompt.endswith("### Response:\n")
            assert "{" not in prompt and "}" not in prompt, (task, prompt)
        if task.startswith("t2m"):
            assert "a person waves" in prompts[0] and "2.0" in prompts[0]
        else:
            assert FIELDS["motion"] in prompts[0]
    drawn = {templates.prompt("t2m", rng=random.Random(seed), **FIELDS) for seed in range(20)}
    assert len(drawn) > 1  # a random phrasing when the rng is given


def test_template_errors_name_the_input():
    templates = load_templates()
    with pytest.raises(InputError) as error:
        templates.prompt("dance", **FIELDS)
    assert error.value.input_name == "task"
    with pytest.raises(InputError) as error:
        templates.prompt("t2m", 99, **FIELDS)
    assert error.value.input_name == "phrasing"
    with pytest.raises(InputError, match="seconds"):
        templates.prompt("t2m", 0, text="a person waves")


def test_broken_template_file_is_one_model_file_error(tmp_path):
    path = tmp_path / "templates.json"
    path.write_text('{"version": 1, "layout": "{instruction} {input}", "tasks": {"t2m": {}}}')
    with pytest.raises(ModelFileError, match="templates.json"):
        load_templates(str(path))


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_one_input_error(smol_tokenizer, text):
    with pytest.raises(InputError) as error:
        clean_text(text, smol_tokenizer)
    assert error.value.input_name == "text"


def test_long_text_is_truncated_with_a_warning_naming_the_limit(smol_tokenizer):
    text = " ".join(["walk"] * 200)
    with pytest.warns(UserWarning, match=f"limit of {MAX_TEXT_TOKENS}"):
        short = clean_text(text, smol_tokenizer)
    assert len(smol_tokenizer(short, add_special_tokens=False)["input_ids"]) <= MAX_TEXT_TOKENS
    assert clean_text("  a  person\nwalks ", smol_tokenizer) == "a person walks"


# the base loader ----------------------------------------------------------------------------------

def test_missing_base_folder_is_one_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="not found") as error:
        load_base(str(tmp_path / "no_such_base"))
    assert str(tmp_path / "no_such_base") in str(error.value)


def test_folder_without_config_is_one_model_file_error(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelFileError, match="config.json") as error:
        load_base(str(tmp_path))
    assert str(tmp_path) in str(error.value)


def write_fake_gguf(path: str, architecture: str) -> None:
    """A tiny valid GGUF file of ``architecture`` (one tensor), which transformers has no mapping for."""
    from gguf import GGUFWriter

    writer = GGUFWriter(path, architecture)
    writer.add_name("fake")
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_unsupported_gguf_architecture_is_one_model_file_error(tmp_path):
    path = str(tmp_path / "fake-mamba.gguf")
    write_fake_gguf(path, "mamba-xyz")
    with pytest.raises(ModelFileError) as error:
        load_base(path)
    assert path in str(error.value) and "GGUF" in str(error.value)


def test_missing_gguf_file_is_one_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_base(str(tmp_path / "nothing.gguf"))


@pytest.mark.slow
def test_embedded_gguf_loads_as_smollm2():
    """SLOW (~25 s): the one test that dequantises the real embedded SmolLM2-135M GGUF."""
    from transformers import LlamaForCausalLM

    base = load_base()
    assert isinstance(base.model, LlamaForCausalLM)
    assert len(base.tokenizer) == SMOLLM2_VOCABULARY == base.model.config.vocab_size
    assert base.model.get_input_embeddings().weight.dtype == torch.float32
    assert "SmolLM2" in base.name and len(base.identity_hash) == 64
