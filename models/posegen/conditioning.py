"""PoseGen conditioning: prompt embeddings, subject-word tokens, CLIP image features, VAE latents
and the Wan I2V frame mask.

Data types (documented once here):
- frames: IMAGE tensors [F,H,W,3] float 0..1 (ComfyUI's IMAGE); a reference image is [1,H,W,3].
- latents: [1,16,F_lat,h,w] normalised the way Wan's DiT sees them, ``(z - latents_mean) / latents_std``.
  diffusers' ``AutoencoderKLWan`` returns and expects *unnormalised* latents, so every encode and
  decode here applies the normalisation (never do it twice).
- F_lat = (F - 1) // 4 + 1, h = H / 8, w = W / 8 for the Wan2.1 VAE.
- the frame mask: [1,4,F_lat,h,w], 1 on frames that are given (kept), 0 on frames to generate.
"""

from __future__ import annotations

import re
import warnings

import torch
import torch.nn.functional as F

from ..core.errors import InputError, ModelFileError
from ..media.images import ASPECT_TOLERANCE, centre_crop

# OpenAI CLIP pixel statistics (ViT-H/14 of Wan's image encoder uses the same).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_PROMPT_TOKENS = 512  # Wan2.1's UMT5 context length


# --- text ---------------------------------------------------------------------------------------

def clean_prompt(text: str) -> str:
    """Collapse whitespace the way Wan's prompt cleaning does (ftfy/html fixing is not needed for typed text)."""
    return re.sub(r"\s+", " ", text).strip()


def _tokenize(tokenizer, prompt: str, max_length: int, offsets: bool = False):
    return tokenizer([prompt], padding="max_length", max_length=max_length, truncation=True,
                     add_special_tokens=True, return_attention_mask=True, return_tensors="pt",
                     return_offsets_mapping=offsets)


@torch.no_grad()
def encode_prompt(text_encoder, tokenizer, prompt: str, max_length: int = MAX_PROMPT_TOKENS) -> torch.Tensor:
    """UMT5 prompt embeddings [1,max_length,D] on the encoder's device, zero past the prompt's own
    tokens (as Wan was trained)."""
    inputs = _tokenize(tokenizer, clean_prompt(prompt), max_length)
    device = next(text_encoder.parameters()).device
    ids, mask = inputs.input_ids.to(device), inputs.attention_mask.to(device)
    hidden = text_encoder(ids, mask).last_hidden_state
    return hidden * mask[..., None].to(hidden.dtype)


def prompt_tokens(tokenizer, prompt: str, max_length: int = MAX_PROMPT_TOKENS) -> list[str]:
    """The prompt's tokens as the text encoder sees them (special tokens and padding left out)."""
    ids = _tokenize(tokenizer, clean_prompt(prompt), max_length).input_ids[0].tolist()
    special = set(getattr(tokenizer, "all_special_ids", []))
    return [tokenizer.convert_ids_to_tokens(i) for i in ids if i not in special]


def subject_token_indices(tokenizer, prompt: str, subject_word: str,
                          max_length: int = MAX_PROMPT_TOKENS) -> list[int]:
    """Positions of the tokens spelling ``subject_word`` (every whole-word occurrence) in the prompt.

    These are the text tokens whose cross-attention maps locate the subject for KV-sharing. Tokens
    are found by character offsets, so a word split into several sub-word pieces counts whole.
    """
    word = subject_word.strip()
    if not word:
        raise InputError("subject_word", "empty: expected the prompt's word for the person, e.g. 'woman'")
    if not getattr(tokenizer, "is_fast", False):  # character offsets need a fast (tokenizers) tokenizer
        raise ModelFileError(f"the text encoder's tokenizer ({type(tokenizer).__name__}) is not a fast tokenizer; "
                             "give a tokenizer folder with tokenizer.json")
    text = clean_prompt(prompt)
    spans = [m.span() for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags=re.IGNORECASE)]
    inputs = _tokenize(tokenizer, text, max_length, offsets=True)
    indices = []
    for position, (start, end) in enumerate(inputs["offset_mapping"][0].tolist()):
        if end > start and inputs.attention_mask[0, position] and any(start < e and end > s for s, e in spans):
            indices.append(position)
    if not indices:
        raise InputError("subject_word", f"{word!r} is not a word of the prompt; the prompt's tokens are "
                         f"{prompt_tokens(tokenizer, prompt, max_length)}")
    return indices


# --- images -------------------------------------------------------------------------------------

def _check_frames(frames: torch.Tensor, name: str) -> None:
    if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.shape[-1] not in (3, 4):
        shape = list(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise InputError(name, f"expected an IMAGE batch [B,H,W,3], got {shape}")
    if frames.shape[0] == 0:
        raise InputError(name, "empty batch: expected at least one frame")


def _resize(frames: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """[F,H,W,3] -> [F,height,width,3] (area filter when shrinking, bilinear when growing)."""
    if frames.shape[1:3] == (height, width):
        return frames[..., :3].float()
    x = frames[..., :3].float().permute(0, 3, 1, 2)
    shrink = height < frames.shape[1] and width < frames.shape[2]
    x = F.interpolate(x, size=(height, width), mode="area" if shrink else "bilinear",
                      align_corners=None if shrink else False)
    return x.clamp(0, 1).permute(0, 2, 3, 1)


def fit_driving_frames(frames: torch.Tensor, width: int, height: int, name: str,
                       check_aspect: bool = True) -> torch.Tensor:
    """Resize pose or hand-normal frames to the output size; a different aspect ratio is an error,
    because stretching a skeleton changes the motion it describes. ``check_aspect`` False: the size
    came from these frames rounded to the pixel grid (a stretch of less than 16 pixels)."""
    _check_frames(frames, name)
    source = frames.shape[2] / frames.shape[1]
    if check_aspect and abs(source / (width / height) - 1) > ASPECT_TOLERANCE:
        raise InputError(name, f"frames are {frames.shape[2]}x{frames.shape[1]} (aspect {source:.3f}) but the "
                         f"output is {width}x{height} (aspect {width / height:.3f}); render the poses at the "
                         "output's aspect ratio or leave width/height at 0 to follow the poses")
    return _resize(frames, width, height)


def fit_reference(image: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Reference image [1,H,W,3] -> [1,height,width,3]. A different aspect ratio is centre-cropped
    (with a warning) rather than stretched, so the subject keeps its proportions."""
    _check_frames(image, "reference_image")
    image = image[:1]
    h, w = image.shape[1:3]
    crop = centre_crop((w, h), width, height)
    if crop is not None:
        x0, y0, crop_w, crop_h = crop
        image = image[:, y0:y0 + crop_h, x0:x0 + crop_w]
        warnings.warn(f"reference_image: {w}x{h} centre-cropped to the output aspect {width}x{height}", stacklevel=2)
    return _resize(image, width, height)


def output_size(pose_frames: torch.Tensor, width: int, height: int, multiple: int = 16) -> tuple[int, int]:
    """(width, height) to generate: the given size, or the pose frames' size when 0, rounded down to
    the DiT's pixel grid (VAE factor 8 x patch 2 = 16)."""
    _check_frames(pose_frames, "pose_frames")
    if width == 0 and height == 0:
        height, width = pose_frames.shape[1:3]
    elif width == 0 or height == 0:
        raise InputError("width" if width == 0 else "height", "set both width and height, or both to 0")
    rounded = (width // multiple * multiple, height // multiple * multiple)
    if min(rounded) < multiple:
        raise InputError("width", f"{width}x{height} is too small: at least {multiple}x{multiple}")
    return rounded


def clip_pixels(image: torch.Tensor, size: int) -> torch.Tensor:
    """[1,H,W,3] 0..1 -> CLIP pixel_values [1,3,size,size]: shorter side to size (bicubic), centre crop,
    normalised with CLIP statistics (the clip_vision files ship without a processor)."""
    x = image[..., :3].float().permute(0, 3, 1, 2)
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    x = F.interpolate(x, size=(max(size, round(h * scale)), max(size, round(w * scale))), mode="bicubic",
                      align_corners=False, antialias=True)
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    x = x[..., top:top + size, left:left + size].clamp(0, 1)
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def encode_clip_image(clip_vision, image: torch.Tensor) -> torch.Tensor:
    """CLIP vision features of the reference image: the penultimate hidden states [1,257,1280] (Wan I2V)."""
    param = next(clip_vision.parameters())
    pixels = clip_pixels(image, clip_vision.config.image_size).to(param.device, param.dtype)
    return clip_vision(pixel_values=pixels, output_hidden_states=True).hidden_states[-2]


# --- VAE ----------------------------------------------------------------------------------------

def _latent_stats(vae, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    z = vae.config.z_dim
    mean = torch.tensor(vae.config.latents_mean, dtype=like.dtype, device=like.device).view(1, z, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, dtype=like.dtype, device=like.device).view(1, z, 1, 1, 1)
    return mean, std


@torch.no_grad()
def vae_encode(vae, frames: torch.Tensor) -> torch.Tensor:
    """Frames [F,H,W,3] 0..1 -> normalised latents [1,16,(F-1)//4+1,H/8,W/8] (distribution mode, float32)
    on the VAE's device."""
    param = next(vae.parameters())
    video = frames[..., :3].permute(3, 0, 1, 2)[None].to(param.device, param.dtype) * 2 - 1
    latent = vae.encode(video).latent_dist.mode().float()
    mean, std = _latent_stats(vae, latent)
    return (latent - mean) / std


@torch.no_grad()
def vae_decode(vae, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latents [1,16,F_lat,h,w] -> frames [F,H,W,3] float 0..1 on the CPU."""
    param = next(vae.parameters())
    mean, std = _latent_stats(vae, latents.float())
    video = vae.decode((latents.float() * std + mean).to(param.device, param.dtype), return_dict=False)[0]
    return video[0].float().add(1).div(2).clamp(0, 1).permute(1, 2, 3, 0).cpu()


def latent_frames(num_frames: int, temporal_factor: int = 4) -> int:
    if (num_frames - 1) % temporal_factor:
        raise InputError("segment_length", f"{num_frames} frames: Wan's VAE needs 4k+1 frames (e.g. 81)")
    return (num_frames - 1) // temporal_factor + 1


def frame_mask(known: torch.Tensor, latent_height: int, latent_width: int, temporal_factor: int = 4) -> torch.Tensor:
    """Wan I2V's 4-channel mask from per-pixel-frame flags (1 = given frame, kept; 0 = generated).

    The first frame is repeated ``temporal_factor`` times so that every latent frame covers
    ``temporal_factor`` pixel frames; those become the mask's channels: [1,4,F_lat,h,w].
    """
    flags = known.float().flatten()
    latent_frames(len(flags), temporal_factor)
    flags = torch.cat([flags[:1].repeat(temporal_factor), flags[1:]])
    mask = flags.view(-1, temporal_factor).T  # [4, F_lat]
    return mask[None, :, :, None, None].expand(1, temporal_factor, mask.shape[1], latent_height,
                                                latent_width).contiguous()
