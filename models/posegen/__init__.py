"""PoseGen on Wan2.1: reference tokens, pose and hand-normal conditioning, segment interleaving and
background KV-sharing (paper: posegen_incontext_lora_long_video)."""
