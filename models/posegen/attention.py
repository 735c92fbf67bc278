"""Attention processors for PoseGen's background KV-sharing (see kv_share.py for the method).

Both processors keep diffusers' `WanAttnProcessor` call signature (attn, hidden_states,
encoder_hidden_states, attention_mask, rotary_emb) and tensor layout ([B, S, heads, head_dim]), hold
their `KVShareController` and block index, and hand over to the stock processor whenever the controller
has nothing to do at this step/block/branch. The self-attention input may be [video tokens, reference
tokens] (PoseGenTransformerBlock); `controller.num_video_tokens` says where the video part ends.
"""

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.transformers.transformer_wan import (
    WanAttention,
    WanAttnProcessor,
    _get_added_kv_projections,  # private in diffusers 0.42.1 (pinned); handles fused projections
    _get_qkv_projections,
)

from ..core.errors import InputError
from .kv_share import KVShareController, subject_attention_map

WAN_TEXT_TOKENS = 512  # diffusers' Wan processor splits image context off the same way


def apply_rotary_embedding(states: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs of the head dim, as diffusers' Wan processor does."""
    even, odd = states.unflatten(-1, (-1, 2)).unbind(-1)
    cos, sin = cos[..., 0::2], sin[..., 1::2]
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).flatten(-2)
    return rotated.type_as(states)


def _attend(processor, query, key, value, mask=None) -> torch.Tensor:
    return dispatch_attention_fn(
        query, key, value, attn_mask=mask, dropout_p=0.0, is_causal=False, backend=processor._attention_backend,
        parallel_config=None,
    )


class _ControlledProcessor:
    """A processor of one block that asks the controller what to do and otherwise runs the stock one."""

    _attention_backend = None
    _parallel_config = None

    def __init__(self, controller: KVShareController, block_index: int):
        self.controller = controller
        self.block_index = block_index
        self._stock = WanAttnProcessor()


class KVShareSelfAttnProcessor(_ControlledProcessor):
    """Self-attention that records the anchor's post-RoPE keys/values or attends to them."""

    def __call__(
        self,
        attn: WanAttention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        action = self.controller.self_attention_action(self.block_index)
        if action is None:
            self._stock._attention_backend = self._attention_backend
            return self._stock(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)

        query, key, value = _get_qkv_projections(attn, hidden_states, None)
        query = attn.norm_q(query).unflatten(2, (attn.heads, -1))
        key = attn.norm_k(key).unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))
        if rotary_emb is not None:
            query = apply_rotary_embedding(query, *rotary_emb)
            key = apply_rotary_embedding(key, *rotary_emb)

        output = _attend(self, query, key, value, attention_mask)
        num_video = self.controller.num_video_tokens
        has_reference = key.shape[1] > num_video
        if action == "record":
            self.controller.store_kv(
                self.block_index, key[:, :num_video], value[:, :num_video],
                key[:, num_video:] if has_reference else None, value[:, num_video:] if has_reference else None,
            )
        else:
            output = self._share(query, output, num_video)

        output = output.flatten(2, 3).type_as(query)
        output = attn.to_out[0](output)
        return attn.to_out[1](output)

    def _share(self, query: torch.Tensor, output: torch.Tensor, num_video: int) -> torch.Tensor:
        batch = query.shape[0]
        anchor_key, anchor_value, anchor_ref_key, anchor_ref_value = self.controller.anchor_kv(
            self.block_index, batch, query.device, query.dtype
        )
        keep_normal, anchor_subject = self.controller.normal_path_mask(self.block_index, batch, query.device)
        shared = []
        for b in range(batch):
            key, value = anchor_key[b], anchor_value[b]
            if self.controller.mask_subject_keys and not anchor_subject[b].all():
                # Dropping the anchor's subject keys equals masking them for every query, needs no
                # attention mask (so any attention backend, and no [S, S] bias) and is cheaper.
                key, value = key[~anchor_subject[b]], value[~anchor_subject[b]]
            if anchor_ref_key is not None:
                key = torch.cat([key, anchor_ref_key[b]])
                value = torch.cat([value, anchor_ref_value[b]])
            shared.append(_attend(self, query[b : b + 1, :num_video], key[None], value[None]))
        shared = torch.cat(shared).type_as(output)
        video = torch.where(keep_normal[:, :, None, None], output[:, :num_video], shared)
        return torch.cat([video, output[:, num_video:]], dim=1)


class SubjectMapCrossAttnProcessor(_ControlledProcessor):
    """Wan cross-attention that also reports the subject word's attention map to the controller."""

    def __call__(
        self,
        attn: WanAttention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        if not self.controller.wants_subject_map(self.block_index):
            self._stock._attention_backend = self._attention_backend
            return self._stock(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)

        image_context = None
        if attn.add_k_proj is not None:
            image_length = encoder_hidden_states.shape[1] - WAN_TEXT_TOKENS
            image_context = encoder_hidden_states[:, :image_length]
            encoder_hidden_states = encoder_hidden_states[:, image_length:]
        indices = self.controller.subject_token_indices
        if max(indices) >= encoder_hidden_states.shape[1]:
            raise InputError(
                "subject_token_indices", f"{indices} reach past the {encoder_hidden_states.shape[1]} text tokens"
            )

        query, key, value = _get_qkv_projections(attn, hidden_states, encoder_hidden_states)
        query = attn.norm_q(query).unflatten(2, (attn.heads, -1))
        key = attn.norm_k(key).unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))
        self.controller.add_subject_map(self.block_index, subject_attention_map(query, key, indices))

        output = _attend(self, query, key, value, attention_mask).flatten(2, 3).type_as(query)
        if image_context is not None:
            image_key, image_value = _get_added_kv_projections(attn, image_context)
            image_key = attn.norm_added_k(image_key).unflatten(2, (attn.heads, -1))
            image_value = image_value.unflatten(2, (attn.heads, -1))
            image_output = _attend(self, query, image_key, image_value).flatten(2, 3).type_as(query)
            output = output + image_output
        output = attn.to_out[0](output)
        return attn.to_out[1](output)


def is_kv_share_processor(processor: object) -> bool:
    return isinstance(processor, _ControlledProcessor)


def kv_share_processors(
    controller: KVShareController, current: dict[str, object], num_blocks: int
) -> dict[str, object]:
    """All `set_attn_processor` entries: the controller's blocks get KV-sharing processors, processors of
    an earlier controller go back to stock, any other processor stays."""
    processors = {
        name: WanAttnProcessor() if is_kv_share_processor(p) else p
        for name, p in current.items()
    }
    for block in range(*controller.blocks):
        if block < num_blocks:
            processors[f"blocks.{block}.attn1.processor"] = KVShareSelfAttnProcessor(controller, block)
    for block in range(*controller.mask_blocks):
        if block < num_blocks:
            processors[f"blocks.{block}.attn2.processor"] = SubjectMapCrossAttnProcessor(controller, block)
    return processors
