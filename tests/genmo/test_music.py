"""Music features: EDGE's 35-d layout, one row per motion frame, beats on synthetic click tracks."""

import librosa
import numpy as np
import pytest
import soundfile
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.resources import package_file
from posemotion.models.genmo.conditions import MUSIC_DIM
from posemotion.models.genmo.music import (
    BEAT_COLUMN,
    MUSIC_LAYOUT,
    audio_to_music,
    beat_bpm,
    music_features,
)

RATE = 22050
FPS = 20
SECONDS = 8.0
FIRST_CLICK = 0.5
BPM_TOLERANCE = 2.0  # the benchmark's criterion (benchmarks/genmo_music.py)
ONE_FRAME = 1.0 + 1e-9  # click times in frames are not whole numbers: allow float rounding


def click_track(bpm: float, seconds: float = SECONDS, rate: int = RATE) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(FIRST_CLICK, seconds - 0.2, 60.0 / bpm)
    return librosa.clicks(times=times, sr=rate, length=int(seconds * rate)).astype(np.float32), times


@pytest.fixture(scope="module")
def tracks():
    return {bpm: (click_track(bpm), music_features(click_track(bpm)[0], RATE, FPS)) for bpm in (90, 120, 150)}


@pytest.mark.parametrize("bpm", [90, 120, 150])
def test_beats_fall_within_one_frame_of_the_clicks(tracks, bpm):
    (_, times), (features, mask) = tracks[bpm]
    beats = np.nonzero(features[:, BEAT_COLUMN].numpy())[0]
    click_frames = times * FPS
    assert len(beats) >= len(times) - 2  # the tracker may skip a click at either end, never more
    for beat in beats:
        assert np.abs(click_frames - beat).min() <= ONE_FRAME, (beat, click_frames)
    assert abs(beat_bpm(features, FPS) - bpm) <= BPM_TOLERANCE
    assert mask.all()


def test_layout_dims_and_one_row_per_frame(tracks):
    (audio, times), (features, mask) = tracks[120]
    assert features.dtype == torch.float32 and mask.dtype == torch.bool
    assert features.shape == (int(SECONDS * FPS) + 1, MUSIC_DIM)  # centred frames at 0, 1/fps, ..., 8 s
    spans = sorted(MUSIC_LAYOUT.values(), key=lambda s: s.start)
    assert spans[0].start == 0 and spans[-1].stop == MUSIC_DIM
    assert all(a.stop == b.start for a, b in zip(spans, spans[1:]))
    assert [s.stop - s.start for s in spans] == [1, 20, 12, 1, 1]
    for name in ("onset_peaks", "beats"):
        assert set(features[:, MUSIC_LAYOUT[name]].unique().tolist()) == {0.0, 1.0}
    # onset peaks: every click is detected, within a frame
    peaks = np.nonzero(features[:, MUSIC_LAYOUT["onset_peaks"].start].numpy())[0]
    assert all(np.abs(peaks - t * FPS).min() <= ONE_FRAME for t in times)
    # the envelope is strongest at the clicks, not between them
    envelope = features[:, 0].numpy()
    assert envelope[peaks].mean() > 5 * np.median(envelope)
    chroma = features[:, MUSIC_LAYOUT["chroma"]]
    assert (chroma >= 0).all() and chroma.abs().sum() > 0


def test_pad_cut_and_channels(tracks):
    (audio, _), (full, _) = tracks[120]
    with pytest.warns(UserWarning, match="161 frames .* the motion has 200"):
        padded, mask = music_features(audio, RATE, FPS, num_frames=200)
    assert padded.shape == (200, MUSIC_DIM) and mask[:161].all() and not mask[161:].any()
    assert torch.equal(padded[:161], full) and not padded[161:].any()
    cut, mask = music_features(audio, RATE, FPS, num_frames=50)
    assert torch.equal(cut, full[:50]) and mask.all()
    stereo = np.stack([audio, audio])
    assert torch.allclose(music_features(stereo, RATE, FPS)[0], full)
    from_comfy, _ = audio_to_music({"waveform": torch.from_numpy(stereo)[None], "sample_rate": RATE}, FPS, 50)
    assert torch.allclose(from_comfy, full[:50])


def test_other_frame_rate_keeps_one_row_per_frame():
    audio, times = click_track(120, seconds=4.0)
    features, _ = music_features(audio, RATE, fps=30)
    assert features.shape == (4 * 30 + 1, MUSIC_DIM)
    assert abs(beat_bpm(features, 30) - 120) <= BPM_TOLERANCE


def test_real_track_tempo_matches_its_label():
    # immich-memories-music's LICENSE-MUSIC lists happy_electronic_1.opus at 123 BPM
    path = package_file("immich_memories_music", "tracks", "happy", "happy_electronic_1.opus")
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    features, mask = music_features(audio.T, rate, FPS)
    assert abs(beat_bpm(features, FPS) - 123) <= BPM_TOLERANCE
    assert features.shape[0] == mask.shape[0] == pytest.approx(len(audio) / rate * FPS, abs=1)


@pytest.mark.parametrize("waveform, rate, name, match", [
    (np.zeros(RATE * 2, np.float32), RATE, "music", "silent"),
    (np.full(RATE * 2, 1e-6, np.float32), RATE, "music", "silent"),
    (click_track(120, seconds=0.5)[0], RATE, "music", "0.50 s"),
    (np.where(np.arange(RATE * 2) == 7, np.nan, 0.1).astype(np.float32), RATE, "music", "NaN"),
    (np.ones((2, 2, RATE)), RATE, "music", "shape"),
    ((np.ones(RATE * 2) * 1000).astype(np.int16), RATE, "music", "float"),
    (click_track(120)[0], 0, "sample_rate", "positive"),
])
def test_bad_music_names_the_input(waveform, rate, name, match):
    with pytest.raises(InputError, match=match) as error:
        music_features(waveform, rate, FPS)
    assert error.value.input_name == name


@pytest.mark.parametrize("kwargs, name", [({"fps": 0}, "fps"), ({"fps": float("nan")}, "fps"),
                                          ({"num_frames": 0}, "num_frames")])
def test_bad_settings_name_the_input(kwargs, name):
    with pytest.raises(InputError) as error:
        music_features(click_track(120, seconds=2)[0], RATE, **kwargs)
    assert error.value.input_name == name


def test_bad_audio_and_beatless_features():
    with pytest.raises(InputError, match="AUDIO"):
        audio_to_music({"samples": torch.zeros(1, 1, RATE)}, FPS, 10)
    with pytest.raises(InputError, match="batch, channels, samples"):
        audio_to_music({"waveform": torch.zeros(RATE), "sample_rate": RATE}, FPS, 10)
    one_beat = torch.zeros(40, MUSIC_DIM)
    one_beat[5, BEAT_COLUMN] = 1
    with pytest.raises(InputError, match="1 beat"):
        beat_bpm(one_beat, FPS)
    with pytest.raises(InputError) as error:
        beat_bpm(torch.zeros(40, 34), FPS)
    assert error.value.input_name == "features"
