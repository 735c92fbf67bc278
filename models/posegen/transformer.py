"""PoseGen's denoiser: diffusers' Wan2.1 transformer with in-context reference tokens and hand normals.

Data types (all torch tensors, batch first, latents in the normalised VAE space):
- hidden_states [B, 36, F, H, W]: noisy video latent 16 ch + frame mask 4 ch + pose-skeleton latent 16 ch
  (the Wan2.1-I2V channel recipe; the stock `patch_embedding` embeds all 36).
- reference_latents [B, 16, 1, Hr, Wr]: the reference image's latent; its own patchifier turns it into
  tokens that join the video tokens inside every self-attention only (timestep-0 modulation, shifted
  RoPE, no cross-attention, dropped before the head).
- hand_latents [B, 16, F, H, W]: hand-normal video latent; its own zero-initialised patchifier's output
  is added to the video patch tokens.
- output: predicted flow/noise [B, 16, F, H, W].

With no reference and no hand latents the forward is exactly the stock `WanTransformer3DModel` forward.
"""

from typing import Any

import torch
import torch.nn as nn
from diffusers.configuration_utils import register_to_config
from diffusers.models.modeling_outputs import Transformer2DModelOutput
from diffusers.models.transformers.transformer_wan import WanAttnProcessor, WanTransformer3DModel, WanTransformerBlock
from diffusers.utils import apply_lora_scale

from ..core.errors import InputError
from .attention import is_kv_share_processor, kv_share_processors
from .kv_share import KVShareController
from .rope import reference_rotary_embedding

LATENT_CHANNELS = 16


class PoseGenTransformerBlock(WanTransformerBlock):
    """A Wan block that also carries reference tokens: they share self-attention and the FFN with the
    video tokens (own AdaLN modulation), and skip cross-attention."""

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        temb: torch.Tensor,
        rotary_emb: tuple[torch.Tensor, torch.Tensor],
        reference_states: torch.Tensor | None = None,
        reference_temb: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """`rotary_emb` covers the video tokens followed by the reference tokens when these are given."""
        if reference_states is None:
            return super().forward(hidden_states, encoder_hidden_states, temb, rotary_emb)

        video_mod = (self.scale_shift_table + temb.float()).chunk(6, dim=1)
        ref_mod = (self.scale_shift_table + reference_temb.float()).chunk(6, dim=1)

        def modulate(states: torch.Tensor, norm: nn.Module, shift: torch.Tensor, scale: torch.Tensor):
            return (norm(states.float()) * (1 + scale) + shift).type_as(states)

        # 1. Joint self-attention over [video, reference]; the processor sees one sequence.
        num_video = hidden_states.shape[1]
        joint = torch.cat(
            [modulate(hidden_states, self.norm1, video_mod[0], video_mod[1]),
             modulate(reference_states, self.norm1, ref_mod[0], ref_mod[1])],
            dim=1,
        )
        attn_output = self.attn1(joint, None, None, rotary_emb)
        video_attn, ref_attn = attn_output[:, :num_video], attn_output[:, num_video:]
        hidden_states = (hidden_states.float() + video_attn * video_mod[2]).type_as(hidden_states)
        reference_states = (reference_states.float() + ref_attn * ref_mod[2]).type_as(reference_states)

        # 2. Cross-attention: video tokens only.
        norm_hidden_states = self.norm2(hidden_states.float()).type_as(hidden_states)
        hidden_states = hidden_states + self.attn2(norm_hidden_states, encoder_hidden_states, None, None)

        # 3. Feed-forward, shared weights, each token set with its own modulation.
        video_ff = self.ffn(modulate(hidden_states, self.norm3, video_mod[3], video_mod[4]))
        ref_ff = self.ffn(modulate(reference_states, self.norm3, ref_mod[3], ref_mod[4]))
        hidden_states = (hidden_states.float() + video_ff.float() * video_mod[5]).type_as(hidden_states)
        reference_states = (reference_states.float() + ref_ff.float() * ref_mod[5]).type_as(reference_states)
        return hidden_states, reference_states


class PoseGenTransformer(WanTransformer3DModel):
    """Wan2.1 transformer plus PoseGen's reference patchifier (`ref_patch_embedding`) and zero-initialised
    hand-normal patchifier (`hand_patch_embedding`; with `use_hand_projection` it is Conv3d followed by a
    zero-initialised 1x1x1 Conv3d, keys `.0`/`.1`, the paper's appendix variant)."""

    _no_split_modules = ["PoseGenTransformerBlock", "WanTransformerBlock"]
    _repeated_blocks = ["PoseGenTransformerBlock"]
    _cp_plan = None  # context parallelism would split the joint video+reference sequence wrongly

    @register_to_config
    def __init__(
        self,
        patch_size: tuple[int, ...] = (1, 2, 2),
        num_attention_heads: int = 40,
        attention_head_dim: int = 128,
        in_channels: int = 36,
        out_channels: int = 16,
        text_dim: int = 4096,
        freq_dim: int = 256,
        ffn_dim: int = 13824,
        num_layers: int = 40,
        cross_attn_norm: bool = True,
        qk_norm: str | None = "rms_norm_across_heads",
        eps: float = 1e-6,
        image_dim: int | None = 1280,
        added_kv_proj_dim: int | None = 5120,
        rope_max_seq_len: int = 1024,
        pos_embed_seq_len: int | None = None,
        use_reference: bool = True,
        use_hand: bool = True,
        use_hand_projection: bool = False,
    ) -> None:
        super().__init__(
            patch_size=patch_size, num_attention_heads=num_attention_heads,
            attention_head_dim=attention_head_dim, in_channels=in_channels, out_channels=out_channels,
            text_dim=text_dim, freq_dim=freq_dim, ffn_dim=ffn_dim, num_layers=num_layers,
            cross_attn_norm=cross_attn_norm, qk_norm=qk_norm, eps=eps, image_dim=image_dim,
            added_kv_proj_dim=added_kv_proj_dim, rope_max_seq_len=rope_max_seq_len,
            pos_embed_seq_len=pos_embed_seq_len,
        )
        # The subclass adds a forward, no parameters: re-classing the stock blocks avoids building the
        # 40 blocks of a 14B model twice.
        for block in self.blocks:
            block.__class__ = PoseGenTransformerBlock

        inner_dim = num_attention_heads * attention_head_dim
        patch = tuple(patch_size)
        self.ref_patch_embedding = (
            nn.Conv3d(LATENT_CHANNELS, inner_dim, kernel_size=patch, stride=patch) if use_reference else None
        )
        self.hand_patch_embedding = None
        if use_hand:
            conv = nn.Conv3d(LATENT_CHANNELS, inner_dim, kernel_size=patch, stride=patch)
            if use_hand_projection:
                projection = nn.Conv3d(inner_dim, inner_dim, kernel_size=1)
                nn.init.zeros_(projection.weight)
                nn.init.zeros_(projection.bias)
                self.hand_patch_embedding = nn.Sequential(conv, projection)
            else:
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)
                self.hand_patch_embedding = conv

    @torch.no_grad()
    def init_reference_patch_embedding(self) -> None:
        """Copy the noisy-latent part of `patch_embedding` into `ref_patch_embedding` (the paper's
        initialisation before fine-tuning)."""
        if self.ref_patch_embedding is None:
            raise InputError("use_reference", "the model was built without a reference patchifier")
        self.ref_patch_embedding.weight.copy_(self.patch_embedding.weight[:, :LATENT_CHANNELS])
        self.ref_patch_embedding.bias.copy_(self.patch_embedding.bias)

    def _check_inputs(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        reference_latents: torch.Tensor | None,
        hand_latents: torch.Tensor | None,
    ) -> None:
        if hidden_states.ndim != 5 or hidden_states.shape[1] != self.config.in_channels:
            raise InputError(
                "hidden_states", f"expected [B, {self.config.in_channels}, F, H, W], got {tuple(hidden_states.shape)}"
            )
        batch, _, frames, height, width = hidden_states.shape
        p_t, p_h, p_w = self.config.patch_size
        if frames % p_t or height % p_h or width % p_w:
            raise InputError("hidden_states", f"F, H, W must be multiples of the patch size {tuple(self.config.patch_size)}")
        if timestep.ndim != 1 or timestep.shape[0] != batch:
            raise InputError("timestep", f"expected shape [{batch}], got {tuple(timestep.shape)}")
        if reference_latents is not None:
            if self.ref_patch_embedding is None:
                raise InputError("reference_latents", "this model was built with use_reference=False")
            shape = tuple(reference_latents.shape)
            if (reference_latents.ndim != 5 or shape[0] not in (1, batch) or shape[1] != LATENT_CHANNELS
                    or shape[2] != 1 or shape[3] % p_h or shape[4] % p_w):
                raise InputError(
                    "reference_latents",
                    f"expected [{batch} or 1, {LATENT_CHANNELS}, 1, H, W] with H, W multiples of the patch, got {shape}",
                )
        if hand_latents is not None:
            if self.hand_patch_embedding is None:
                raise InputError("hand_latents", "this model was built with use_hand=False")
            expected = (batch, LATENT_CHANNELS, frames, height, width)
            if tuple(hand_latents.shape) != expected:
                raise InputError("hand_latents", f"expected {expected}, got {tuple(hand_latents.shape)}")

    def _timestep_modulation(self, timestep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The [B, 6, inner_dim] AdaLN modulation for a timestep, computed as the condition embedder does."""
        embedder = self.condition_embedder
        projected = embedder.timesteps_proj(timestep)
        projected = projected.to(next(embedder.time_embedder.parameters()).dtype)
        temb = embedder.time_embedder(projected).to(dtype)
        return embedder.time_proj(embedder.act_fn(temb)).unflatten(1, (6, -1))

    def _attach_kv_share(self, controller: KVShareController) -> None:
        if getattr(self, "_kv_share_controller", None) is controller:
            return
        self.detach_kv_share()  # another controller's processors go first, so the originals are what we keep
        current = self.attn_processors
        # Remembered so detach_kv_share restores exactly what was there (a custom processor too).
        self._processors_before_kv_share = dict(current)
        self.set_attn_processor(kv_share_processors(controller, current, len(self.blocks)))
        self._kv_share_controller = controller

    def detach_kv_share(self) -> None:
        """Put back the attention processors a KV-sharing controller replaced (no-op when none is attached).

        The sampler calls this when a generation ends, so the model is plain PoseGen again for whoever
        uses it next, and the controller (with its cache) is no longer referenced by the model."""
        if getattr(self, "_kv_share_controller", None) is None:
            return
        before = getattr(self, "_processors_before_kv_share", {})
        processors = {}
        for name, processor in self.attn_processors.items():
            if is_kv_share_processor(processor):
                restored = before.get(name) or WanAttnProcessor()
                # An attention backend chosen while sharing was attached carries over.
                restored._attention_backend = processor._attention_backend
                processor = restored
            processors[name] = processor
        self.set_attn_processor(processors)
        self._kv_share_controller = None
        self._processors_before_kv_share = {}

    @apply_lora_scale("attention_kwargs")
    def forward(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_hidden_states_image: torch.Tensor | None = None,
        reference_latents: torch.Tensor | None = None,
        hand_latents: torch.Tensor | None = None,
        kv_share: KVShareController | None = None,
        attention_kwargs: dict[str, Any] | None = None,
        return_dict: bool = False,
    ) -> tuple[torch.Tensor] | Transformer2DModelOutput:
        self._check_inputs(hidden_states, timestep, reference_latents, hand_latents)
        batch, _, frames, height, width = hidden_states.shape
        p_t, p_h, p_w = self.config.patch_size
        grid = (frames // p_t, height // p_h, width // p_w)

        rotary_emb = self.rope(hidden_states)
        tokens = self.patch_embedding(hidden_states)
        if hand_latents is not None:
            tokens = tokens + self.hand_patch_embedding(hand_latents.to(tokens.dtype))
        tokens = tokens.flatten(2).transpose(1, 2).contiguous()
        num_video_tokens = tokens.shape[1]

        temb, timestep_proj, encoder_hidden_states, encoder_hidden_states_image = self.condition_embedder(
            timestep, encoder_hidden_states, encoder_hidden_states_image
        )
        timestep_proj = timestep_proj.unflatten(1, (6, -1))
        if encoder_hidden_states_image is not None:
            encoder_hidden_states = torch.concat([encoder_hidden_states_image, encoder_hidden_states], dim=1)

        reference_states = reference_temb = None
        if reference_latents is not None:
            ref_tokens = self.ref_patch_embedding(reference_latents.to(tokens.dtype))
            ref_grid = tuple(ref_tokens.shape[2:])
            reference_states = ref_tokens.flatten(2).transpose(1, 2).expand(batch, -1, -1).contiguous()
            reference_temb = self._timestep_modulation(torch.zeros_like(timestep), timestep_proj.dtype)
            ref_cos, ref_sin = reference_rotary_embedding(self.rope, ref_grid, device=rotary_emb[0].device)
            rotary_emb = (torch.cat([rotary_emb[0], ref_cos], dim=1), torch.cat([rotary_emb[1], ref_sin], dim=1))

        if kv_share is not None:
            self._attach_kv_share(kv_share)
            kv_share.begin_forward(batch, grid, num_video_tokens, len(self.blocks))
        try:
            for block in self.blocks:
                args = (tokens, encoder_hidden_states, timestep_proj, rotary_emb)
                if reference_states is not None:
                    args = args + (reference_states, reference_temb)
                if torch.is_grad_enabled() and self.gradient_checkpointing:
                    out = self._gradient_checkpointing_func(block, *args)
                else:
                    out = block(*args)
                if reference_states is not None:
                    tokens, reference_states = out
                else:
                    tokens = out
        finally:
            if kv_share is not None:
                kv_share.end_forward()

        shift, scale = (self.scale_shift_table.to(temb.device) + temb.unsqueeze(1)).chunk(2, dim=1)
        tokens = (self.norm_out(tokens.float()) * (1 + scale) + shift).type_as(tokens)
        tokens = self.proj_out(tokens)
        tokens = tokens.reshape(batch, *grid, p_t, p_h, p_w, -1)
        output = tokens.permute(0, 7, 1, 4, 2, 5, 3, 6).flatten(6, 7).flatten(4, 5).flatten(2, 3)
        if not return_dict:
            return (output,)
        return Transformer2DModelOutput(sample=output)
