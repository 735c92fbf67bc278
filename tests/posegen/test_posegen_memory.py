"""The block-swap lifecycle around one sampling run (block_swapped)."""

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.posegen.memory import block_swapped, resident_bytes


def model() -> torch.nn.Module:
    """blocks, another child and a parameter of its own, as PoseGenTransformer has."""
    module = torch.nn.Module()
    module.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(4)])
    module.head = torch.nn.Linear(4, 2)
    module.scale_shift_table = torch.nn.Parameter(torch.zeros(2, 4))
    return module


def devices(module) -> set[str]:
    return {p.device.type for p in module.parameters()}


@pytest.mark.parametrize("fails", [False, True])
def test_swap_is_attached_while_sampling_and_the_device_is_given_back(fails):
    # The meta device stands for the offload device: on leaving every weight must be there.
    transformer, asked = model(), []
    with pytest.raises(KeyboardInterrupt) if fails else torch.no_grad():
        with block_swapped(transformer, 2, "cpu", "meta", make_room=asked.append):
            assert asked == [resident_bytes(transformer, 2)]
            assert [devices(b) for b in transformer.blocks] == [{"cpu"}, {"cpu"}, {"meta"}, {"meta"}]
            assert devices(transformer.head) == {"cpu"} and transformer.scale_shift_table.device.type == "cpu"
            assert [len(b._forward_pre_hooks) for b in transformer.blocks] == [0, 0, 1, 1]
            if fails:
                raise KeyboardInterrupt  # an interrupted run gives the device back too
    assert devices(transformer) == {"meta"}
    assert all(not b._forward_pre_hooks and not b._forward_hooks for b in transformer.blocks)


def test_no_swap_leaves_the_model_alone():
    transformer, asked = model(), []
    with block_swapped(transformer, 0, "meta", "meta", make_room=asked.append):
        pass
    assert asked == [] and devices(transformer) == {"cpu"}


def test_too_many_blocks_are_refused():
    with pytest.raises(InputError, match="block_swap"):
        with block_swapped(model(), 5, "cpu"):
            pass
