"""Sliding-window attention against the dense masked reference, GEM's window rule, linear memory, RoPE."""

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.genmo.attention import (
    apply_rope,
    dense_attention,
    sliding_window_attention,
    window_mask,
)
from torch.utils._python_dispatch import TorchDispatchMode

TOLERANCE = 1e-5  # float32 SDPA on differently blocked inputs


def _qkv(batch, length, heads=2, dim=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(3, batch, heads, length, dim, generator=generator).unbind(0)


@pytest.mark.parametrize("window", [4, 5, 7, 8, 12, 16])
def test_sliding_window_matches_the_dense_reference_with_padding(window):
    generator = torch.Generator().manual_seed(window)
    for length in range(1, 51):
        q, k, v = _qkv(2, length, seed=length)
        key_mask = torch.rand(2, length, generator=generator) > 0.3
        key_mask[1] = True
        fast = sliding_window_attention(q, k, v, window, key_mask)
        reference = dense_attention(q, k, v, window_mask(length, window)[None, None] & key_mask[:, None, None, :])
        assert torch.allclose(fast, reference, atol=TOLERANCE), (length, window)
        assert torch.isfinite(fast).all()


def test_window_rule_is_gems_clamped_window():
    length, window = 30, 8
    mask = window_mask(length, window)
    assert mask[0].nonzero().flatten().tolist() == list(range(0, 8))  # clamped to a full window at the start
    assert mask[length - 1].nonzero().flatten().tolist() == list(range(22, 30))  # and at the end
    assert mask[12].nonzero().flatten().tolist() == list(range(8, 16))  # i - 4 .. i + 3 inside
    assert (mask.sum(1) == window).all()
    assert window_mask(6, 8).all() and window_mask(6, None).all()


def test_full_attention_when_the_window_covers_the_sequence():
    q, k, v = _qkv(1, 10)
    full = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert torch.allclose(sliding_window_attention(q, k, v, None), full, atol=TOLERANCE)
    assert torch.allclose(sliding_window_attention(q, k, v, 10), full, atol=TOLERANCE)
    assert torch.allclose(sliding_window_attention(q, k, v, 64), full, atol=TOLERANCE)


def test_queries_without_a_visible_key_give_zeros():
    q, k, v = _qkv(1, 20)
    key_mask = torch.zeros(1, 20, dtype=torch.bool)
    key_mask[0, 15:] = True
    out = sliding_window_attention(q, k, v, 4, key_mask)
    assert (out[:, :, :10] == 0).all() and out[:, :, 16:].abs().sum() > 0


class _LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an op returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(tensor, torch.Tensor):
                self.largest = max(self.largest, tensor.numel())
        return out


def test_no_length_squared_tensor_is_built():
    length, window = 1500, 16
    q, k, v = _qkv(1, length, heads=1, dim=4)
    key_mask = torch.ones(1, length, dtype=torch.bool)
    with _LargestTensor() as blocked:
        sliding_window_attention(q, k, v, window, key_mask)
    with _LargestTensor() as dense:  # the check itself sees an L x L tensor when there is one
        dense_attention(q, k, v, window_mask(length, window)[None, None])
    assert dense.largest >= length * length
    # the output and per-window [window, <= 2 window] masks: nothing bigger than q itself
    assert blocked.largest <= q.numel() < length * length


def test_bad_inputs_name_themselves():
    q, k, v = _qkv(1, 10)
    with pytest.raises(InputError, match="window"):
        sliding_window_attention(q, k, v, 0)
    with pytest.raises(InputError, match="key_mask"):
        sliding_window_attention(q, k, v, 4, torch.ones(1, 9, dtype=torch.bool))
    with pytest.raises(InputError, match="q"):
        sliding_window_attention(q[0], k[0], v[0], 4)


def test_rope_scores_depend_only_on_the_offset():
    generator = torch.Generator().manual_seed(1)
    q, k = torch.randn(2, 1, 1, 1, 16, generator=generator).unbind(0)
    def score(i, j):
        qi = apply_rope(q.expand(1, 1, 40, 16))[:, :, i]
        kj = apply_rope(k.expand(1, 1, 40, 16))[:, :, j]
        return (qi * kj).sum()
    assert torch.allclose(score(3, 1), score(30, 28), atol=1e-4)
    assert not torch.allclose(score(3, 1), score(3, 2), atol=1e-3)
    x = torch.randn(1, 2, 40, 16, generator=generator)
    assert torch.allclose(apply_rope(x).norm(dim=-1), x.norm(dim=-1), atol=1e-4)  # a rotation
    positions = torch.arange(10, 20)
    assert torch.allclose(apply_rope(x[:, :, 10:20], positions), apply_rope(x)[:, :, 10:20], atol=1e-6)
    assert torch.equal(apply_rope(x)[:, :, 0], x[:, :, 0])  # position 0 is not rotated
