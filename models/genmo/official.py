"""NVIDIA's GEM checkpoint (``gem_smpl.ckpt``, HF nvidia/GEM-X) loaded into our ``GenmoDenoiser``.

The file is a PyTorch Lightning checkpoint: ``{"state_dict": {name: tensor}, ...}``, read with
``torch.load(weights_only=True)`` (nothing in it is run). Keys may all carry a ``model.`` prefix
(GEM's ckpt_compat strips it; so do we). Layout (GEM's ``GEM`` LightningModule):

- the denoiser under ``pipeline.denoiser3d.denoiser.``: ``blocks.N``, ``text_encoder_layers.N``,
  ``embed_text``, ``embed_timestep.time_embed``, ``final_layer``, ``pred_cam_head``,
  ``static_conf_head``, ``add_cond_linear``. Our modules carry the same names and inner layouts,
  so ``GEM_KEY_MAP`` is a prefix strip.
- the condition embedders at the top level (``learned_pos_linear``, ``learned_pos_params``,
  ``embed_noisyobs``, ``cliffcam_embedder``, ``music_embedder``, ``cond_exists_embedder.<key>``);
  GEM's ckpt_compat may also have written a copy under the denoiser prefix: the top-level copy wins
  and the other is ignored.

Ignored (``GEM_IGNORED``): the fixed sinusoid tables GEM stores as frozen parameters
(``sequence_pos_encoder.pe``, ``embed_timestep.sequence_pos_encoder.pe``,
``text_encoder_layers.N.motion_pos_encoder.pe``: we compute the same sinusoids), prefixes GEM itself
drops (body model, endecoder, feature extractor, text encoder), and the modalities we have no input
for: image features (``imgseq_embedder``), camera angular / translational velocity
(``cam_angvel_embedder``, ``cam_t_vel_embedder``) and raw audio (``audio_encoder``,
``audio_embedder``). Absent, GEM's additive fusion still adds each one's exists embedder applied to
(zeros, flag 0): that constant is computed from their ``cond_exists_embedder.<key>`` weights and
stored in our ``absent_condition_bias``, so the loaded denoiser adds exactly what GEM adds when
those inputs are missing.

Everything else must match ``GenmoDenoiser(config)``'s state exactly: a missing, unexpected or
mis-shaped key is one ``ModelFileError`` naming it.
"""

from __future__ import annotations

import os
import re

import torch
import torch.nn.functional as F

from ..core.checkpoint import check_state_dict
from ..core.errors import ModelFileError
from .denoiser import GenmoConfig, GenmoDenoiser

GEM_DENOISER_PREFIX = "pipeline.denoiser3d.denoiser."
LIGHTNING_MODEL_PREFIX = "model."

# checkpoint prefix -> our state-dict prefix
GEM_KEY_MAP = {
    **{GEM_DENOISER_PREFIX + name: name for name in (
        "blocks.", "text_encoder_layers.", "embed_text.", "embed_timestep.time_embed.", "final_layer.",
        "pred_cam_head.", "static_conf_head.", "add_cond_linear.")},
    **{name: name for name in (
        "learned_pos_linear.", "learned_pos_params", "embed_noisyobs.", "cliffcam_embedder.", "music_embedder.",
        "cond_exists_embedder.f_cliffcam.", "cond_exists_embedder.encoded_music.")},
}

# GEM modalities we have no input for; their exists embedders make ``absent_condition_bias``
ABSENT_MODALITIES = ("f_imgseq", "f_cam_angvel", "f_cam_t_vel", "encoded_audio")

GEM_IGNORED = (
    re.compile(r"^(pipeline\.denoiser3d\.denoiser\.)?(sequence_pos_encoder|embed_timestep\.sequence_pos_encoder"
               r"|text_encoder_layers\.\d+\.motion_pos_encoder)\.pe$"),
    re.compile(r"^(pipeline\.endecoder|pipeline\.denoiser3d\.endecoder|endecoder|body_model|feature_extractor"
               r"|text_encoder)\."),
    re.compile(r"^(pipeline\.denoiser3d\.denoiser\.)?(imgseq_embedder|cam_angvel_embedder|cam_t_vel_embedder"
               r"|audio_encoder|audio_embedder)\."),
    re.compile(r"^(pipeline\.denoiser3d\.denoiser\.)?cond_exists_embedder\.(" + "|".join(ABSENT_MODALITIES) + r")\."),
)


def load_gem_state(path: str) -> dict[str, torch.Tensor]:
    """The Lightning ``state_dict`` of a GEM checkpoint, ``model.`` prefix stripped."""
    if not os.path.isfile(path):
        raise ModelFileError(f"GEM checkpoint: file not found: {path!r} (gem_smpl.ckpt from HF nvidia/GEM-X)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - not a torch file, truncated, pickled objects beyond tensors
        raise ModelFileError(f"{path}: not a readable GEM checkpoint (torch.load with weights_only): "
                             f"{str(error).splitlines()[0][:300]}") from error
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        found = ", ".join(map(str, list(checkpoint)[:6])) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ModelFileError(f"{path}: not a GEM Lightning checkpoint (expected a dict with 'state_dict'; "
                             f"found {found})")
    state = checkpoint["state_dict"]
    if state and all(key.startswith(LIGHTNING_MODEL_PREFIX) for key in state):
        state = {key[len(LIGHTNING_MODEL_PREFIX):]: value for key, value in state.items()}
    return state


def is_gem_state(state: dict) -> bool:
    """Whether a state dict looks like GEM's (its denoiser blocks under the Lightning pipeline prefix)."""
    return any(key.startswith(GEM_DENOISER_PREFIX + "blocks.") for key in state)


def gem_to_genmo_state(state: dict[str, torch.Tensor], width: int) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(our state dict, keys that matched no rule) from a GEM state dict (module docstring)."""
    mapped, unknown = {}, []
    for key, value in state.items():
        if any(rule.search(key) for rule in GEM_IGNORED):
            continue
        ours = _map_key(key)
        if ours is None:
            unknown.append(key)
        elif not (key.startswith(GEM_DENOISER_PREFIX) and ours in mapped):  # else ckpt_compat's copy of a top-level one
            mapped[ours] = value
    mapped["absent_condition_bias"] = _absent_condition_bias(state, width)
    return mapped, unknown


def load_gem_denoiser(path: str, config: GenmoConfig | None = None) -> GenmoDenoiser:
    """A ``GenmoDenoiser`` (``GenmoConfig.gem()`` unless given) holding a GEM checkpoint's weights, in eval mode."""
    config = config or GenmoConfig.gem()
    state = load_gem_state(path)
    if not is_gem_state(state):
        raise ModelFileError(f"{path}: no GEM denoiser weights (no key under {GEM_DENOISER_PREFIX}blocks.)")
    with torch.device("meta"):  # shapes only: the file provides every tensor (no 300M-parameter random init)
        model = GenmoDenoiser(config)
    mapped, unknown = gem_to_genmo_state(state, config.width)
    if unknown:
        more = f" (+{len(unknown) - 3} more)" if len(unknown) > 3 else ""
        raise ModelFileError(f"{path}: weights do not match GEM's denoiser: unexpected keys: "
                             f"{', '.join(unknown[:3])}{more}")
    check_state_dict(model.state_dict(), mapped, path, f"GEM's denoiser at {config.width} wide, {config.layers} layers")
    model.load_state_dict({k: v.float() for k, v in mapped.items()}, assign=True)
    return model.eval()


def _map_key(key: str) -> str | None:
    for source, ours in GEM_KEY_MAP.items():
        if key.startswith(source):
            return ours + key[len(source):]
        if not source.startswith(GEM_DENOISER_PREFIX) and key.startswith(GEM_DENOISER_PREFIX + source):
            return ours + key[len(GEM_DENOISER_PREFIX + source):]
    return None


def _absent_condition_bias(state: dict[str, torch.Tensor], width: int) -> torch.Tensor:
    """Sum over GEM's absent modalities of cond_exists_embedder.<key>(zeros, flag 0) (Linear-SiLU-Linear)."""
    total = torch.zeros(width)
    for modality in ABSENT_MODALITIES:
        for prefix in ("", GEM_DENOISER_PREFIX):
            base = f"{prefix}cond_exists_embedder.{modality}."
            names = [base + n for n in ("0.weight", "0.bias", "2.weight", "2.bias")]
            if all(name in state for name in names):
                first_bias, second_weight, second_bias = (state[n].float() for n in names[1:])
                if second_weight.shape != (width, width):
                    raise ModelFileError(f"GEM checkpoint: {names[2]} is {list(second_weight.shape)}, expected "
                                         f"[{width}, {width}]")
                total = total + F.linear(F.silu(first_bias), second_weight, second_bias)  # W1 @ 0 = 0
                break
    return total
