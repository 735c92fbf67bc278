"""PoseMotion: pose and motion nodes for ComfyUI (see README.md).

ComfyUI imports this folder as a module; pip installs it as the ``posemotion`` package.
"""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
