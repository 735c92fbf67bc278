"""PoseGen nodes: load the Wan/PoseGen parts, plan segments, sample a pose-driven long video."""

from __future__ import annotations

import torch

from ..models.core.errors import InputError
from ..models.posegen import assembly, pipeline
from ..models.posegen.lora import LORA_MODES
from ..models.posegen.memory import block_swapped, enable_vae_tiling
from ..models.posegen.segments import describe, plan_segments
from . import bridge

CATEGORY = "PoseMotion/PoseGen"
NONE = "(none)"
SAME = "(same as transformer)"
WITH_ENCODER = "(with the text encoder)"
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


# --- the loaded model ---------------------------------------------------------------------------

class PoseGenModel(pipeline.PoseGenModels):
    """POSEGEN_MODEL between nodes: the loaded parts, each module handed to ComfyUI's memory manager."""

    def __init__(self, parts: pipeline.PoseGenModels):
        managed = {name: bridge.ManagedModel(getattr(parts, name), label) for name, label in (
            ("transformer", "PoseGen transformer"), ("interp_transformer", "PoseGen interpolation transformer"),
            ("vae", "Wan VAE"), ("clip_vision", "CLIP vision"), ("text_encoder", "UMT5 text encoder"))
            if getattr(parts, name) is not None}
        super().__init__(**{**vars(parts), **managed})


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
        transformers = bridge.list_model_entries("diffusion_models")
        loras = [NONE] + bridge.list_models("loras")
        return {"required": {
            "transformer": (transformers, {"tooltip": "Base-segment model: PoseGen's 720p-81f-base folder (e.g. in "
                                           "diffusion_models/posegen), or a file or diffusers folder holding "
                                           "PoseGen's weights (it needs the reference patchifier)."}),
            "interpolation_model": ([SAME] + transformers, {"tooltip": "PoseGen's 720p-81f-cond folder for the "
                                    "segments between base segments; same = one backbone (with interpolation_lora)."}),
            "vae": (bridge.list_model_entries("vae"),),
            "clip_vision": (bridge.list_model_entries("clip_vision"),),
            "text_encoder": (bridge.list_model_entries("text_encoders"),),
            "tokenizer": ([WITH_ENCODER] + bridge.list_model_dirs("text_encoders", bridge.TOKENIZER_MARKERS),
                          {"tooltip": "UMT5 tokenizer folder, needed with a single-file text encoder."}),
            "base_lora": (loras,),
            "interpolation_lora": (loras,),
            "lora_mode": (list(LORA_MODES), {"tooltip": "merge: LoRA folded into the weights (fast sampling; a "
                          "shared backbone re-merges when switching segment kinds); separate: peft adapters switched "
                          "per segment kind (exact, slower per step)."}),
            "lora_strength": ("FLOAT", {"default": 1.0, "min": -4.0, "max": 4.0, "step": 0.05}),
            "dtype": (list(DTYPES), {"default": "bfloat16"}),
        }}

    def load(self, transformer, interpolation_model, vae, clip_vision, text_encoder, tokenizer, base_lora,
             interpolation_lora, lora_mode, lora_strength, dtype):
        entry = bridge.resolve_model_entry
        optional = {"tokenizer": None if tokenizer == WITH_ENCODER else bridge.resolve_model_dir(
                        "text_encoders", tokenizer, "tokenizer", bridge.TOKENIZER_MARKERS),
                    "interpolation_model": (None if interpolation_model == SAME
                                            else entry("diffusion_models", interpolation_model, "interpolation_model")),
                    **{key: None if name == NONE else bridge.resolve_model("loras", name, key)
                       for key, name in (("base_lora", base_lora), ("interpolation_lora", interpolation_lora))}}
        parts = assembly.load_models(
            entry("diffusion_models", transformer, "transformer"), entry("vae", vae, "vae"),
            entry("clip_vision", clip_vision, "clip_vision"), entry("text_encoders", text_encoder, "text_encoder"),
            lora_mode=lora_mode, lora_strength=lora_strength, dtype=DTYPES[dtype], **optional)
        return (PoseGenModel(parts),)


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
            "kv_share": (list(pipeline.KV_SHARE_CHOICES), {"default": "half_body", "tooltip": "Background KV-"
                         "sharing by framing (the paper's step/block ranges, blocks scaled to the model's depth), "
                         "custom ranges, or off."}),
            "kv_steps": ("STRING", {"default": "0-2", "tooltip": "custom: sampling steps start-end (end excluded)."}),
            "kv_blocks": ("STRING", {"default": "34-40", "tooltip": "custom: transformer blocks start-end."}),
            "kv_cache": (["device", "offload"], {"tooltip": "Where the anchor's keys/values wait: on the GPU "
                         "(fastest) or the offload device (less GPU memory)."}),
            "block_swap": ("INT", {"default": 0, "min": 0, "max": 100, "tooltip": "Deepest transformer blocks kept "
                           "on the offload device and moved in one at a time (less GPU memory, slower)."}),
            "vae_tiling": ("BOOLEAN", {"default": False}),
        }, "optional": {
            "hand_normals": ("IMAGE", {"tooltip": "Hand normal maps (Render Normal Map, part hands), one per pose frame."}),
            "plan": ("POSEGEN_PLAN", {"tooltip": "Segment plan (its head and tail are used; its segment length "
                     "must equal segment_length)."}),
            "negative_prompt": ("STRING", {"forceInput": True}),
        }}

    def sample(self, posegen, reference_image, pose_frames, prompt, subject_word, width, height, segment_length,
               steps, cfg, seed, kv_share, kv_steps, kv_blocks, kv_cache, block_swap, vae_tiling,
               hand_normals=None, plan=None, negative_prompt=""):
        if not isinstance(posegen, PoseGenModel):
            raise InputError("posegen", f"expected POSEGEN_MODEL from Load PoseGen, got {type(posegen).__name__}")
        settings = pipeline.SamplerSettings(width=width, height=height, segment_length=segment_length, steps=steps,
                                            cfg=cfg, seed=seed, negative_prompt=negative_prompt)
        plan = pipeline.segment_plan(len(pose_frames), settings, plan)  # the given plan, checked, or a new one
        module = posegen.transformer.module
        kv = pipeline.kv_share_settings(kv_share, len(module.blocks), kv_steps, kv_blocks,
                                        "cpu" if kv_cache == "offload" else None)
        enable_vae_tiling(posegen.vae.module, vae_tiling)
        # With block swap the swap places the transformer itself, outside the memory manager.
        models = pipeline.PoseGenModels(**{**vars(posegen), "transformer": module}) if block_swap else posegen
        progress = bridge.Progress(pipeline.total_steps(plan, settings), "PoseGen")
        with block_swapped(module, block_swap, bridge.compute_device(), "cpu", make_room=bridge.make_room):
            frames = pipeline.generate(models, reference_image, pose_frames, prompt, subject_word, settings,
                                       hand_frames=hand_normals, kv_share=kv, progress=progress,
                                       interrupt=bridge.check_interrupt, plan=plan)
        return (frames.to(bridge.output_device()),)


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
