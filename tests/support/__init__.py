"""Test helpers: tiny models, the graph runner and ComfyUI stand-ins (imported as ``support.*``)."""
