"""PoseGen nodes: load the Wan/PoseGen parts, plan segments, sample a pose-driven long video."""

from __future__ import annotations

import re
from contextlib import nullcontext
from pathlib import Path

import torch

from ..models.core.errors import InputError
from ..models.posegen import loading, lora
from ..models.posegen.kv_share import KVShareController
from ..models.posegen.memory import BlockSwap, enable_vae_tiling, resident_bytes
from ..models.posegen.pipeline import KVShareSettings, PoseGenModels, SamplerSettings, generate
from ..models.posegen.segments import describe, plan_segments
from . import bridge

CATEGORY = "PoseMotion/PoseGen"
NONE = "(none)"
SAME = "(same as transformer)"
WITH_ENCODER = "(with the text encoder)"
MODEL_MARKERS = ("config.json", "model_config.json")
TOKENIZER_MARKERS = ("tokenizer.json", "spiece.model", "tokenizer_config.json")
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
PAPER_MASK_BLOCKS = (0, 11)
PAPER_DEPTH = 40  # presets are the paper's, for the 14B's 40 blocks
KV_CHOICES = ["off", *KVShareController.FRAMING_PRESETS, "custom"]


# --- model folders: single files and Hugging Face / PoseGen folders ------------------------------

def _folders_with(folder: str, markers: tuple[str, ...]) -> list[str]:
    found = set()
    for root in bridge.model_folder_paths(folder):
        base = Path(root)
        if base.is_dir():
            found |= {p.parent.relative_to(base).as_posix() for marker in markers for p in base.rglob(marker)
                      if p.parent != base}
    return sorted(found)


def model_entries(folder: str) -> list[str]:
    """Loadable entries of a model folder: model folders (a config inside) and single weight files
    outside them."""
    folders = _folders_with(folder, MODEL_MARKERS)
    files = [f for f in bridge.list_models(folder) if not f.endswith(".json")
             and not any(f.startswith(d + "/") for d in folders)]
    return folders + files


def resolve_entry(folder: str, name: str) -> str:
    for root in bridge.model_folder_paths(folder):
        if (Path(root) / name).is_dir():
            return str(Path(root) / name)
    return bridge.resolve_model(folder, name)


# --- the loaded model ---------------------------------------------------------------------------

class PoseGenModel:
    """POSEGEN_MODEL between nodes: every part wrapped for the memory manager, plus LoRA switching."""

    def __init__(self, transformer, interp_transformer, vae, clip_vision, text_encoder, tokenizer,
                 phase_loras: dict[str, str], lora_mode: str, lora_strength: float):
        self.transformer = bridge.ManagedModel(transformer, "PoseGen transformer")
        self.interp_transformer = (None if interp_transformer is None
                                   else bridge.ManagedModel(interp_transformer, "PoseGen interpolation transformer"))
        self.vae = bridge.ManagedModel(vae, "Wan VAE")
        self.clip_vision = bridge.ManagedModel(clip_vision, "CLIP vision")
        self.text_encoder = bridge.ManagedModel(text_encoder, "UMT5 text encoder")
        self.tokenizer = tokenizer
        self.phase_loras = phase_loras  # segment kind -> LoRA path applied to the shared backbone
        self.lora_mode = lora_mode
        self.lora_strength = lora_strength
        self.phase: str | None = None

    def select_phase(self, kind: str) -> None:
        """Activate the segment kind's LoRA on the shared backbone (adapters switched, or re-merged)."""
        if not self.phase_loras or kind == self.phase:
            return
        module = self.transformer.module
        if self.lora_mode == "separate":
            from peft.tuners.lora import LoraLayer

            for layer in module.modules():
                if isinstance(layer, LoraLayer):
                    layer.set_adapter([kind])
        else:
            lora.unload_lora(module)
            if kind in self.phase_loras:
                lora.load_lora(module, self.phase_loras[kind], strength=self.lora_strength, merge=True,
                               adapter_name=kind)
        self.phase = kind


class PoseMotionLoadPoseGen:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Loads PoseGen on Wan2.1-I2V: the transformer (a file, a diffusers folder or PoseGen's published "
                   "720p-81f-base folder) from diffusion_models, optionally the interpolation model (720p-81f-cond) "
                   "or LoRAs from loras, the Wan VAE, CLIP vision and UMT5 text encoder.")
    RETURN_TYPES = ("POSEGEN_MODEL",)
    RETURN_NAMES = ("posegen",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        transformers = model_entries("diffusion_models")
        loras = [NONE] + bridge.list_models("loras")
        return {"required": {
            "transformer": (transformers, {"tooltip": "Base-segment model: PoseGen's 720p-81f-base folder (e.g. in "
                                           "diffusion_models/posegen), or a file or diffusers folder holding "
                                           "PoseGen's weights (it needs the reference patchifier)."}),
            "interpolation_model": ([SAME] + transformers, {"tooltip": "PoseGen's 720p-81f-cond folder for the "
                                    "segments between base segments; same = one backbone (with interpolation_lora)."}),
            "vae": (model_entries("vae"),),
            "clip_vision": (model_entries("clip_vision"),),
            "text_encoder": (model_entries("text_encoders"),),
            "tokenizer": ([WITH_ENCODER] + _folders_with("text_encoders", TOKENIZER_MARKERS),
                          {"tooltip": "UMT5 tokenizer folder, needed with a single-file text encoder."}),
            "base_lora": (loras,),
            "interpolation_lora": (loras,),
            "lora_mode": (["merge", "separate"], {"tooltip": "merge: LoRA folded into the weights (fast sampling; a "
                          "shared backbone re-merges when switching segment kinds); separate: peft adapters switched "
                          "per segment kind (exact, slower per step)."}),
            "lora_strength": ("FLOAT", {"default": 1.0, "min": -4.0, "max": 4.0, "step": 0.05}),
            "dtype": (list(DTYPES), {"default": "bfloat16"}),
        }}

    def load(self, transformer, interpolation_model, vae, clip_vision, text_encoder, tokenizer, base_lora,
             interpolation_lora, lora_mode, lora_strength, dtype):
        torch_dtype = DTYPES[dtype]
        base = loading.load_transformer(resolve_entry("diffusion_models", transformer), dtype=torch_dtype)
        interp = None
        if interpolation_model != SAME:
            interp = loading.load_transformer(resolve_entry("diffusion_models", interpolation_model), dtype=torch_dtype)
        phase_loras = {}
        if base_lora != NONE:
            phase_loras["base"] = bridge.resolve_model("loras", base_lora)
        if interpolation_lora != NONE:
            path = bridge.resolve_model("loras", interpolation_lora)
            if interp is not None:  # its own backbone: the LoRA stays there for good
                lora.load_lora(interp, path, strength=lora_strength, merge=lora_mode == "merge")
            else:
                phase_loras["interpolation"] = path
        if lora_mode == "separate":
            for kind, path in phase_loras.items():
                lora.load_lora(base, path, strength=lora_strength, adapter_name=kind)
        tokenizer_path = None if tokenizer == WITH_ENCODER else resolve_entry("text_encoders", tokenizer)
        encoder, text_tokenizer = loading.load_text_encoder(resolve_entry("text_encoders", text_encoder),
                                                            dtype=torch_dtype, tokenizer_path=tokenizer_path)
        model = PoseGenModel(
            base, interp, loading.load_vae(resolve_entry("vae", vae)),
            loading.load_clip_vision(resolve_entry("clip_vision", clip_vision), dtype=torch_dtype),
            encoder, text_tokenizer, phase_loras, lora_mode, lora_strength)
        model.select_phase("base")
        return (model,)


# --- plan ---------------------------------------------------------------------------------------

class PoseMotionPoseGenPlanSegments:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Shows how PoseGen splits a clip: base segments generated first (the first one is the KV-sharing "
                   "anchor), interpolation segments stitched between them. Feed the plan to PoseGen Sample.")
    RETURN_TYPES = ("POSEGEN_PLAN", "STRING")
    RETURN_NAMES = ("plan", "table")
    FUNCTION = "plan"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "frames": ("INT", {"default": 81, "min": 1, "max": 100000, "tooltip": "Frame count (ignored when "
                       "pose_frames is connected)."}),
            "segment_length": ("INT", {"default": 81, "min": 5, "max": 1001, "step": 4,
                               "tooltip": "4k+1 frames; PoseGen was trained on 81."}),
            "head": ("INT", {"default": 0, "min": 0, "max": 1000, "tooltip": "Frames an interpolation segment takes "
                     "from the previous base; 0 = a quarter of the segment (21 of 81)."}),
            "tail": ("INT", {"default": 0, "min": 0, "max": 1000, "tooltip": "... from the next base; 0 = a quarter "
                     "(20 of 81)."}),
        }, "optional": {"pose_frames": ("IMAGE",)}}

    def plan(self, frames, segment_length, head, tail, pose_frames=None):
        count = len(pose_frames) if pose_frames is not None else frames
        plan = plan_segments(count, segment_length, head or None, tail or None)
        table = describe(plan)
        return {"ui": {"text": [table]}, "result": (plan, table)}


# --- sample -------------------------------------------------------------------------------------

def parse_range(text: str, name: str) -> tuple[int, int]:
    """'0-2' -> (0, 2): a half-open range [start, end)."""
    match = re.fullmatch(r"\s*(\d+)\s*[-:,]\s*(\d+)\s*", text or "")
    if not match or int(match[1]) >= int(match[2]):
        raise InputError(name, f"{text!r}: expected 'start-end' with start < end, e.g. '0-2' (end excluded)")
    return int(match[1]), int(match[2])


def scaled_preset(preset: str, depth: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(steps, blocks, mask_blocks) of a framing preset. Block ranges are the paper's for 40 blocks and
    scale with the model's depth (30 for Wan 1.3B), keeping the deepest blocks shared."""
    steps, (start, end) = KVShareController.FRAMING_PRESETS[preset]
    scale = depth / PAPER_DEPTH
    blocks = (min(depth - 1, round(start * scale)), max(1, round(end * scale)))
    mask_blocks = (0, max(1, round(PAPER_MASK_BLOCKS[1] * scale)))
    return steps, blocks, mask_blocks


class PoseMotionPoseGenSample:
    CATEGORY = CATEGORY
    DESCRIPTION = ("PoseGen: a video of the reference image's subject following the pose frames, any length, by "
                   "segment-interleaved generation with background KV-sharing. Pose (and hand-normal) frames are "
                   "resized to width x height when their aspect matches (0 x 0 = their own size); the reference "
                   "image is centre-cropped to that aspect.")
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("frames",)
    FUNCTION = "sample"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "posegen": ("POSEGEN_MODEL",),
            "reference_image": ("IMAGE",),
            "pose_frames": ("IMAGE", {"tooltip": "Skeleton renders (Render Pose Skeleton), one per output frame."}),
            "prompt": ("STRING", {"multiline": True, "default": "a woman dances in a sunny park, full body shot"}),
            "subject_word": ("STRING", {"default": "woman", "tooltip": "The prompt's word for the person: its "
                             "cross-attention locates the subject for background KV-sharing."}),
            "width": ("INT", {"default": 0, "min": 0, "max": 4096, "step": 16, "tooltip": "0 = the pose frames' width."}),
            "height": ("INT", {"default": 0, "min": 0, "max": 4096, "step": 16}),
            "segment_length": ("INT", {"default": 81, "min": 5, "max": 1001, "step": 4}),
            "steps": ("INT", {"default": 25, "min": 1, "max": 200}),
            "cfg": ("FLOAT", {"default": 5.0, "min": 1.0, "max": 20.0, "step": 0.1}),
            "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF}),
            "kv_share": (KV_CHOICES, {"default": "half_body", "tooltip": "Background KV-sharing by framing (the "
                         "paper's step/block ranges, blocks scaled to the model's depth), custom ranges, or off."}),
            "kv_steps": ("STRING", {"default": "0-2", "tooltip": "custom: sampling steps start-end (end excluded)."}),
            "kv_blocks": ("STRING", {"default": "34-40", "tooltip": "custom: transformer blocks start-end."}),
            "kv_cache": (["device", "offload"], {"tooltip": "Where the anchor's keys/values wait: on the GPU "
                         "(fastest) or the offload device (less GPU memory)."}),
            "block_swap": ("INT", {"default": 0, "min": 0, "max": 100, "tooltip": "Deepest transformer blocks kept "
                           "on the offload device and moved in one at a time (less GPU memory, slower)."}),
            "vae_tiling": ("BOOLEAN", {"default": False}),
        }, "optional": {
            "hand_normals": ("IMAGE", {"tooltip": "Hand normal maps (Render Normal Map, part hands), one per pose frame."}),
            "plan": ("POSEGEN_PLAN", {"tooltip": "Segment plan (its segment length, head and tail are used)."}),
            "negative_prompt": ("STRING", {"forceInput": True}),
        }}

    def sample(self, posegen, reference_image, pose_frames, prompt, subject_word, width, height, segment_length,
               steps, cfg, seed, kv_share, kv_steps, kv_blocks, kv_cache, block_swap, vae_tiling,
               hand_normals=None, plan=None, negative_prompt=""):
        if not isinstance(posegen, PoseGenModel):
            raise InputError("posegen", f"expected POSEGEN_MODEL from Load PoseGen, got {type(posegen).__name__}")
        head = tail = None
        if plan is not None:
            if plan.num_frames != len(pose_frames):
                raise InputError("plan", f"planned for {plan.num_frames} frames, pose_frames has {len(pose_frames)}")
            segment_length, head, tail = plan.segment_length, plan.head, plan.tail
        settings = SamplerSettings(width=width, height=height, segment_length=segment_length, head=head, tail=tail,
                                   steps=steps, cfg=cfg, seed=seed, negative_prompt=negative_prompt)
        depth = len(posegen.transformer.module.blocks)
        kv = self._kv_settings(kv_share, kv_steps, kv_blocks, kv_cache, depth)
        enable_vae_tiling(posegen.vae.module, vae_tiling)
        device = bridge.compute_device()
        transformer = posegen.transformer
        swap = None
        if block_swap:
            bridge.make_room(resident_bytes(transformer.module, block_swap))
            transformer = transformer.module
            swap = BlockSwap(transformer, block_swap, device, "cpu")
        models = PoseGenModels(transformer=transformer, vae=posegen.vae, clip_vision=posegen.clip_vision,
                               text_encoder=posegen.text_encoder, tokenizer=posegen.tokenizer,
                               interp_transformer=posegen.interp_transformer, select_phase=posegen.select_phase)
        total = steps * len(plan_segments(len(pose_frames), segment_length, head, tail).segments)
        progress = bridge.Progress(total, "PoseGen")
        try:
            with swap or nullcontext():
                frames = generate(models, reference_image, pose_frames, prompt, subject_word, settings,
                                  hand_frames=hand_normals, kv_share=kv, progress=progress,
                                  interrupt=bridge.check_interrupt)
        finally:
            if swap is not None:
                transformer.to("cpu")  # the swap placed it itself: give the device back, interrupted or not
        return (frames.to(bridge.output_device()),)

    @staticmethod
    def _kv_settings(kv_share, kv_steps, kv_blocks, kv_cache, depth) -> KVShareSettings | None:
        if kv_share == "off":
            return None
        if kv_share == "custom":
            steps, blocks = parse_range(kv_steps, "kv_steps"), parse_range(kv_blocks, "kv_blocks")
            mask_blocks = (0, min(PAPER_MASK_BLOCKS[1], depth))
        else:
            steps, blocks, mask_blocks = scaled_preset(kv_share, depth)
        cache = "cpu" if kv_cache == "offload" else None
        return KVShareSettings(steps=steps, blocks=blocks, mask_blocks=mask_blocks, cache_device=cache)


NODE_CLASS_MAPPINGS = {
    "PoseMotionLoadPoseGen": PoseMotionLoadPoseGen,
    "PoseMotionPoseGenPlanSegments": PoseMotionPoseGenPlanSegments,
    "PoseMotionPoseGenSample": PoseMotionPoseGenSample,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PoseMotionLoadPoseGen": "Load PoseGen (Wan2.1)",
    "PoseMotionPoseGenPlanSegments": "PoseGen Plan Segments",
    "PoseMotionPoseGenSample": "PoseGen Sample (long video)",
}
