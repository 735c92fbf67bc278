"""The one place that touches ComfyUI (comfy.*, folder_paths), with a plain fallback without it.

Everything the nodes need from their host goes through here: model folders, input/output
directories, devices and the memory manager, progress and interrupts.

Without ComfyUI:
- models live under ``$POSEMOTION_MODELS_DIR/<folder>`` (default ``~/.cache/posemotion/models``);
- inputs are read from ``$POSEMOTION_INPUT_DIR`` (default ``./input``) and outputs written to
  ``$POSEMOTION_OUTPUT_DIR`` (default ``./output``);
- models run on CUDA when available, else the CPU; progress is printed to stderr.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..models.core.errors import ModelFileError
from ..models.core.resources import console_progress

try:  # ComfyUI present: the server imports us after its own modules are set up.
    import comfy.model_management as model_management
    import comfy.model_patcher as model_patcher
    import comfy.utils as comfy_utils
    import folder_paths

    IN_COMFYUI = True
except ImportError:
    folder_paths = model_management = model_patcher = comfy_utils = None
    IN_COMFYUI = False

# The pack's model folders (under ComfyUI's models/) and the files each may hold.
MODEL_FOLDERS: dict[str, set[str]] = {
    "blip": {".safetensors", ".bin", ".json"},
    "pose_forecast": {".safetensors", ".json"},
    "motion": {".safetensors", ".pth", ".tar", ".ckpt", ".pt", ".npy", ".json"},
    "smpl": {".npz", ".pkl", ".safetensors"},
    "posegen": {".safetensors", ".bin", ".pth", ".json"},
}
# ComfyUI's own folders the pack reads (Wan/PoseGen parts). ComfyUI registers them itself; the
# fallback without ComfyUI needs their extensions.
CORE_MODEL_FOLDERS: dict[str, set[str]] = {
    "diffusion_models": {".safetensors", ".bin", ".pth", ".pt", ".ckpt", ".json"},
    "vae": {".safetensors", ".pth", ".pt", ".ckpt", ".bin"},
    "clip_vision": {".safetensors", ".bin", ".pt"},
    "text_encoders": {".safetensors", ".bin", ".pth", ".pt"},
    "loras": {".safetensors", ".bin", ".pt", ".ckpt"},
}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif"}


def register_model_folders() -> None:
    """Add the pack's folders to ComfyUI's registry, keeping user paths from extra_model_paths.yaml."""
    if not IN_COMFYUI:
        return
    for name, extensions in MODEL_FOLDERS.items():
        default = os.path.join(folder_paths.models_dir, name)
        paths, known = folder_paths.folder_names_and_paths.get(name, ([], set()))
        paths = list(paths) + ([default] if default not in paths else [])
        # A brand-new folder name starts with an empty extension set, which lists every file.
        folder_paths.folder_names_and_paths[name] = (paths, set(known) | extensions)


def _fallback_root() -> Path:
    return Path(os.environ.get("POSEMOTION_MODELS_DIR", Path.home() / ".cache" / "posemotion" / "models"))


def _extensions(folder: str) -> set[str]:
    extensions = MODEL_FOLDERS.get(folder, CORE_MODEL_FOLDERS.get(folder))
    if extensions is None:
        raise ModelFileError(f"unknown model folder {folder!r}; the pack's folders are "
                             f"{sorted(MODEL_FOLDERS) + sorted(CORE_MODEL_FOLDERS)}")
    return extensions


def model_folder_paths(folder: str) -> list[str]:
    _extensions(folder)
    if IN_COMFYUI:
        return list(folder_paths.get_folder_paths(folder))
    return [str(_fallback_root() / folder)]


def list_models(folder: str) -> list[str]:
    """File names (relative to the folder) for a loader combo, sorted; empty when none are installed."""
    if IN_COMFYUI:
        return sorted(folder_paths.get_filename_list(folder))
    names = []
    for root in model_folder_paths(folder):
        base = Path(root)
        if base.is_dir():
            names += [p.relative_to(base).as_posix() for p in base.rglob("*")
                      if p.is_file() and p.suffix.lower() in _extensions(folder)]
    return sorted(set(names))


def list_model_dirs(folder: str) -> list[str]:
    """Sub-folders holding a Hugging Face model (a config.json), for folder-style loaders such as BLIP."""
    names = set()
    for root in model_folder_paths(folder):
        base = Path(root)
        if base.is_dir():
            names |= {p.parent.relative_to(base).as_posix() for p in base.rglob("config.json") if p.parent != base}
    return sorted(names)


def resolve_model_dir(folder: str, name: str) -> str:
    for root in model_folder_paths(folder):
        path = Path(root) / name
        if (path / "config.json").is_file():
            return str(path)
    raise ModelFileError(f"model folder {name!r} with a config.json not found in '{folder}' "
                         f"(searched {model_folder_paths(folder)})")


def resolve_model(folder: str, filename: str) -> str:
    """Full path of a model file, or one error naming the folder, the file and where we looked."""
    if IN_COMFYUI:
        path = folder_paths.get_full_path(folder, filename)
    else:
        candidates = [Path(root) / filename for root in model_folder_paths(folder)]
        path = next((str(p) for p in candidates if p.is_file()), None)
    if path is None or not os.path.isfile(path):
        raise ModelFileError(
            f"model file {filename!r} not found in folder '{folder}' (searched {model_folder_paths(folder)}); "
            f"expected one of the extensions {sorted(_extensions(folder))}")
    return path


def input_directory() -> str:
    if IN_COMFYUI:
        return folder_paths.get_input_directory()
    return os.environ.get("POSEMOTION_INPUT_DIR", os.path.abspath("input"))


def output_directory() -> str:
    if IN_COMFYUI:
        return folder_paths.get_output_directory()
    return os.environ.get("POSEMOTION_OUTPUT_DIR", os.path.abspath("output"))


def list_input_files(extensions: set[str]) -> list[str]:
    root = Path(input_directory())
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in extensions)


def input_modified_time(filename: str) -> float:
    """For IS_CHANGED: the input file's modification time (NaN when missing, so the node reruns)."""
    path = Path(input_directory()) / filename
    return path.stat().st_mtime if path.is_file() else float("nan")


def resolve_input(filename: str, input_name: str) -> str:
    path = Path(input_directory()) / filename
    if not path.is_file():
        raise FileNotFoundError(f"{input_name}: file {filename!r} not found in the input directory {input_directory()}")
    return str(path)


def output_path(filename_prefix: str, suffix: str) -> tuple[str, str, str]:
    """A new, unused output file: (full path, file name, subfolder)."""
    root = Path(output_directory())
    subfolder, prefix = os.path.split(filename_prefix)
    folder = (root / subfolder).resolve()
    if root.resolve() not in (folder, *folder.parents):
        raise ValueError(f"filename_prefix: {filename_prefix!r} points outside the output directory")
    folder.mkdir(parents=True, exist_ok=True)
    counter = 1
    while (folder / f"{prefix}_{counter:05d}{suffix}").exists():
        counter += 1
    name = f"{prefix}_{counter:05d}{suffix}"
    return str(folder / name), name, subfolder


# --- devices and the memory manager -------------------------------------------------------------

def compute_device() -> torch.device:
    if IN_COMFYUI:
        return model_management.get_torch_device()
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def output_device() -> torch.device:
    """Where node outputs go between nodes (ComfyUI's intermediate device, else the CPU)."""
    return model_management.intermediate_device() if IN_COMFYUI else torch.device("cpu")


class _Holder(torch.nn.Module):
    """Container the memory manager patches: ModelPatcher assigns ``model.device``, a read-only
    property on Hugging Face models, so they are never handed to it directly."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner


class ManagedModel:
    """A torch module that ComfyUI's memory manager may load onto the GPU and evict again.

    Call ``load()`` right before each use: it asks the manager for room (possibly offloading other
    models) and returns the module on its compute device.
    """

    def __init__(self, module: torch.nn.Module, name: str = "model"):
        self.name = name
        self.module = module.eval()
        if IN_COMFYUI:
            self.patcher = model_patcher.ModelPatcher(
                _Holder(self.module), load_device=model_management.get_torch_device(),
                offload_device=model_management.unet_offload_device())
        else:
            self.patcher = None

    def load(self) -> torch.nn.Module:
        if self.patcher is not None:
            model_management.load_models_gpu([self.patcher])
            return self.patcher.model.inner
        return self.module.to(compute_device())

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device


def make_room(num_bytes: int) -> None:
    """Ask ComfyUI's manager to free ``num_bytes`` on the compute device (evicting other models) before
    a module places itself there, as block swap does (no-op without ComfyUI)."""
    if IN_COMFYUI:
        model_management.free_memory(int(num_bytes), model_management.get_torch_device())


# --- progress and interrupts ---------------------------------------------------------------------

def check_interrupt() -> None:
    """Raise ComfyUI's interrupt exception when the user pressed Cancel (no-op outside ComfyUI)."""
    if IN_COMFYUI:
        model_management.throw_exception_if_processing_interrupted()


class Progress:
    """``progress(done, total)`` callable: ComfyUI's progress bar, or a console bar without it."""

    def __init__(self, total: int, label: str = "PoseMotion"):
        self.total = max(int(total), 1)
        self.bar = comfy_utils.ProgressBar(self.total) if IN_COMFYUI else None
        self.console = None if IN_COMFYUI else console_progress(label)

    def __call__(self, done: int, total: int | None = None) -> None:
        check_interrupt()
        if self.bar is not None:
            self.bar.update_absolute(done, total or self.total)
        else:
            self.console(done, total or self.total)
