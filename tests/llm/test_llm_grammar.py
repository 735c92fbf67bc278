"""Constrained decoding: MotionGrammar inside transformers' generate, and check_answer.

The LMs are randomly initialised tiny LLaMAs on the real SmolLM2 tokenizer (49,152 tokens) extended
with the motion tokens of a tiny, untrained vqvae or part_vq tokenizer (16 codes). A test-local
"adversary" processor runs before the grammar and adds large random noise to every motion token
and EOS, so that without the grammar the answers are garbage (checked) and with it every wrong
token is tempting at every step.
"""

from __future__ import annotations

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.llm.base import tiny_base
from posemotion.models.llm.grammar import MotionGrammar, check_answer
from posemotion.models.llm.vocabulary import MotionVocabulary, StreamBlock, extend_vocabulary
from posemotion.models.tokenizers.training import make_tokenizer
from transformers import LogitsProcessor, LogitsProcessorList

TINY_MOTION_TOKENIZER = dict(num_codes=16, code_dim=8, width=8, depth=1)
PROMPTS = ["a person walks forward", "jump", "a person waves the right hand twice, then sits down", "run",
           "someone turns around slowly", "kick", "a person crouches and stands up again", "x"]  # 8: one batch
SAMPLES_PER_KIND = 500  # 1,000 sampled answers in all (vqvae + part_vq), as the issue asks
BULK_PROMPTS = [f"{PROMPTS[i % len(PROMPTS)]}, take {i}" for i in range(25)]  # 20 batches of 25 per kind
SAMPLING_TEMPERATURE = 1.5
ADVERSARY_NOISE = 8.0  # std of the noise added to motion-token and EOS logits (the LM's own logits are ~N(0, 1))


class Adversary(LogitsProcessor):
    """Adds N(0, ADVERSARY_NOISE^2) to every id >= ``first_id`` and to EOS: mask, wrong-block, early end and
    early EOS tokens each get the top score now and then."""

    def __init__(self, first_id: int, eos_token_id: int):
        self.first_id, self.eos_token_id = first_id, eos_token_id

    def __call__(self, input_ids, scores):
        scores[:, self.first_id:] += ADVERSARY_NOISE * torch.randn_like(scores[:, self.first_id:])
        scores[:, self.eos_token_id] += ADVERSARY_NOISE * torch.randn(scores.shape[0])
        return scores


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: per-op overhead, one thread is faster


def motion_lm(smol_tokenizer, kind: str):
    base = tiny_base(smol_tokenizer)
    vocabulary = extend_vocabulary(base.model, base.tokenizer, make_tokenizer(kind, small=True,
                                                                             **TINY_MOTION_TOKENIZER))
    base.tokenizer.padding_side = "left"
    return base, vocabulary


def generate(base, vocabulary, seed: int, grammar_settings: dict | None, adversary: bool = True,
             prompts=PROMPTS, max_new_tokens: int = 40, **options):
    """Generated ids [B, t] (prompt removed) of a left-padded batch; ``grammar_settings`` None: unconstrained."""
    tokenizer = base.tokenizer
    batch = tokenizer(list(prompts), return_tensors="pt", padding=True)
    prompt_length = batch.input_ids.shape[1]
    processors = [Adversary(vocabulary.first_id, tokenizer.eos_token_id)] if adversary else []
    if grammar_settings is not None:
        processors.append(MotionGrammar(vocabulary, prompt_length, eos_token_id=tokenizer.eos_token_id,
                                        **grammar_settings))
    torch.manual_seed(seed)
    with torch.no_grad():
        out = base.model.generate(**batch, logits_processor=LogitsProcessorList(processors),
                                  max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                  eos_token_id=tokenizer.eos_token_id, **options)
    return out[:, prompt_length:]


def block_lengths(vocabulary: MotionVocabulary, ids) -> list[int]:
    """Codes between each block's start and end (independent of check_answer)."""
    ids = ids.tolist()
    return [ids.index(vocabulary.special_id(i, "end")) - ids.index(vocabulary.special_id(i, "start")) - 1
            for i in range(len(vocabulary.blocks))]


@pytest.mark.parametrize("kind", ["vqvae", "part_vq"])
def test_sampled_motions_are_valid_with_the_requested_length(smol_tokenizer, kind):
    base, vocabulary = motion_lm(smol_tokenizer, kind)
    eos, blocks = base.tokenizer.eos_token_id, len(vocabulary.blocks)
    sizes = (TINY_MOTION_TOKENIZER["num_codes"],) * 2
    unconstrained = generate(base, vocabulary, 0, None, max_new_tokens=blocks * 5 + 1, do_sample=True,
                             temperature=SAMPLING_TEMPERATURE)
    assert all(check_answer(vocabulary, row, steps=3, eos_token_id=eos) is not None for row in unconstrained)

    checked, seen_codes = 0, set()
    for batch_index in range(SAMPLES_PER_KIND // len(BULK_PROMPTS)):
        steps = 3 + batch_index % 6  # 3..8 token steps
        # top_k=0: plain sampling over every allowed token (the default generation config keeps the top 50)
        answers = generate(base, vocabulary, seed=1000 + batch_index, grammar_settings=dict(steps=steps),
                           prompts=BULK_PROMPTS, max_new_tokens=blocks * (steps + 2) + 1, do_sample=True,
                           temperature=SAMPLING_TEMPERATURE, top_p=1.0, top_k=0, use_cache=batch_index % 2 == 0)
        for row in answers:
            assert check_answer(vocabulary, row, steps=steps, eos_token_id=eos) is None, row.tolist()
            assert block_lengths(vocabulary, row) == [steps] * blocks
            assert row[-1].item() == eos  # the motion is followed by EOS and nothing is cut
            tokens = vocabulary.decode(row, sizes)
            assert tokens.ids.shape == (steps, blocks)
            seen_codes.update(tokens.ids.flatten().tolist())
            checked += 1
    assert checked == SAMPLES_PER_KIND
    assert seen_codes == set(range(TINY_MOTION_TOKENIZER["num_codes"]))  # sampling reaches every code


@pytest.mark.parametrize("kind", ["vqvae", "part_vq"])
def test_free_length_motions_stay_within_max_steps(smol_tokenizer, kind):
    base, vocabulary = motion_lm(smol_tokenizer, kind)
    max_steps, blocks, lengths = 5, len(vocabulary.blocks), set()
    for seed in range(4):
        answers = generate(base, vocabulary, seed, dict(max_steps=max_steps), do_sample=True,
                           temperature=SAMPLING_TEMPERATURE, max_new_tokens=blocks * (max_steps + 2) + 1)
        for row in answers:
            assert check_answer(vocabulary, row, max_steps=max_steps, eos_token_id=base.tokenizer.eos_token_id) is None
            found = block_lengths(vocabulary, row)
            assert len(set(found)) == 1 and 1 <= found[0] <= max_steps  # part_vq: body as long as hand
            lengths.add(found[0])
    assert len(lengths) >= 3  # the end token really is optional before max_steps


@pytest.mark.parametrize("kind", ["vqvae", "part_vq"])
def test_greedy_is_valid_and_the_cache_changes_nothing(smol_tokenizer, kind):
    base, vocabulary = motion_lm(smol_tokenizer, kind)
    settings = dict(steps=6)
    cached = generate(base, vocabulary, 0, settings, adversary=False, do_sample=False, use_cache=True)
    uncached = generate(base, vocabulary, 0, settings, adversary=False, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)
    single = generate(base, vocabulary, 0, settings, adversary=False, prompts=PROMPTS[:1], do_sample=False)
    for answers in (cached, single):
        for row in answers:
            assert check_answer(vocabulary, row, steps=6, eos_token_id=base.tokenizer.eos_token_id) is None


def test_text_answers_hold_no_motion_token_and_mixed_answers_hold_valid_motions(smol_tokenizer):
    base, vocabulary = motion_lm(smol_tokenizer, "part_vq")
    eos = base.tokenizer.eos_token_id
    free = generate(base, vocabulary, 0, None, max_new_tokens=12, do_sample=True, temperature=SAMPLING_TEMPERATURE)
    assert (free >= vocabulary.first_id).any()  # the adversary alone writes motion tokens
    motions = 0
    for seed in range(3):
        text = generate(base, vocabulary, seed, dict(answer="text"), max_new_tokens=12, do_sample=True,
                        temperature=SAMPLING_TEMPERATURE, use_cache=seed % 2 == 0)
        assert not (text >= vocabulary.first_id).any()
        assert all(check_answer(vocabulary, row, answer="text", eos_token_id=eos) is None for row in text)
        mixed = generate(base, vocabulary, seed, dict(answer="mixed", steps=3), max_new_tokens=30, do_sample=True,
                         temperature=SAMPLING_TEMPERATURE)
        for row in mixed.tolist():
            if check_answer(vocabulary, row, steps=3, answer="mixed", eos_token_id=eos) is not None:
                # the only acceptable flaw: max_new_tokens ran out inside the last motion (10 tokens long)
                last_start = len(row) - 1 - row[::-1].index(vocabulary.special_id(0, "start"))
                assert len(row) - last_start < 10 and eos not in row
                assert check_answer(vocabulary, row[:last_start], steps=3, answer="mixed") is None
        motions += int((mixed == vocabulary.special_id(0, "start")).sum())
    assert motions > 0


def test_grammar_wins_over_top_p_and_min_new_tokens(smol_tokenizer):
    base, vocabulary = motion_lm(smol_tokenizer, "vqvae")
    # min_new_tokens bans EOS before step 20, but the grammar must end the 4-step motion with EOS at step 7
    answers = generate(base, vocabulary, 3, dict(steps=4), do_sample=True, temperature=0.7, top_p=0.5,
                       min_new_tokens=20)
    for row in answers:
        assert check_answer(vocabulary, row, steps=4, eos_token_id=base.tokenizer.eos_token_id) is None
        assert row[6].item() == base.tokenizer.eos_token_id


# the grammar step by step, on a vocabulary placed at id 100 (no LM needed) -------------------------
FIRST_ID, EOS = 100, 2
PART = MotionVocabulary("part_vq", "hash", (StreamBlock("hand", 4, 1), StreamBlock("body", 4, 0)), FIRST_ID, 4, 20.0)
SINGLE = MotionVocabulary("vqvae", "hash", (StreamBlock("motion", 4, 0),), FIRST_ID, 4, 20.0)
# PART: hand codes 100..103, start 104, end 105, mask 106; body codes 107..110, start 111, end 112, mask 113
HAND, BODY = set(range(100, 104)), set(range(107, 111))


def allowed(vocabulary, generated, **settings) -> set[int]:
    grammar = MotionGrammar(vocabulary, prompt_length=2, eos_token_id=EOS, **settings)
    input_ids = torch.tensor([[5, 6, *generated]])
    scores = grammar(input_ids, torch.zeros(1, vocabulary.added_ids.stop + 3))
    return set(torch.isfinite(scores[0]).nonzero()[:, 0].tolist())


@pytest.mark.parametrize("generated, settings, expected", [
    ([], dict(steps=2), {104}),
    ([104], dict(steps=2), HAND),
    ([104, 100, 103], dict(steps=2), {105}),
    ([104, 100, 103, 105], dict(steps=2), {111}),
    ([104, 100, 103, 105, 111, 110], dict(steps=2), BODY),
    ([104, 100, 103, 105, 111, 110, 107], dict(steps=2), {112}),
    ([104, 100, 103, 105, 111, 110, 107, 112], dict(steps=2), {EOS}),
    ([104, 100, 105, 111, 110, 112, EOS], dict(steps=1), set(range(117))),  # finished: anything (padding)
    ([104], dict(max_steps=3), HAND),
    ([104, 101], dict(max_steps=3), HAND | {105}),
    ([104, 101, 101, 101], dict(max_steps=3), {105}),
    ([104, 101, 102, 105, 111], dict(max_steps=3), BODY),  # the body copies the hand's 2 steps
    ([104, 101, 102, 105, 111, 107, 107], dict(max_steps=3), {112}),
    ([], dict(answer="text"), set(range(FIRST_ID))),
    ([7, 104, 100], dict(answer="text"), set(range(FIRST_ID))),
    ([], dict(answer="mixed"), set(range(FIRST_ID)) | {104}),
    ([7, 104], dict(answer="mixed", steps=1), HAND),
    ([7, 104, 100, 105, 111, 107, 112], dict(answer="mixed", steps=1), set(range(FIRST_ID)) | {104}),
])
def test_allowed_tokens_step_by_step(generated, settings, expected):
    assert allowed(PART, generated, **settings) == expected


def test_a_second_motion_in_mixed_answers_has_its_own_length():
    first = [104, 100, 100, 100, 105, 111, 107, 107, 107, 112, 9, 104, 101]
    assert allowed(PART, first, answer="mixed", max_steps=5) == HAND | {105}
    assert allowed(PART, first + [105, 111, 108], answer="mixed", max_steps=5) == {112}


def test_motion_without_eos_is_followed_by_text():
    grammar = MotionGrammar(SINGLE, prompt_length=0, steps=1)
    scores = grammar(torch.tensor([[104, 100, 105]]), torch.zeros(1, 110))
    assert set(torch.isfinite(scores[0]).nonzero()[:, 0].tolist()) == set(range(FIRST_ID))


def test_rows_are_independent():
    grammar = MotionGrammar(SINGLE, prompt_length=1, steps=2, eos_token_id=EOS)
    input_ids = torch.tensor([[9, 104, 101, 102], [9, 104, 101, 105], [9, EOS, 0, 0], [9, 104, 103, EOS]])
    finite = [set(torch.isfinite(row).nonzero()[:, 0].tolist()) for row in grammar(input_ids, torch.zeros(4, 108))]
    assert finite == [{105}, {EOS}, set(range(108)), set(range(108))]  # rows 3, 4: finished (EOS) rows


def test_scores_keep_their_values_where_allowed():
    scores = torch.randn(2, 110)
    out = MotionGrammar(SINGLE, prompt_length=0, steps=2, eos_token_id=EOS)(torch.tensor([[104], [104]]), scores)
    assert torch.equal(out[:, 100:104], scores[:, 100:104])
    assert torch.isneginf(out[:, :100]).all() and torch.isneginf(out[:, 104:]).all()


@pytest.mark.parametrize("ids, steps, answer, reason", [
    ([100, 104, 105, 2], None, "motion", "must open with the motion start"),
    ([104, 105, 111, 112, 2], None, "motion", "holds no code"),
    ([104, 100, 106, 105, 111, 107, 107, 112, 2], None, "motion", "neither one of its codes"),  # hand mask
    ([104, 107, 105, 111, 107, 112, 2], None, "motion", "neither one of its codes"),  # body code in hand block
    ([104, 100, 100, 105, 111, 107, 112, 2], None, "motion", "not the 2 the <hand> block's"),
    ([104, 100, 105, 111, 107, 112, 2], 2, "motion", "not the 2 requested"),
    ([104, 100, 105, 2], 1, "motion", "expected the <body> start token 111"),
    ([104, 100, 100], None, "motion", "is not closed"),
    ([104, 100, 105, 111, 107, 112, 9, 2], 1, "motion", "must be followed by EOS"),
    ([104, 100, 105, 111, 107, 112, 104, 100], 1, "motion", "motion token 104 at position 6 after the motion"),
    ([5, 6, 112, 2], None, "mixed", "motion token 112 at position 2 outside a motion"),
    ([5, 6, 120], None, "mixed", "unknown token 120"),
    ([5, 103, 2], None, "text", "token 103 at position 1 is not a text token"),
    ([2], None, "motion", "must open with the motion start"),
])
def test_check_answer_names_the_problem(ids, steps, answer, reason):
    problem = check_answer(PART, ids, steps=steps, answer=answer, eos_token_id=EOS)
    assert problem is not None and reason in problem, problem


def test_check_answer_accepts_valid_answers():
    assert check_answer(PART, [104, 100, 103, 105, 111, 110, 107, 112, 2, 2, 2], steps=2, eos_token_id=EOS) is None
    assert check_answer(PART, torch.tensor([104, 100, 105, 111, 107, 112]), steps=1) is None  # cut before EOS
    assert check_answer(PART, [104, 100, 105, 111, 107, 112, 5, 6]) is None  # text after it, no EOS known
    assert check_answer(PART, [104, 100, 105, 111, 107, 112, 2, 104, 120], eos_token_id=EOS) is None  # padding
    assert check_answer(PART, [5, 104, 100, 105, 111, 107, 112, 6, 104, 100, 100, 105, 111, 107, 107, 112, 2],
                        answer="mixed", eos_token_id=EOS) is None
    assert check_answer(PART, [5, 6, 2], answer="text") is None
    assert check_answer(PART, [104, 100, 100, 105, 111, 107, 107, 112], max_steps=1) is not None


def test_bad_settings_are_refused_by_name():
    cases = [(dict(answer="poem"), "answer"), (dict(steps=0), "steps"), (dict(steps=2.5), "steps"),
             (dict(steps=20, max_steps=10), "steps"), (dict(max_steps=0), "max_steps"),
             (dict(max_steps=None), "max_steps"),
             (dict(prompt_length=-1), "prompt_length"), (dict(eos_token_id=104), "eos_token_id"),
             (dict(vocabulary={"blocks": []}), "vocabulary")]
    for override, name in cases:
        settings = {**dict(vocabulary=SINGLE, prompt_length=0), **override}
        with pytest.raises(InputError) as error:
            MotionGrammar(**settings)
        assert error.value.input_name == name, override
    grammar = MotionGrammar(SINGLE, prompt_length=3)
    with pytest.raises(InputError, match="prompt_length"):
        grammar(torch.zeros(1, 2, dtype=torch.int64), torch.zeros(1, 110))
    with pytest.raises(InputError, match="extend the LM"):
        grammar(torch.zeros(1, 3, dtype=torch.int64), torch.zeros(1, 100))
    with pytest.raises(InputError, match="answer"):
        check_answer(SINGLE, [104], answer="poem")
