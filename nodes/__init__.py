"""ComfyUI node classes (V1 API), importable without ComfyUI."""

from . import bridge, forecast_nodes, io_nodes, pose_nodes, render_nodes

NODE_CLASS_MAPPINGS: dict[str, type] = {}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
for _module in (pose_nodes, render_nodes, io_nodes, forecast_nodes):
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)

bridge.register_model_folders()
