"""Shared types and formats: errors, progress and resources, the one checkpoint format, POSE_KEYPOINT,
MOTION and the joint layouts. Imports nothing else from the pack."""
