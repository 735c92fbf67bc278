"""Framework-free library behind the PoseMotion nodes and CLI (never imports ComfyUI)."""
