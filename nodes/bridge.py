"""The one place that touches ComfyUI (comfy.*, folder_paths), with a plain fallback without it.

Everything the nodes need from their host goes through here: model folders, input/output
directories, devices and the memory manager, progress and interrupts.

Without ComfyUI:
- models live under ``$POSEMOTION_MODELS_DIR/<folder>`` (default ``~/.cache/posemotion/models``);
- inputs are read from ``$POSEMOTION_INPUT_DIR`` (default ``./input``) and outputs written to
  ``$POSEMOTION_OUTPUT_DIR`` (default ``./output``);
- models run on CUDA when available, else the CPU; progress is printed to stderr;
- every file or folder name taken from a node input must stay inside its folder (``contained``):
  no absolute path, no ``..``, no symbolic link leading out. Inside ComfyUI the server only accepts
  the listed names and ``folder_paths`` resolves model files (links there are the user's setup), so
  only the first two checks apply.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath

import torch

from ..models.core.errors import InputError, ModelFileError
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
    # motion LLM: base model folders and .gguf files, adapters, official MotionGPT checkpoints
    "llm": {".safetensors", ".gguf", ".bin", ".tar", ".ckpt", ".pth", ".json"},
    # GENMO: our checkpoints and NVIDIA's gem_smpl.ckpt
    "genmo": {".safetensors", ".ckpt", ".json"},
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
# A model folder (Hugging Face, diffusers, PoseGen) holds one of these; a tokenizer folder one of the others.
MODEL_MARKERS = ("config.json", "model_config.json")
TOKENIZER_MARKERS = ("tokenizer.json", "spiece.model", "tokenizer_config.json")
MAX_PREFIX_BYTES = 200  # an output file name's prefix: file systems allow 255 bytes with "_00001.json"
BUNDLED_PREFIX = "[bundled] "  # the pack's own checkpoints, listed after the user's files


def contained(root: str | os.PathLike, name: str, input_name: str) -> Path:
    """``root/name`` for a name taken from a node input, or one InputError naming the input and the
    folder: the name must be relative, without ``..``, and (outside ComfyUI) not lead out of ``root``
    through a symbolic link."""
    posix = PurePosixPath(str(name).replace("\\", "/"))  # Windows separators count too
    if not name or "\x00" in name or posix.is_absolute() or PureWindowsPath(name).drive or ".." in posix.parts:
        raise InputError(input_name, f"{name!r} must be a name inside the folder {root} "
                                     "(no absolute path, no '..')")
    path = Path(root) / name
    if not IN_COMFYUI:
        real_root, real = os.path.realpath(root), os.path.realpath(path)
        if os.path.commonpath([real_root, real]) != real_root:
            raise InputError(input_name, f"{name!r} leads outside the folder {root} (to {real})")
    return path


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


def list_model_dirs(folder: str, markers: tuple[str, ...] = MODEL_MARKERS) -> list[str]:
    """Sub-folders (relative names) holding one of ``markers``: Hugging Face, diffusers or PoseGen
    model folders by default, tokenizer folders with TOKENIZER_MARKERS."""
    names = set()
    for root in model_folder_paths(folder):
        base = Path(root)
        if base.is_dir():
            names |= {p.parent.relative_to(base).as_posix() for marker in markers for p in base.rglob(marker)
                      if p.parent != base}
    return sorted(names)


def list_model_entries(folder: str, markers: tuple[str, ...] = MODEL_MARKERS) -> list[str]:
    """A loader combo of model folders (list_model_dirs) then single weight files outside them."""
    folders = list_model_dirs(folder, markers)
    files = [f for f in list_models(folder) if not f.endswith(".json")
             and not any(f.startswith(d + "/") for d in folders)]
    return folders + files


def resolve_model_dir(folder: str, name: str, input_name: str = "model",
                      markers: tuple[str, ...] = MODEL_MARKERS) -> str:
    """Full path of a model folder holding one of ``markers``, or one error naming where we looked."""
    for root in model_folder_paths(folder):
        path = contained(root, name, input_name)
        if any((path / marker).is_file() for marker in markers):
            return str(path)
    raise ModelFileError(f"{input_name}: folder not found: {name!r} (a model folder with one of {list(markers)} "
                         f"in '{folder}'; searched {model_folder_paths(folder)})")


def resolve_model_entry(folder: str, name: str, input_name: str, markers: tuple[str, ...] = MODEL_MARKERS) -> str:
    """An entry of list_model_entries: a model folder, else a single file (resolve_model)."""
    for root in model_folder_paths(folder):
        if contained(root, name, input_name).is_dir():
            return resolve_model_dir(folder, name, input_name, markers)
    return resolve_model(folder, name, input_name)


def resolve_model(folder: str, filename: str, input_name: str = "model") -> str:
    """Full path of a model file, or one error naming the folder, the file and where we looked."""
    if IN_COMFYUI:
        contained(folder, filename, input_name)  # the name checks; folder_paths joins and follows links
        path = folder_paths.get_full_path(folder, filename)
    else:
        candidates = [contained(root, filename, input_name) for root in model_folder_paths(folder)]
        path = next((str(p) for p in candidates if p.is_file()), None)
    if path is None or not os.path.isfile(path):
        raise ModelFileError(
            f"{input_name}: file not found: {filename!r} in model folder '{folder}' (searched {model_folder_paths(folder)}); "
            f"expected one of the extensions {sorted(_extensions(folder))}")
    return path


def list_checkpoints(folder: str, suffixes: tuple[str, ...], bundled_dir: str) -> list[str]:
    """A checkpoint combo: the user's files in ``folder`` with these suffixes, then the pack's bundled
    ``.safetensors`` in ``bundled_dir`` as ``"[bundled] <file>"``."""
    files = [f for f in list_models(folder) if f.lower().endswith(suffixes)]
    bundled = sorted(BUNDLED_PREFIX + f for f in os.listdir(bundled_dir)
                     if f.endswith(".safetensors")) if os.path.isdir(bundled_dir) else []
    return files + bundled


def resolve_checkpoint(folder: str, choice: str, bundled_dir: str, input_name: str = "checkpoint") -> str:
    """Full path of a list_checkpoints entry: a bundled file in ``bundled_dir`` or a model file."""
    if choice.startswith(BUNDLED_PREFIX):
        path = contained(bundled_dir, choice[len(BUNDLED_PREFIX):], input_name)
        if not path.is_file():
            raise ModelFileError(f"{input_name}: file not found: {choice!r} in the bundled checkpoints {bundled_dir}")
        return str(path)
    return resolve_model(folder, choice, input_name)


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
    """For IS_CHANGED: the input file's modification time (NaN when missing or not allowed, so the node
    reruns and reports it)."""
    try:
        path = contained(input_directory(), filename, "input")
    except InputError:
        return float("nan")
    return path.stat().st_mtime if path.is_file() else float("nan")


def resolve_input(filename: str, input_name: str) -> str:
    path = contained(input_directory(), filename, input_name)
    if not path.is_file():
        raise InputError(input_name, f"file not found: {filename!r} in the input directory {input_directory()}")
    return str(path)


def output_path(filename_prefix: str, suffix: str) -> tuple[str, str, str]:
    """A new, unused output file: (full path, file name, subfolder)."""
    root = output_directory()
    contained(root, filename_prefix, "filename_prefix")  # no absolute path, drive ('C:\\x') or '..'
    subfolder, prefix = os.path.split(filename_prefix.replace("\\", "/"))
    if not prefix or len(os.fsencode(prefix)) > MAX_PREFIX_BYTES:
        raise InputError("filename_prefix", f"{filename_prefix!r:.80} must end with a file name of 1 to "
                                            f"{MAX_PREFIX_BYTES} bytes (the counter and extension follow it)")
    folder = contained(root, subfolder, "filename_prefix") if subfolder else Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    counter = 1
    while (folder / f"{prefix}_{counter:05d}{suffix}").exists():
        counter += 1
    name = f"{prefix}_{counter:05d}{suffix}"
    return str(folder / name), name, subfolder


def save_output(filename_prefix: str, suffix: str, write: Callable[[str], None], summary: str) -> dict:
    """An output node's save: ``write(path)`` to a new output file, and the ui dict naming it."""
    path, name, subfolder = output_path(filename_prefix, suffix)
    write(path)
    return {"ui": {"text": [f"{summary} -> {os.path.join(subfolder, name)}"],
                   "files": [{"filename": name, "subfolder": subfolder, "type": "output"}]}}


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
