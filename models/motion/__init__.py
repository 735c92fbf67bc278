"""3D motion: file formats (one reader and one writer each, ``io`` over them), source rigs and
retargeting onto SMPL joints, resampling, HumanML3D features and rotations."""
