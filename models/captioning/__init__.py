"""Motion captioning: time-stamped facts found in a motion, English captions made from them, and a
checker that tells how many of a text's facts a motion satisfies.

``facts.py`` documents the data (``Fact``, ``FactQuery``) once; ``facts3d.py`` and ``facts2d.py``
find facts in 3D SMPL joints and in 2D OpenPose-18 poses; ``phrasing.py`` writes captions (and
HumanML3D text lines); ``text_facts.py`` reads the checkable facts out of a text; ``check.py``
scores a motion against a text; ``describe.py`` is the one entry point for a MOTION or POSE_KEYPOINT.

Every caption made here is derived from the motion itself (no human wrote it): wherever a number
depends on these captions, it says so.
"""
