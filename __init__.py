"""PoseMotion: pose and motion nodes for ComfyUI (see README.md).

ComfyUI imports this folder as a module; pip installs it as the ``posemotion`` package.
"""

import importlib

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]


def __getattr__(name: str):
    """The node mappings, imported on first access: ComfyUI reads them with getattr after importing
    the pack, while ``python -m posemotion`` never touches them and so skips importing every node
    (torch, transformers, mediapipe: seconds)."""
    if name not in ("NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        nodes = importlib.import_module(".nodes", __name__)
    except AttributeError as error:  # hasattr() would hide it and ComfyUI would report no nodes at all
        raise ImportError(f"importing the PoseMotion nodes failed: {error!r}") from error
    return getattr(nodes, name)
