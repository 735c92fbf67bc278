"""ComfyUI node classes (V1 API), importable without ComfyUI.

Each capability has its own module defining NODE_CLASS_MAPPINGS and NODE_DISPLAY_NAME_MAPPINGS.
"""

from importlib import import_module

from . import bridge, validation

NODE_MODULES = ("pose_nodes", "render_nodes", "io_nodes", "forecast_nodes", "motion_nodes", "posegen_nodes",
                "caption_nodes", "llm_nodes", "genmo_nodes")

NODE_CLASS_MAPPINGS: dict[str, type] = {}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
for _name in NODE_MODULES:
    _module = import_module(f".{_name}", __name__)
    # every node checks its inputs against its INPUT_TYPES before running (validation.py)
    NODE_CLASS_MAPPINGS.update({name: validation.validate_on_call(cls) for name, cls in _module.NODE_CLASS_MAPPINGS.items()})
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)

bridge.register_model_folders()
