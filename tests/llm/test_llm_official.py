"""Official MotionGPT checkpoints on a tiny T5: strict loading of the published layout, its prompts and decoding.

The flan-t5 key table below is written from the T5 architecture (the names and shapes a
``T5ForConditionalGeneration`` state dict has, gated-GELU feed-forward as in flan-t5), independently of
the loader, so a renamed or reshaped parameter fails here. The tokenizer folder is built offline: a
T5 Unigram tokenizer over a few words, saved with save_pretrained beside a tiny T5Config, read by the
loader exactly as it reads a real flan-t5-base folder. Real MotionGPT weights are not run here.
"""

import json
import os
import shlex

import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.core.motion import Motion
from posemotion.models.llm.official import (
    MOTIONGPT_PROMPTS,
    answer_codes,
    caption_motion,
    codes_to_tokens,
    generate_motion,
    load_motiongpt,
    motion_string,
)
from posemotion.models.motion.io import read_motion
from posemotion.models.tokenizers.codec import decode_motion, encode_motion
from posemotion.models.tokenizers.vqvae import VQVAE
from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration, T5Tokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WORDS = ["Generate", "motion", "text", "Predict", "Complete", "the", "masked", "a", "person", "walks", "forward",
         "waves", "with", "right", "hand"]
TINY_T5 = dict(d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=4,
               relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
               decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
PADDED_ROWS = 7  # flan-t5-base's config says 32128 rows for a 32100-token tokenizer; MotionGPT resized to 32100 + 515
K = 512  # MotionGPT's codebook: <motion_id_0..514>
TINY_VAE = dict(input_dim=263, num_codes=K, code_dim=16, width=32, depth=2)
T2M_CAPTION = "a person walks forward"
T2M_CODES = [5, 17, 511, 0, 42, 42, 300, 7]
M2T_CAPTION = "a person waves with the right hand"
DECOY_CODES, DECOY_CAPTION = [9, 9, 9], "a person walks"


def flan_t5_keys(vocab: int, d_model=32, d_kv=8, d_ff=64, heads=4, layers=1, buckets=32) -> dict[str, tuple]:
    """Key -> shape of a flan-t5 (T5 v1.1, gated GELU, untied lm_head) T5ForConditionalGeneration state dict."""
    inner = heads * d_kv
    keys = {"shared.weight": (vocab, d_model), "encoder.embed_tokens.weight": (vocab, d_model),
            "decoder.embed_tokens.weight": (vocab, d_model), "lm_head.weight": (vocab, d_model),
            "encoder.final_layer_norm.weight": (d_model,), "decoder.final_layer_norm.weight": (d_model,)}

    def attention(prefix, relative):
        for name in "qkv":
            keys[f"{prefix}.{name}.weight"] = (inner, d_model)
        keys[f"{prefix}.o.weight"] = (d_model, inner)
        if relative:
            keys[f"{prefix}.relative_attention_bias.weight"] = (buckets, heads)

    def feed_forward(prefix):
        keys[f"{prefix}.DenseReluDense.wi_0.weight"] = (d_ff, d_model)
        keys[f"{prefix}.DenseReluDense.wi_1.weight"] = (d_ff, d_model)
        keys[f"{prefix}.DenseReluDense.wo.weight"] = (d_model, d_ff)
        keys[f"{prefix}.layer_norm.weight"] = (d_model,)

    for stack in ("encoder", "decoder"):
        for block in range(layers):
            layer = f"{stack}.block.{block}.layer"
            attention(f"{layer}.0.SelfAttention", relative=block == 0)
            keys[f"{layer}.0.layer_norm.weight"] = (d_model,)
            if stack == "decoder":
                attention(f"{layer}.1.EncDecAttention", relative=False)
                keys[f"{layer}.1.layer_norm.weight"] = (d_model,)
            feed_forward(f"{layer}.{2 if stack == 'decoder' else 1}")
    return keys


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory) -> str:
    """A flan-t5-like folder: config.json + tokenizer files, as save_pretrained writes them (no weights)."""
    folder = tmp_path_factory.mktemp("flan-t5-tiny")
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0), (":", -3.0)]
    pieces += [("▁" + word, -1.0) for word in WORDS]
    pieces += [(c, -10.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    tokenizer = T5Tokenizer(vocab=pieces, extra_ids=4)  # a Unigram model, like flan-t5's (which has 100 extra ids)
    tokenizer.save_pretrained(folder)
    # flan-t5-base's config.json fields, at a tiny size (its own file predates transformers' forced tying)
    config = {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "is_encoder_decoder": True,
              "dense_act_fn": "gelu_new", "is_gated_act": True, "dropout_rate": 0.1, "layer_norm_epsilon": 1e-06,
              "initializer_factor": 1.0, "n_positions": 512, "output_past": True,
              "relative_attention_max_distance": 128, "use_cache": True,
              "vocab_size": len(tokenizer) + PADDED_ROWS, **TINY_T5}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return str(folder)


@pytest.fixture(scope="module")
def base_tokens(t5_folder) -> int:
    return len(AutoTokenizer.from_pretrained(t5_folder, local_files_only=True))


@pytest.fixture(scope="module")
def vae_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    vae = VQVAE(**TINY_VAE)
    with torch.no_grad():
        vae.quantizer.codebook.normal_()  # distinct codes, so a motion gives varied ids
    return vae.state_dict()


def write_checkpoint(path, lm_state: dict, vae_state: dict, vae_prefix: str = "vae.") -> str:
    """A Lightning-style MotionGPT file: {"state_dict": {lm.language_model.*, vae.*}, ...}."""
    state = {"lm.language_model." + k: v for k, v in lm_state.items()}
    state.update({vae_prefix + k: v for k, v in vae_state.items()})
    torch.save({"epoch": 299, "global_step": 1000, "state_dict": state, "hyper_parameters": {"stage": "lm_instruct"}},
               path)
    return str(path)


def table_state(vocab: int, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(shape, generator=generator) * 0.1 for k, shape in flan_t5_keys(vocab).items()}
    for alias in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
        state[alias] = state["shared.weight"]  # one tensor under three names, as torch.save keeps it
    return state


@pytest.fixture(scope="module")
def table_file(tmp_path_factory, base_tokens, vae_state):
    """(path, LM state) of a file whose LM weights follow the independent key table."""
    lm_state = table_state(base_tokens + K + 3)
    path = write_checkpoint(tmp_path_factory.mktemp("table") / "motiongpt_s3_h3d.tar", lm_state, vae_state)
    return path, lm_state


# ----------------------------------------------------------------------------- loading

def test_published_layout_loads_strictly_with_the_motion_vocabulary(table_file, t5_folder, base_tokens, vae_state):
    path, lm_state = table_file
    official = load_motiongpt(path, t5_folder)
    loaded = official.lm.state_dict()
    assert set(loaded) == set(lm_state)
    assert all(torch.equal(loaded[k], v) for k, v in lm_state.items())
    assert official.lm.get_input_embeddings().num_embeddings == base_tokens + K + 3
    assert official.lm.lm_head.weight.shape[0] == base_tokens + K + 3
    assert all(torch.equal(official.vae.state_dict()[k], v) for k, v in vae_state.items())
    assert official.vae.kind == "vqvae" and official.vae.downsample == 4 and official.vae.fps == 20.0

    tokenizer, vocabulary = official.tokenizer, official.vocabulary
    assert len(tokenizer) == base_tokens + K + 3
    assert [tokenizer.convert_tokens_to_ids(f"<motion_id_{k}>") for k in (0, 511, 512, 513, 514)] == \
           [base_tokens + k for k in (0, 511, 512, 513, 514)]
    assert vocabulary.first_id == base_tokens and [(b.name, b.size) for b in vocabulary.blocks] == [("motion", K)]
    assert (vocabulary.special_id(0, "start"), vocabulary.special_id(0, "end"), vocabulary.special_id(0, "mask")) \
        == (base_tokens + 512, base_tokens + 513, base_tokens + 514)
    # MotionGPT writes motions as strings: the tokenizer must read them back as single tokens
    text = "Generate text: " + motion_string([3, 7], vocabulary)
    ids = tokenizer(text).input_ids
    assert ids[-5:] == [base_tokens + 512, base_tokens + 3, base_tokens + 7, base_tokens + 513, tokenizer.eos_token_id]


def test_tied_aliases_may_be_absent_and_motion_vae_prefix_is_read(tmp_path, t5_folder, base_tokens, vae_state):
    lm_state = table_state(base_tokens + K + 3, seed=1)
    stored_once = {k: v for k, v in lm_state.items() if "embed_tokens" not in k}
    path = write_checkpoint(tmp_path / "once.tar", stored_once, vae_state, vae_prefix="motion_vae.")
    official = load_motiongpt(path, t5_folder)
    assert torch.equal(official.lm.encoder.embed_tokens.weight, lm_state["shared.weight"])
    assert torch.equal(official.lm.decoder.embed_tokens.weight, lm_state["shared.weight"])


def _edited(tmp_path, table_file, edit) -> str:
    path, _ = table_file
    checkpoint = torch.load(path, weights_only=True)
    edit(checkpoint["state_dict"])
    torch.save(checkpoint, tmp_path / "edited.tar")
    return str(tmp_path / "edited.tar")


LM = "lm.language_model."


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop(LM + "decoder.block.0.layer.1.EncDecAttention.k.weight"),
     r"missing keys: lm\.language_model\.decoder\.block\.0\.layer\.1\.EncDecAttention\.k\.weight"),
    (lambda s: s.__setitem__(LM + "encoder.block.1.layer.0.SelfAttention.q.weight", torch.zeros(32, 32)),
     r"unexpected keys: lm\.language_model\.encoder\.block\.1\.layer\.0\.SelfAttention\.q\.weight"),
    (lambda s: s.__setitem__("lm.lora_A.weight", torch.zeros(2, 2)), r"unexpected keys: lm\.lora_A\.weight"),
    (lambda s: s.__setitem__(LM + "lm_head.weight", s[LM + "lm_head.weight"][:-1]),
     r"wrong shapes: lm\.language_model\.lm_head\.weight \[\d+, 32\] \(expected \[\d+, 32\]\)"),
    (lambda s: s.pop("vae.decoder.model.6.bias"), r"missing keys: vae\.decoder\.model\.6\.bias"),
    (lambda s: s.__setitem__("vae.decoder.model.2.2.weight", torch.zeros(32, 32, 5)),
     r"wrong shapes: vae\.decoder\.model\.2\.2\.weight \[32, 32, 5\]"),
])
def test_mismatched_weights_name_the_file_and_the_key(tmp_path, table_file, t5_folder, edit, message):
    path = _edited(tmp_path, table_file, edit)
    with pytest.raises(ModelFileError, match=message) as error:
        load_motiongpt(path, t5_folder)
    assert str(error.value).startswith(path)


def test_bad_files_and_folders_are_refused_by_name(tmp_path, table_file, t5_folder):
    path, _ = table_file
    with pytest.raises(ModelFileError, match=r"t5_folder: .*nowhere is not a flan-t5-base folder \(no config\.json\)"):
        load_motiongpt(path, str(tmp_path / "nowhere"))
    with pytest.raises(ModelFileError, match=r"checkpoint: file not found: .*missing\.tar"):
        load_motiongpt(str(tmp_path / "missing.tar"), t5_folder)
    torch.save({"net": {"vqvae.x": torch.zeros(1)}}, tmp_path / "t2m.pth")
    with pytest.raises(ModelFileError, match=r"t2m\.pth: not a MotionGPT checkpoint .*'state_dict'.*net"):
        load_motiongpt(str(tmp_path / "t2m.pth"), t5_folder)
    no_vae = _edited(tmp_path, table_file, lambda s: [s.pop(k) for k in list(s) if k.startswith("vae.")])
    with pytest.raises(ModelFileError, match=r"edited\.tar: no motion VQ-VAE weights"):
        load_motiongpt(no_vae, t5_folder)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def test_pickled_code_is_never_run(tmp_path, table_file, t5_folder):
    marker = tmp_path / "ran"
    path = _edited(tmp_path, table_file, lambda s: s.__setitem__("lm.payload", _Payload(marker)))
    with pytest.raises(ModelFileError, match="pickles Python objects besides tensors"):
        load_motiongpt(path, t5_folder)
    assert not marker.exists()


# ----------------------------------------------------------------------------- prompts and decoding

def test_prompts_are_motiongpts():
    assert MOTIONGPT_PROMPTS["t2m"] == "Generate motion: <Caption_Placeholder>"
    assert MOTIONGPT_PROMPTS["m2t"] == "Generate text: <Motion_Placeholder>"
    assert MOTIONGPT_PROMPTS["predict"] == "Predict motion: <Motion_Placeholder_s1>"
    assert MOTIONGPT_PROMPTS["inbetween"] == "Complete the masked motion: <Motion_Placeholder_Masked>"


def test_answers_decode_the_motiongpt_way(table_file, t5_folder):
    vocabulary = load_motiongpt(table_file[0], t5_folder).vocabulary
    first, start, end, mask = (vocabulary.first_id, vocabulary.special_id(0, "start"), vocabulary.special_id(0, "end"),
                               vocabulary.special_id(0, "mask"))
    text = [0, 9, 10]  # decoder start, then words
    assert answer_codes(text + [start, first + 4, first + 511, end, 1], vocabulary) == ([4, 511], True)
    # the start token and the mask are clamped to the codebook (K - 1), text inside the span is skipped
    assert answer_codes([0, start, first + 2, start, mask, 9, end, first + 3, end], vocabulary) == ([2, 511, 511], True)
    assert answer_codes(text + [start, first + 4, 1], vocabulary) == ([0], False)  # no end: MotionGPT's fallback
    assert answer_codes(torch.tensor([0, start, end]), vocabulary) == ([0], False)
    assert motion_string([1, 2, 3], vocabulary, masked_steps=range(1, 2)) == \
        "<motion_id_512><motion_id_1><motion_id_514><motion_id_3><motion_id_513>"


# ----------------------------------------------------------------------------- generation

def _train(model, tokenizer, pairs, steps=300):
    """Teach the tiny T5 the two answers to MotionGPT's prompts (written here as literal strings)."""
    batch = tokenizer([p for p, _ in pairs], padding=True, return_tensors="pt")
    labels = tokenizer([a for _, a in pairs], padding=True, return_tensors="pt").input_ids
    labels[labels == tokenizer.pad_token_id] = -100
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if loss.item() < 1e-4:  # confident enough that sampling (top-k 50) repeats the answer
            break
    return model.eval(), loss.item()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, table_file, t5_folder, vae_state, mocap_dir):
    """(official MotionGPT whose tiny LM answers one t2m and one m2t prompt, the m2t motion, final loss)."""
    motion = read_motion(str(mocap_dir / "test_mocapbank.bvh"))
    motion = Motion(motion.joints[:60].clone(), motion.fps, motion.layout)  # 2 s at 30 fps: 9 codes at 20 fps
    vae = load_motiongpt(table_file[0], t5_folder).vae
    motion_codes = encode_motion(vae, motion).ids[:, 0].tolist()

    tokenizer = AutoTokenizer.from_pretrained(t5_folder, local_files_only=True)
    tokenizer.add_tokens([f"<motion_id_{k}>" for k in range(K + 3)])
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config(vocab_size=len(tokenizer), **{**TINY_T5, "dropout_rate": 0.0}))

    def as_string(codes):
        return "".join(f"<motion_id_{k}>" for k in (512, *codes, 513))

    # decoys: the same caption or motion without MotionGPT's instruction gets another answer, so a
    # loader that fills the prompts differently answers wrongly
    pairs = [("Generate motion: " + T2M_CAPTION, as_string(T2M_CODES)), (T2M_CAPTION, as_string(DECOY_CODES)),
             ("Generate text: " + as_string(motion_codes), M2T_CAPTION), (as_string(motion_codes), DECOY_CAPTION)]
    model, loss = _train(model, tokenizer, pairs)
    path = write_checkpoint(tmp_path_factory.mktemp("trained") / "motiongpt_s3_h3d.tar", model.state_dict(), vae_state)
    return load_motiongpt(path, t5_folder), motion, loss


def test_text_to_motion_samples_the_taught_codes_and_decodes_them(trained):
    official, _, loss = trained
    assert loss < 1e-3
    motion = generate_motion(official, T2M_CAPTION, seed=0)
    expected = decode_motion(official.vae, codes_to_tokens(T2M_CODES, official))
    assert motion.layout == "smpl_22" and motion.fps == 20.0 and motion.num_frames == 4 * len(T2M_CODES)
    assert torch.equal(motion.joints, expected.joints)
    assert torch.equal(generate_motion(official, T2M_CAPTION, seed=0).joints, motion.joints)


def test_motion_to_text_answers_greedily(trained):
    official, motion, _ = trained
    assert caption_motion(official, motion) == M2T_CAPTION


@pytest.mark.filterwarnings("ignore:MotionGPT's answer held no complete motion")  # the tiny LM was not taught this
def test_bad_text_is_refused_and_long_text_truncated_with_a_warning(trained):
    official, _, _ = trained
    for text in ("", "   ", None):
        with pytest.raises(InputError, match="^text: "):
            generate_motion(official, text)
    with pytest.warns(UserWarning, match=r"text: the prompt has \d+ tokens; MotionGPT reads the first 256"):
        motion = generate_motion(official, " ".join(["walks"] * 300), seed=1)
    assert motion.num_frames % 4 == 0
