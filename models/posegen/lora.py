"""LoRA files on the Wan/PoseGen transformer, through peft: kept as active adapters or merged, and
removable with the original outputs restored exactly.

Accepted key layouts of a LoRA file (``.safetensors`` or torch pickle), in diffusers or Wan's
original module names (see :mod:`.loading`), optionally prefixed ``transformer.``,
``diffusion_model.``, ``model.diffusion_model.``, ``base_model.model.`` or ``pipe.dit.``:

* peft / diffusers: ``blocks.0.attn1.to_q.lora_A.weight`` + ``lora_B`` (adapter name allowed between);
* original / ComfyUI / musubi: ``blocks.0.self_attn.q.lora_down.weight`` + ``lora_up`` + optional
  ``alpha`` (scale alpha / rank, else 1);
* kohya flat names: ``lora_unet_blocks_0_self_attn_q.lora_down.weight`` (resolved against the model).

The file's alpha/rank scale and the user's ``strength`` are folded into ``lora_B``, so every adapter
runs at peft scaling 1 whatever its rank. Merging keeps a copy of each touched base weight (on
``backup_device``, as ComfyUI's patcher does) so :func:`unload_lora` restores the weights bit for bit.

:class:`PhaseLoras` gives each PoseGen segment kind ("base", "interpolation") its own LoRA on one
shared backbone and switches between them per segment: active peft adapters switched (``separate``),
or the previous LoRA unloaded exactly and the next merged (``merge``).
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn
from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict
from peft.tuners.lora import LoraLayer

from ..core.errors import InputError, ModelFileError
from .key_names import diffusers_module_to_original, original_module_to_diffusers
from .loading import read_state_dict

_PREFIXES = ("transformer.", "model.diffusion_model.", "diffusion_model.", "base_model.model.", "pipe.dit.")
_KOHYA_PREFIXES = ("lora_unet_", "lora_transformer_")
_PART = re.compile(r"^(?P<module>.+?)\.(?:(?P<peft>lora_[AB])(?:\.[^.]+)?\.weight|(?P<kohya>lora_down|lora_up)\.weight"
                   r"|(?P<alpha>alpha))$")
_BACKUP_ATTRIBUTE = "_posemotion_lora_backup"


def _adaptable_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Linear and Conv3d layers by name; a layer peft already wraps (another adapter is loaded) under
    the wrapper's name, as its base layer (the wrapper's own children are no targets)."""
    wrapped = {name: module.get_base_layer() for name, module in model.named_modules()
               if isinstance(module, LoraLayer)}
    found = {}
    for name, module in model.named_modules():
        parts = name.split(".")
        if any(".".join(parts[:i]) in wrapped for i in range(1, len(parts))):
            continue
        if name in wrapped:
            found[name] = wrapped[name]
        elif isinstance(module, (nn.Linear, nn.Conv3d)):
            found[name] = module
    return found


def _module_resolver(model: nn.Module):
    """Map a LoRA file's module name (diffusers, original or kohya-flattened) to the model's name."""
    modules = _adaptable_modules(model)
    flat = {}
    for name in modules:
        flat[name.replace(".", "_")] = name
        flat[diffusers_module_to_original(name).replace(".", "_")] = name

    def resolve(name: str) -> str | None:
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        for prefix in _KOHYA_PREFIXES:
            if name.startswith(prefix):
                return flat.get(name[len(prefix):])
        for candidate in (name, original_module_to_diffusers(name)):
            if candidate in modules:
                return candidate
        return None

    return resolve, modules


def read_lora(path: str, model: nn.Module, strength: float = 1.0) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """A LoRA file as a peft state dict for ``model`` (``<module>.lora_A.weight`` / ``lora_B``, scales
    folded into B) and the rank of each adapted module."""
    raw = read_state_dict(path)
    resolve, modules = _module_resolver(model)
    down: dict[str, torch.Tensor] = {}
    up: dict[str, torch.Tensor] = {}
    alpha: dict[str, float] = {}
    unknown_keys, unknown_modules = [], []
    for key, value in raw.items():
        part = _PART.match(key)
        if part is None:
            unknown_keys.append(key)
            continue
        module = resolve(part["module"])
        if module is None:
            unknown_modules.append(part["module"])
            continue
        if part["alpha"]:
            alpha[module] = float(value.float().item())
        elif part["peft"] == "lora_A" or part["kohya"] == "lora_down":
            down[module] = value
        else:
            up[module] = value
    if unknown_keys:
        raise ModelFileError(f"{path}: not a LoRA of lora_A/lora_B or lora_down/lora_up pairs; unsupported keys: "
                             f"{', '.join(unknown_keys[:5])}")
    if unknown_modules:
        raise ModelFileError(f"{path}: the LoRA targets modules this transformer does not have: "
                             f"{', '.join(sorted(set(unknown_modules))[:5])}")
    if not down and not up:
        raise ModelFileError(f"{path}: no LoRA weights found")
    peft_state: dict[str, torch.Tensor] = {}
    ranks: dict[str, int] = {}
    for module in sorted(set(down) | set(up)):
        if module not in down or module not in up:
            raise ModelFileError(f"{path}: LoRA of {module} has only one of its two matrices")
        a, b, target = down[module], up[module], modules[module]
        rank = a.shape[0]
        out_features, in_features = target.weight.shape[0], target.weight[0].numel()
        if b.shape[0] != out_features or a[0].numel() != in_features or b[0].numel() != rank:
            raise ModelFileError(f"{path}: LoRA of {module} has shapes {tuple(a.shape)} / {tuple(b.shape)}, the layer is "
                                 f"{tuple(target.weight.shape)}")
        scale = strength * alpha.get(module, rank) / rank
        peft_state[f"{module}.lora_A.weight"] = a.reshape(rank, *target.weight.shape[1:]) if a.dim() > 2 else a
        peft_state[f"{module}.lora_B.weight"] = (b.float() * scale).to(b.dtype).reshape(
            (out_features, rank, *([1] * (target.weight.dim() - 2))))
        ranks[module] = int(rank)
    return peft_state, ranks


def load_lora(model: nn.Module, path: str, *, strength: float = 1.0, merge: bool = False,
              adapter_name: str = "default", backup_device: str | torch.device = "cpu") -> list[str]:
    """Attach the LoRA in ``path`` to ``model`` (in place) as peft adapter ``adapter_name``; with
    ``merge`` its product is added into the base weights. Returns the adapted module names."""
    peft_state, ranks = read_lora(path, model, strength)
    if any(adapter_name in m.lora_A for m in model.modules() if isinstance(m, LoraLayer)):
        raise ModelFileError(f"{path}: an adapter named {adapter_name!r} is already loaded; unload it or pick another name")
    rank = max(ranks.values())
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=sorted(ranks), lora_dropout=0.0,
                        rank_pattern={f"^{re.escape(m)}$": r for m, r in ranks.items()},
                        alpha_pattern={f"^{re.escape(m)}$": r for m, r in ranks.items()})
    inject_adapter_in_model(config, model, adapter_name=adapter_name)
    result = set_peft_model_state_dict(model, peft_state, adapter_name=adapter_name)
    if result.unexpected_keys:
        raise ModelFileError(f"{path}: LoRA weights left unused: {', '.join(result.unexpected_keys[:5])}")
    layers = {name: m for name, m in model.named_modules() if isinstance(m, LoraLayer)}
    names = sorted({a for layer in layers.values() for a in layer.lora_A})
    for layer in layers.values():  # every loaded adapter stays active
        layer.set_adapter([a for a in names if a in layer.lora_A])
    if merge:
        backup = getattr(model, _BACKUP_ATTRIBUTE, None)
        if backup is None:
            backup = {}
            setattr(model, _BACKUP_ATTRIBUTE, backup)
        for name in ranks:
            layer = layers[name]
            if name not in backup:
                backup[name] = layer.get_base_layer().weight.detach().to(backup_device, copy=True)
            layer.merge(adapter_names=[adapter_name])
    return sorted(ranks)


def unload_lora(model: nn.Module) -> None:
    """Remove every LoRA adapter: wrappers give way to their base layers and merged weights are
    restored from their backups, so the model computes exactly what it did before."""
    backup = getattr(model, _BACKUP_ATTRIBUTE, None) or {}
    wrapped = [(name, m) for name, m in model.named_modules() if isinstance(m, LoraLayer)]
    for name, layer in wrapped:
        base = layer.get_base_layer()
        if name in backup:
            with torch.no_grad():
                base.weight.copy_(backup[name])
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, base)
    if hasattr(model, _BACKUP_ATTRIBUTE):
        delattr(model, _BACKUP_ATTRIBUTE)
    if hasattr(model, "peft_config"):  # set by peft's injection
        del model.peft_config


LORA_MODES = ("merge", "separate")


class PhaseLoras:
    """LoRAs of segment kinds on one shared ``backbone`` (kind -> LoRA file), one kind active at a time.

    ``separate``: every LoRA is loaded now as a peft adapter named after its kind, and :meth:`select`
    switches the active adapter (exact, slower per step). ``merge``: :meth:`select` unloads the merged
    LoRA (weights restored bit for bit) and merges the kind's own (fast sampling, a re-merge per
    switch). A kind without a LoRA runs the plain backbone. Nothing is active before the first
    :meth:`select`; ``phase`` is the kind selected last.
    """

    def __init__(self, backbone: nn.Module, paths: dict[str, str], mode: str = "merge", strength: float = 1.0):
        if mode not in LORA_MODES:
            raise InputError("lora_mode", f"expected one of {LORA_MODES}, got {mode!r}")
        self.backbone, self.paths, self.mode, self.strength = backbone, dict(paths), mode, strength
        self.phase: str | None = None
        if mode == "separate":
            for kind, path in self.paths.items():
                load_lora(backbone, path, strength=strength, adapter_name=kind)

    @classmethod
    def for_models(cls, backbone: nn.Module, interpolation_model: nn.Module | None, base_lora: str | None,
                   interpolation_lora: str | None, mode: str = "merge", strength: float = 1.0) -> "PhaseLoras":
        """PoseGen's LoRAs: an interpolation LoRA on a separate ``interpolation_model`` is applied there
        for good (merged, or as its active adapter); the others switch per segment kind on ``backbone``."""
        if mode not in LORA_MODES:
            raise InputError("lora_mode", f"expected one of {LORA_MODES}, got {mode!r}")
        paths = {} if base_lora is None else {"base": base_lora}
        if interpolation_lora is not None:
            if interpolation_model is not None:
                load_lora(interpolation_model, interpolation_lora, strength=strength, merge=mode == "merge")
            else:
                paths["interpolation"] = interpolation_lora
        return cls(backbone, paths, mode, strength)

    def select(self, kind: str) -> None:
        """Make ``kind``'s LoRA the active one on the backbone (no-op when it already is)."""
        if not self.paths or kind == self.phase:
            return
        if self.mode == "separate":
            for layer in self.backbone.modules():
                if isinstance(layer, LoraLayer):
                    layer.set_adapter([kind])  # a kind without an adapter: none active
        else:
            unload_lora(self.backbone)
            if kind in self.paths:
                load_lora(self.backbone, self.paths[kind], strength=self.strength, merge=True, adapter_name=kind)
        self.phase = kind
