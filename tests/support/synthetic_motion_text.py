"""A small SYNTHETIC HumanML3D-layout folder for the text-motion evaluator tests.

The features are not motion: each item is noise plus a sinusoid on a block of feature dimensions
chosen by an action, at a frequency chosen by a speed; its captions name that action and speed
("a person waves the hand quickly"). So captions depend on the features and a trained evaluator can
beat chance, which is all the tests need. Written with the real layout writer
(``models/motion/dataset_folder.py``).
"""

import numpy as np
from posemotion.models.motion.dataset_folder import format_text_line, write_item, write_split, write_stats

ACTIONS = {  # action -> (first feature dim of its block, caption words with POS)
    "walk": (4, [("walk", "VERB"), ("forward", "ADV")]),
    "wave": (70, [("wave", "VERB"), ("the", "DET"), ("hand", "NOUN")]),
    "jump": (130, [("jump", "VERB"), ("up", "ADV")]),
    "sit": (195, [("sit", "VERB"), ("down", "ADV")]),
    "kick": (230, [("kick", "VERB"), ("the", "DET"), ("ball", "NOUN")]),
    "turn": (0, [("turn", "VERB"), ("left", "ADV")]),
}
SPEEDS = {"slowly": 0.05, "quickly": 0.2}  # cycles per frame
BLOCK = 12  # feature dims each action drives


def caption_lines(action: str, speed: str) -> list[str]:
    words = [("a", "DET"), ("person", "NOUN"), *ACTIONS[action][1], (speed, "ADV")]
    caption = " ".join(w for w, _ in words)
    other = " ".join(["someone", *(w for w, _ in words[2:])])
    other_words = [("someone", "PRON"), *words[2:]]
    return [format_text_line(caption, [f"{w}/{p}" for w, p in words]),
            format_text_line(other, [f"{w}/{p}" for w, p in other_words])]


def synthetic_features(rng, action: str, speed: str, frames: int, dim: int = 263) -> np.ndarray:
    features = rng.normal(0.0, 0.3, size=(frames, dim)).astype(np.float32)
    start = ACTIONS[action][0]
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * SPEEDS[speed] * np.arange(frames) + phase)
    features[:, start:start + BLOCK] += 1.5 * wave[:, None].astype(np.float32)
    return features


def write_synthetic_folder(folder, train_per_label: int = 4, test_per_label: int = 3, seed: int = 0,
                           dim: int = 263, min_frames: int = 40, max_frames: int = 120) -> dict:
    """Write the folder; returns {"train": names, "test": names}. 12 labels (6 actions x 2 speeds)."""
    rng = np.random.default_rng(seed)
    names = {"train": [], "test": []}
    train_features = []
    for action in ACTIONS:
        for speed in SPEEDS:
            for split, count in (("train", train_per_label), ("test", test_per_label)):
                for index in range(count):
                    frames = int(rng.integers(min_frames, max_frames))
                    features = synthetic_features(rng, action, speed, frames, dim)
                    name = f"{split}_{action}_{speed}_{index}"
                    joints = np.zeros((frames + 1, 22 if dim == 263 else 21, 3), np.float32)
                    write_item(folder, name, features, joints, caption_lines(action, speed))
                    names[split].append(name)
                    if split == "train":
                        train_features.append(features)
    for split, listed in names.items():
        write_split(folder, split, listed)
    stacked = np.concatenate(train_features)
    write_stats(folder, stacked.mean(0), stacked.std(0))
    return names
