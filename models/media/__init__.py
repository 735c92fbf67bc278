"""Images (ComfyUI IMAGE <-> uint8 frames) and video files."""
