"""2D/3D pose detection in images and video (MediaPipe)."""
