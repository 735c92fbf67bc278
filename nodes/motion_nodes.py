"""Motion nodes: load and save 3D motion, tokenize it with any of the four tokenizers and back, edit
PGR2M pose codes, and look at motion as POSE_KEYPOINT or rendered skeletons."""

from __future__ import annotations

import os

from ..models.core.errors import InputError
from ..models.core.motion import Motion
from ..models.media.images import to_image
from ..models.motion.io import MOTION_SUFFIXES, read_motion, write_motion
from ..models.motion.resample import resample
from ..models.render.motion_view import project_motion, render_motion
from ..models.tokenizers import BUNDLED_DIR
from ..models.tokenizers.base import validate_tokens
from ..models.tokenizers.checkpoints import load_tokenizer
from ..models.tokenizers.codec import decode_motion, edit_token_pose_codes, encode_motion, motion_to_pose_codes
from ..models.tokenizers.posecodes import CATEGORY_NAMES, active_category_names
from . import bridge

TOKENIZER_SUFFIXES = (".safetensors", ".pth", ".tar", ".ckpt", ".pt")
CAMERA_INPUTS = {
    "yaw": ("FLOAT", {"default": 0.0, "min": -360.0, "max": 360.0, "step": 5.0,
                      "tooltip": "Camera angle about the vertical, relative to the body's mean facing "
                                 "(0 = front, 90 = the body's left side)."}),
    "elevation": ("FLOAT", {"default": 10.0, "min": -80.0, "max": 80.0, "step": 5.0}),
    "distance": ("FLOAT", {"default": 1.1, "min": 0.5, "max": 10.0, "step": 0.05,
                           "tooltip": "1 = the closest camera that keeps the whole clip in frame."}),
    "width": ("INT", {"default": 512, "min": 64, "max": 4096, "step": 8}),
    "height": ("INT", {"default": 512, "min": 64, "max": 4096, "step": 8}),
}


def _motion_inputs() -> list[str]:
    # an ASF skeleton stands for its AMC motion file (same name beside it)
    return bridge.list_input_files(set(MOTION_SUFFIXES))


class PoseMotionLoadMotion:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("Loads 3D motion from ComfyUI's input folder: BVH, ASF (with the AMC of the same name beside it), "
                   "a DeepMimic .txt (pybullet's reference motions, with its humanoid.urdf beside it or one folder up), "
                   "our .npz, or a HumanML3D new_joints .npy. Mocap is retargeted onto SMPL joints (smpl_52 when "
                   "the rig has fingers, else smpl_22), in metres with y up.")
    RETURN_TYPES = ("MOTION", "FLOAT", "INT")
    RETURN_NAMES = ("motion", "fps", "frame_count")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "file": (_motion_inputs(), {"tooltip": "A motion file in ComfyUI's input folder."}),
            "fps": ("FLOAT", {"default": 20.0, "min": 0.0, "max": 240.0, "step": 1.0,
                              "tooltip": "Resample to this frame rate (0 = keep the file's). Tokenizers work at 20."}),
            "layout": (["auto", "smpl_22", "smpl_52"], {"tooltip": "auto: smpl_52 when the source has fingers."}),
        }}

    @classmethod
    def IS_CHANGED(cls, file, **_):
        return bridge.input_modified_time(file)

    def load(self, file, fps, layout):
        path = bridge.resolve_input(file, "file")
        amc = None
        if path.lower().endswith(".asf"):
            amc = str(bridge.contained(bridge.input_directory(), os.path.splitext(file)[0] + ".amc", "file"))
            if not os.path.isfile(amc):
                raise InputError("file", f"the ASF skeleton {file!r} needs its motion {os.path.basename(amc)!r} beside it")
        motion = read_motion(path, amc_path=amc, layout=None if layout == "auto" else layout)
        if fps > 0 and abs(fps - motion.fps) > 1e-6:
            motion = resample(motion, fps)
        return {"ui": {"text": [f"{motion.num_frames} frames at {motion.fps:g} fps, {motion.layout}"]},
                "result": (motion, float(motion.fps), motion.num_frames)}


class PoseMotionSaveMotion:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("Saves a MOTION to ComfyUI's output folder as BVH (SMPL skeleton, rotations fitted), .npz (exact) "
                   "or .glb (glTF: the BVH's skeleton and rotations plus a box per bone; connect model_file to "
                   "Preview 3D - Animation to watch it).")
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("model_file",)
    OUTPUT_TOOLTIPS = ("The saved file, relative to the output folder (what Preview 3D's model_file expects).",)
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "motion": ("MOTION",),
            "format": (["bvh", "npz", "glb"],),
            "filename_prefix": ("STRING", {"default": "posemotion/motion"}),
        }}

    def save(self, motion, format, filename_prefix):
        saved = bridge.save_output(filename_prefix, f".{format}", lambda path: write_motion(motion, path),
                                   f"{motion.num_frames} frames")
        file = saved["ui"]["files"][0]
        # forward slashes, as core's 3D nodes and the frontend's /view URLs use them
        model_file = f"{file['subfolder']}/{file['filename']}" if file["subfolder"] else file["filename"]
        return {**saved, "result": (model_file,)}


class PoseMotionLoadMotionTokenizer:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("Loads a motion tokenizer from models/motion: our .safetensors (+ .json) of any kind, or an official "
                   "T2M-GPT / MotionGPT / MoMask / PGR2M checkpoint (Mean.npy/Std.npy beside it or in meta/).")
    RETURN_TYPES = ("MOTION_TOKENIZER",)
    RETURN_NAMES = ("tokenizer",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"checkpoint": (bridge.list_checkpoints("motion", TOKENIZER_SUFFIXES, BUNDLED_DIR),)}}

    def load(self, checkpoint):
        path = bridge.resolve_checkpoint("motion", checkpoint, BUNDLED_DIR)
        return (bridge.ManagedModel(load_tokenizer(path), os.path.basename(path)),)


def _summary(tokens) -> str:
    return (f"{tokens.num_steps} token steps x {tokens.ids.shape[1]} streams ({tokens.tokenizer}) for "
            f"{tokens.num_frames} frames at {tokens.fps:g} fps")


class PoseMotionEncodeMotion:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = "MOTION -> discrete motion tokens (resampled to the tokenizer's frame rate, HumanML3D features)."
    RETURN_TYPES = ("MOTION_TOKENS",)
    RETURN_NAMES = ("motion_tokens",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"tokenizer": ("MOTION_TOKENIZER",), "motion": ("MOTION",)}}

    def encode(self, tokenizer, motion):
        tokens = encode_motion(tokenizer.load(), motion)
        return {"ui": {"text": [_summary(tokens)]}, "result": (tokens,)}


class PoseMotionDecodeTokens:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("Motion tokens -> MOTION (canonical frame: first pelvis at the origin, facing +z). Residual tokenizers "
                   "can decode with fewer streams.")
    RETURN_TYPES = ("MOTION", "FLOAT")
    RETURN_NAMES = ("motion", "fps")
    FUNCTION = "decode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "tokenizer": ("MOTION_TOKENIZER",), "motion_tokens": ("MOTION_TOKENS",),
            "streams": ("INT", {"default": -1, "min": -1, "max": 16,
                                "tooltip": "-1 = all; residual VQ: the first n quantisers; PGR2M: n residual stages."}),
        }}

    def decode(self, tokenizer, motion_tokens, streams):
        return _decode(tokenizer.load(), motion_tokens, streams)


def _decode(model, motion_tokens, streams: int) -> tuple[Motion, float]:
    motion = decode_motion(model, motion_tokens, None if streams < 0 else streams)
    return motion, float(motion.fps)


class PoseMotionMotionToPoseCodes:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("MOTION -> PGR2M tokens: interpretable pose codes (392 categories over 70 slots, per token step) "
                   "plus residual ids. The text lists the codes active at the first step.")
    RETURN_TYPES = ("MOTION_TOKENS", "STRING")
    RETURN_NAMES = ("motion_tokens", "first_step_codes")
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"tokenizer": ("MOTION_TOKENIZER",), "motion": ("MOTION",)}}

    def encode(self, tokenizer, motion):
        tokens = motion_to_pose_codes(tokenizer.load(), motion)
        names = "\n".join(active_category_names(tokens.pose_codes[0]))
        return {"ui": {"text": [_summary(tokens)]}, "result": (tokens, names)}


class PoseMotionEditPoseCodes:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("Sets one pose-code category (e.g. an elbow's bend) over a frame range; the other categories of "
                   "its slot are switched off there. Chain several to edit several slots.")
    RETURN_TYPES = ("MOTION_TOKENS",)
    RETURN_NAMES = ("motion_tokens",)
    FUNCTION = "edit"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "motion_tokens": ("MOTION_TOKENS",),
            "category": (list(CATEGORY_NAMES),),
            "start_frame": ("INT", {"default": 0, "min": 0, "max": 100000}),
            "end_frame": ("INT", {"default": 40, "min": 1, "max": 100000, "tooltip": "Exclusive."}),
        }}

    def edit(self, motion_tokens, category, start_frame, end_frame):
        return (edit_token_pose_codes(validate_tokens(motion_tokens), category, start_frame, end_frame),)


class PoseMotionPoseCodesToMotion:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("PGR2M decoding: pose latent from the pose codes plus the first n residual stages -> MOTION. "
                   "Fewer stages follow edited pose codes more closely; all stages reconstruct best.")
    RETURN_TYPES = ("MOTION", "FLOAT")
    RETURN_NAMES = ("motion", "fps")
    FUNCTION = "decode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "tokenizer": ("MOTION_TOKENIZER",), "motion_tokens": ("MOTION_TOKENS",),
            "residual_stages": ("INT", {"default": -1, "min": -1, "max": 16, "tooltip": "-1 = all, 0 = pose codes alone."}),
        }}

    def decode(self, tokenizer, motion_tokens, residual_stages):
        model = tokenizer.load()
        if model.kind != "pgr2m":
            raise InputError("tokenizer", f"expected a PGR2M tokenizer, got {model.kind!r}")
        return _decode(model, motion_tokens, residual_stages)


class PoseMotionProjectMotion:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("Projects a 3D MOTION through a fixed virtual camera to POSE_KEYPOINT (OpenPose-18 body, hands for "
                   "smpl_52), for the skeleton renderer and any controlnet_aux-compatible node.")
    RETURN_TYPES = ("POSE_KEYPOINT", "FLOAT")
    RETURN_NAMES = ("pose_keypoint", "fps")
    FUNCTION = "project"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"motion": ("MOTION",), **CAMERA_INPUTS}}

    def project(self, motion, yaw, elevation, distance, width, height):
        frames = project_motion(motion, yaw, elevation, distance, width, height)
        return (frames, float(motion.fps))


class PoseMotionRenderMotion:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = "Draws every bone of a 3D MOTION's skeleton from a virtual camera (left side orange, right blue)."
    RETURN_TYPES = ("IMAGE", "FLOAT")
    RETURN_NAMES = ("images", "fps")
    FUNCTION = "render"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"motion": ("MOTION",), **CAMERA_INPUTS}}

    def render(self, motion, yaw, elevation, distance, width, height):
        frames = render_motion(motion, yaw, elevation, distance, width, height)
        return (to_image(frames).to(bridge.output_device()), float(motion.fps))


NODE_CLASS_MAPPINGS = {
    "PoseMotionLoadMotion": PoseMotionLoadMotion,
    "PoseMotionSaveMotion": PoseMotionSaveMotion,
    "PoseMotionLoadMotionTokenizer": PoseMotionLoadMotionTokenizer,
    "PoseMotionEncodeMotion": PoseMotionEncodeMotion,
    "PoseMotionDecodeTokens": PoseMotionDecodeTokens,
    "PoseMotionMotionToPoseCodes": PoseMotionMotionToPoseCodes,
    "PoseMotionEditPoseCodes": PoseMotionEditPoseCodes,
    "PoseMotionPoseCodesToMotion": PoseMotionPoseCodesToMotion,
    "PoseMotionProjectMotion": PoseMotionProjectMotion,
    "PoseMotionRenderMotion": PoseMotionRenderMotion,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PoseMotionLoadMotion": "Load Motion (BVH/ASF/npz)",
    "PoseMotionSaveMotion": "Save Motion (BVH/npz/glb)",
    "PoseMotionLoadMotionTokenizer": "Load Motion Tokenizer",
    "PoseMotionEncodeMotion": "Encode Motion (tokens)",
    "PoseMotionDecodeTokens": "Decode Motion Tokens",
    "PoseMotionMotionToPoseCodes": "Motion To Pose Codes (PGR2M)",
    "PoseMotionEditPoseCodes": "Edit Pose Codes",
    "PoseMotionPoseCodesToMotion": "Pose Codes + Residuals To Motion",
    "PoseMotionProjectMotion": "Project Motion (camera)",
    "PoseMotionRenderMotion": "Render Motion",
}
