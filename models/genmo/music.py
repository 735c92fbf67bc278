"""Music -> per-frame music features for the GENMO denoiser (EDGE's 35-d baseline layout).

``music_features(waveform, sample_rate, fps=20, num_frames=None) -> (features, mask)``:
- ``waveform``: numpy array or torch tensor, [N] mono or [C, N] channels first, any sample rate;
  channels are mixed to mono.
- ``features`` [L, 35] float32 torch, one row per motion frame i (the audio around time i / fps):
  ``[0]`` onset strength envelope, ``[1:21]`` 20 MFCCs, ``[21:33]`` 12 chroma (CENS),
  ``[33]`` onset peak one-hot, ``[34]`` beat one-hot (``MUSIC_LAYOUT`` names the slices).
- ``mask`` [L] bool: the frames the music covers. A track shorter than ``num_frames`` is zero-padded
  (mask False there, with a warning naming both lengths); a longer one is cut.

EDGE computes its features at 30 fps with a 512-sample hop by resampling the audio to
30 * 512 = 15360 Hz; we keep the 512-sample hop and resample to ``fps * 512`` Hz (10240 Hz at our
20 fps), so each analysis frame is one motion frame (centred frames: row i is centred on i / fps;
for a frame rate where fps * 512 is not whole the sample rate is rounded, a drift below 0.01 %).
Beats come from librosa's dynamic-programming tracker with EDGE's high tightness (a steady tempo),
held to the tempo of ``meter_tempo`` (EDGE only seeds the tracker with librosa's tempo estimate,
which on the benchmark's labelled tracks more often lands on 4/3 or twice the labelled tempo:
``benchmarks/genmo_music.py``). On click tracks, onset peaks and beats land on the click's frame or
the one after it (librosa's onset envelope peaks up to one 50 ms frame late at 20 fps).

``audio_to_music(audio, fps, num_frames)`` reads ComfyUI's AUDIO dict (first batch item).
``beat_bpm(features, fps)`` reads the tempo back from the beat column.
"""

from __future__ import annotations

import warnings

import librosa
import numpy as np
import torch

from ..core.errors import InputError, positive_number
from .conditions import MUSIC_DIM

HOP_LENGTH = 512  # EDGE's hop, in samples of the resampled audio
N_MFCC = 20
N_CHROMA = 12
BEAT_TIGHTNESS = 100  # EDGE's beat_track tightness: strongly prefers a steady tempo
MUSIC_LAYOUT = {"envelope": slice(0, 1), "mfcc": slice(1, 21), "chroma": slice(21, 33),
                "onset_peaks": slice(33, 34), "beats": slice(34, 35)}
BEAT_COLUMN = 34
TEMPO_RANGE_BPM = (55.0, 185.0)  # beat tempi considered (slow ballads to fast dance music)
TEMPO_STEP_BPM = 0.25
TEMPO_WINDOW_SECONDS = 16.0  # autocorrelation window: several bars at the slowest tempo
METER_BEATS = (1, 4)  # meter_tempo scores a beat period by the periodicity at one beat and one 4/4 bar
SILENCE_PEAK = 1e-4  # peak amplitude (-80 dBFS, full scale 1.0) below which a track counts as silent
MIN_MUSIC_SECONDS = 1.0  # shorter audio has too few analysis frames for onsets and beats

assert MUSIC_LAYOUT["beats"].stop == MUSIC_DIM


def music_features(waveform, sample_rate: int, fps: float = 20, num_frames: int | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame music features [L, 35] and their frame mask [L] (see the module docstring)."""
    fps = positive_number(fps, "fps", "a positive frame rate")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise InputError("sample_rate", f"expected a positive whole number of samples per second, got {sample_rate!r}")
    if num_frames is not None and (isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer))
                                   or num_frames < 1):
        raise InputError("num_frames", f"expected a positive whole number of frames or None, got {num_frames!r}")
    mono = _mono(waveform, int(sample_rate))
    analysis_rate = int(round(fps * HOP_LENGTH))
    audio = librosa.resample(mono, orig_sr=int(sample_rate), target_sr=analysis_rate) \
        if int(sample_rate) != analysis_rate else mono
    columns = torch.from_numpy(_feature_columns(audio.astype(np.float32), analysis_rate))
    return fit_to_frames(columns, len(columns) if num_frames is None else int(num_frames), fps)


def fit_to_frames(features: torch.Tensor, num_frames: int, fps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Music features [N, 35] at ``fps`` cut or zero-padded to ``num_frames`` rows, with the mask of the
    rows the track covers; a track shorter than the motion warns (the rest is generated without music)."""
    covered = min(len(features), num_frames)
    fitted = features.new_zeros(num_frames, MUSIC_DIM)
    fitted[:covered] = features[:covered]
    mask = torch.zeros(num_frames, dtype=torch.bool)
    mask[:covered] = True
    if covered < num_frames:
        warnings.warn(f"music: the track covers {covered / fps:.2f} s of the motion's {num_frames / fps:.2f} s "
                      f"({covered} frames at {fps:g} fps; the motion has {num_frames}); the remaining "
                      f"{num_frames - covered} frames are generated without music", stacklevel=3)
    return fitted, mask


def audio_to_music(audio, fps: float = 20, num_frames: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``music_features`` of ComfyUI's AUDIO ``{"waveform": [B, C, N], "sample_rate": int}`` (batch item 0)."""
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise InputError("music", f"expected an AUDIO dict with 'waveform' and 'sample_rate', "
                                  f"got {type(audio).__name__}")
    waveform = audio["waveform"]
    if not isinstance(waveform, (torch.Tensor, np.ndarray)) or waveform.ndim != 3 or waveform.shape[0] < 1:
        shape = list(getattr(waveform, "shape", []))
        raise InputError("music", f"expected an AUDIO waveform [batch, channels, samples], got shape {shape}")
    return music_features(waveform[0], audio["sample_rate"], fps, num_frames)


def beat_bpm(features, fps: float = 20) -> float:
    """Tempo in beats per minute from the beat one-hot column of ``features`` [L, 35].

    Beats sit on whole frames, so one interval is only known to a frame (at 20 fps, 123 BPM lies
    between 9 and 10 frames: the median interval would say 120). The frames per beat are the
    Theil-Sen slope of beat frame against beat number (the median over all beat pairs of their frame
    gap per beat): long pairs average the rounding out, and the median ignores the few beats the
    tracker places off the grid at the ends of a track.
    """
    fps = positive_number(fps, "fps", "a positive frame rate")
    features = torch.as_tensor(features)
    if features.ndim != 2 or features.shape[1] != MUSIC_DIM:
        raise InputError("features", f"expected music features [L, {MUSIC_DIM}], got {list(features.shape)}")
    beats = torch.nonzero(features[:, BEAT_COLUMN] > 0.5).flatten().double()
    if len(beats) < 2:
        raise InputError("music", f"found {len(beats)} beat(s); at least two are needed for a tempo")
    first, second = torch.triu_indices(len(beats), len(beats), offset=1)
    frames_per_beat = ((beats[second] - beats[first]) / (second - first)).median()
    return float(60.0 * fps / frames_per_beat)


def meter_tempo(envelope: np.ndarray, frame_rate: float) -> float:
    """The track's tempo (BPM) from its onset envelope sampled at ``frame_rate`` Hz.

    A candidate beat period scores the envelope's autocorrelation at one beat plus at one 4/4 bar
    (four beats). The beat alone often prefers a syncopated 3-sixteenth period (4/3 of the tempo)
    or an off-beat subdivision; requiring the bar to repeat as well picks the metrical beat.
    Candidates span ``TEMPO_RANGE_BPM`` in ``TEMPO_STEP_BPM`` steps.
    """
    window = max(int(TEMPO_WINDOW_SECONDS * frame_rate), 8)
    autocorrelation = librosa.autocorrelate(envelope - envelope.mean()) if len(envelope) <= window else \
        librosa.feature.tempogram(onset_envelope=envelope, sr=frame_rate, hop_length=1, win_length=window).mean(1)
    lags = np.arange(len(autocorrelation))
    candidates = np.arange(TEMPO_RANGE_BPM[0], TEMPO_RANGE_BPM[1] + TEMPO_STEP_BPM, TEMPO_STEP_BPM)
    period = 60.0 * frame_rate / candidates
    score = sum(np.interp(period * beats, lags, autocorrelation, right=0.0) for beats in METER_BEATS)
    return float(candidates[int(np.argmax(score))])


def _feature_columns(audio: np.ndarray, rate: int) -> np.ndarray:
    """[frames, 35] EDGE baseline columns of mono audio sampled at ``rate`` = fps * HOP_LENGTH."""
    envelope = librosa.onset.onset_strength(y=audio, sr=rate, hop_length=HOP_LENGTH)
    mfcc = librosa.feature.mfcc(y=audio, sr=rate, n_mfcc=N_MFCC, hop_length=HOP_LENGTH).T
    chroma = librosa.feature.chroma_cens(y=audio, sr=rate, hop_length=HOP_LENGTH, n_chroma=N_CHROMA).T
    frames = min(len(envelope), len(mfcc), len(chroma))
    peaks = librosa.onset.onset_detect(onset_envelope=envelope, sr=rate, hop_length=HOP_LENGTH)
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=rate, hop_length=HOP_LENGTH,
                                       bpm=meter_tempo(envelope, rate / HOP_LENGTH), tightness=BEAT_TIGHTNESS)
    columns = np.zeros((frames, MUSIC_DIM), dtype=np.float32)
    columns[:, MUSIC_LAYOUT["envelope"]] = envelope[:frames, None]
    columns[:, MUSIC_LAYOUT["mfcc"]] = mfcc[:frames]
    columns[:, MUSIC_LAYOUT["chroma"]] = chroma[:frames]
    columns[peaks[peaks < frames], MUSIC_LAYOUT["onset_peaks"].start] = 1.0
    columns[beats[beats < frames], BEAT_COLUMN] = 1.0
    return columns


def _mono(waveform, sample_rate: int) -> np.ndarray:
    if isinstance(waveform, torch.Tensor):
        waveform = waveform.detach().cpu().numpy()
    if not isinstance(waveform, np.ndarray) or waveform.ndim not in (1, 2):
        shape = list(getattr(waveform, "shape", []))
        raise InputError("music", f"expected a waveform [samples] or [channels, samples], got shape {shape}")
    if not np.issubdtype(waveform.dtype, np.floating):
        raise InputError("music", f"expected float samples (full scale 1.0), got {waveform.dtype}")
    mono = waveform.astype(np.float64).mean(axis=0) if waveform.ndim == 2 else waveform.astype(np.float64)
    if not np.isfinite(mono).all():
        raise InputError("music", "the waveform contains NaN or infinite samples")
    seconds = len(mono) / sample_rate
    if seconds < MIN_MUSIC_SECONDS:
        raise InputError("music", f"the track lasts {seconds:.2f} s; at least {MIN_MUSIC_SECONDS:g} s is needed")
    peak = float(np.abs(mono).max())
    if peak < SILENCE_PEAK:
        raise InputError("music", f"the track is silent (peak amplitude {peak:.1e}, below {SILENCE_PEAK:g})")
    return mono
