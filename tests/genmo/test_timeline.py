"""Text timeline: parsing, errors naming the prompt, windows, MiniLM tokens."""

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.forecasting.encoders import default_text_encoder
from posemotion.models.genmo.conditions import GenmoConditions
from posemotion.models.genmo.timeline import (
    Prompt,
    encode_timeline,
    parse_timeline,
    prompt_windows,
)


def test_parses_seconds_percent_plain_and_multiline():
    prompts = parse_timeline("0-3:walks forward\n\n2.5-6 s: turns left\n50%-100%:waves\njumps", 6.0)
    assert prompts == [Prompt("walks forward", 0.0, 3.0), Prompt("turns left", 2.5, 6.0),
                       Prompt("waves", 3.0, 6.0), Prompt("jumps", 0.0, 6.0)]
    assert parse_timeline(["0s-1.5s: a", "0-50%:b"], 4.0) == [Prompt("a", 0.0, 1.5), Prompt("b", 0.0, 2.0)]
    assert parse_timeline("", 4.0) == []


def test_text_with_a_colon_but_no_times_is_plain_text():
    assert parse_timeline("walk: then run", 2.0) == [Prompt("walk: then run", 0.0, 2.0)]


def test_end_within_half_a_frame_is_clamped():
    assert parse_timeline("0-6.02:walks", 6.0, fps=20) == [Prompt("walks", 0.0, 6.0)]
    with pytest.raises(InputError, match="ends at 6.03 s"):
        parse_timeline("0-6.03:walks", 6.0, fps=20)


@pytest.mark.parametrize("entry, problem", [
    ("3-9:sits", r"prompt 2 \('3-9:sits'\): ends at 9 s, after the motion's 6 s"),
    ("3-2:sits", "starts at 3 s, not before its end at 2 s"),
    ("3-3:sits", "not before its end"),
    ("2-4:   ", "prompt text is empty"),
    ("-1-2:sits", "must not be negative"),
    ("6-7:sits", "ends at 7 s"),
    ("3:sits", "could not read its time range"),
    ("1-2-3:sits", "could not read its time range"),
])
def test_bad_prompts_name_the_prompt(entry, problem):
    with pytest.raises(InputError, match=problem) as error:
        parse_timeline(["0-3:walks", entry], 6.0)
    assert error.value.input_name == "text"
    assert "prompt 2" in str(error.value)


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan"), float("inf")])
def test_bad_length(seconds):
    with pytest.raises(InputError, match="seconds"):
        parse_timeline("walks", seconds)


def test_windows_cover_start_to_end_and_at_least_one_frame():
    prompts = [Prompt("a", 0.0, 3.0), Prompt("b", 2.5, 6.0), Prompt("tiny", 0.151, 0.152), Prompt("c", 0.15, 0.3)]
    windows = prompt_windows(prompts, 120, 20.0)
    assert windows[0].nonzero().flatten().tolist() == list(range(0, 60))
    assert windows[1].nonzero().flatten().tolist() == list(range(50, 120))  # overlaps prompt a on 50..59
    assert windows[2].nonzero().flatten().tolist() == [3]
    assert windows[3].nonzero().flatten().tolist() == [3, 4, 5]  # 0.15 * 20 is 3.0000000000000004


def test_encode_timeline_gives_one_sequence_with_minilm_tokens():
    encoder = default_text_encoder()
    prompts = parse_timeline("0-3:walks forward\n3-6:turns left and waves", 6.0)
    text = encode_timeline(prompts, 120, 20.0, encoder)
    assert text.tokens.shape[:2] == (1, 2) and text.tokens.shape[3] == 384
    assert text.windows.shape == (1, 2, 120) and text.present.all()
    alone = encoder.encode(["turns left and waves"])
    real = text.token_mask[0, 1]
    torch.testing.assert_close(text.tokens[0, 1, real], alone.tokens[0, alone.mask[0]], atol=1e-4, rtol=1e-4)
    GenmoConditions(batch=1, length=120, text=text)  # fits the shared condition contract
    with pytest.raises(InputError, match="no prompt"):
        encode_timeline([], 120, 20.0, encoder)
