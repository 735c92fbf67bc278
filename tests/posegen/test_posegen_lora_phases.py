"""LoRAs switched per segment kind on one shared backbone (PhaseLoras), adapters or re-merged."""

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.posegen.lora import PhaseLoras
from safetensors.torch import save_file

WIDTH, RANK = 8, 2


def backbone() -> torch.nn.Module:
    """The smallest model LoRA files resolve against: blocks.0.attn1.to_q."""
    torch.manual_seed(0)
    model = torch.nn.Module()
    model.blocks = torch.nn.ModuleList([torch.nn.Module()])
    model.blocks[0].attn1 = torch.nn.Module()
    model.blocks[0].attn1.to_q = torch.nn.Linear(WIDTH, WIDTH)
    return model.eval()


def write_lora(path, seed: int) -> tuple[str, torch.Tensor]:
    """A peft-named LoRA file and the product B @ A it adds to to_q's weight."""
    generator = torch.Generator().manual_seed(seed)
    down, up = torch.randn(RANK, WIDTH, generator=generator), torch.randn(WIDTH, RANK, generator=generator)
    save_file({"blocks.0.attn1.to_q.lora_A.weight": down, "blocks.0.attn1.to_q.lora_B.weight": up}, str(path))
    return str(path), up @ down


def query(model) -> torch.Tensor:
    with torch.no_grad():
        return model.blocks[0].attn1.to_q(torch.ones(1, WIDTH))


@pytest.fixture
def two_loras(tmp_path):
    return write_lora(tmp_path / "base.safetensors", 1), write_lora(tmp_path / "interp.safetensors", 2)


@pytest.mark.parametrize("mode", ["merge", "separate"])
def test_each_kind_gets_its_own_lora_and_switching_back_is_exact(two_loras, mode):
    (base_path, base_delta), (interp_path, interp_delta) = two_loras
    model = backbone()
    plain = query(model)
    loras = PhaseLoras(model, {"base": base_path, "interpolation": interp_path}, mode)
    assert loras.phase is None
    loras.select("base")
    first_base = query(model)
    torch.testing.assert_close(first_base - plain, torch.ones(1, WIDTH) @ base_delta.T, atol=1e-4, rtol=1e-4)
    loras.select("interpolation")
    assert loras.phase == "interpolation"
    torch.testing.assert_close(query(model) - plain, torch.ones(1, WIDTH) @ interp_delta.T, atol=1e-4, rtol=1e-4)
    loras.select("base")
    assert torch.equal(query(model), first_base)  # re-merged (or re-activated) bit for bit


@pytest.mark.parametrize("mode", ["merge", "separate"])
def test_a_kind_without_lora_runs_the_plain_backbone(two_loras, mode):
    (interp_path, interp_delta) = two_loras[1]
    model = backbone()
    plain = query(model)
    loras = PhaseLoras(model, {"interpolation": interp_path}, mode)
    loras.select("base")
    assert torch.equal(query(model), plain)
    loras.select("interpolation")
    torch.testing.assert_close(query(model) - plain, torch.ones(1, WIDTH) @ interp_delta.T, atol=1e-4, rtol=1e-4)
    loras.select("base")
    assert loras.phase == "base" and torch.equal(query(model), plain)


def test_without_loras_select_does_nothing():
    model = backbone()
    loras = PhaseLoras(model, {})
    loras.select("interpolation")
    assert loras.phase is None


@pytest.mark.parametrize("mode", ["merge", "separate"])
def test_an_interpolation_model_keeps_its_lora_for_good(two_loras, mode):
    (base_path, _), (interp_path, interp_delta) = two_loras
    model, interp = backbone(), backbone()
    plain = query(interp)
    loras = PhaseLoras.for_models(model, interp, base_path, interp_path, mode)
    assert loras.paths == {"base": base_path}
    torch.testing.assert_close(query(interp) - plain, torch.ones(1, WIDTH) @ interp_delta.T, atol=1e-4, rtol=1e-4)
    loras.select("interpolation")
    loras.select("base")
    torch.testing.assert_close(query(interp) - plain, torch.ones(1, WIDTH) @ interp_delta.T, atol=1e-4, rtol=1e-4)
    assert PhaseLoras.for_models(backbone(), None, None, interp_path, mode).paths == {"interpolation": interp_path}


def test_unknown_mode_is_refused():
    with pytest.raises(InputError, match="lora_mode"):
        PhaseLoras(backbone(), {}, "fused")
    with pytest.raises(InputError, match="lora_mode"):
        PhaseLoras.for_models(backbone(), None, None, None, "fused")
