"""The 3D fact finder on hand-built stick-figure motions (one per fact kind), on the three real mocap
clips (what each really does, judged from its root path, heading and heights), under mirroring, and
on bad input."""

import time

import numpy as np
import pytest
import torch
from posemotion.models.captioning import facts3d
from posemotion.models.captioning.facts import Fact, mirrored
from posemotion.models.captioning.facts3d import find_facts_3d
from posemotion.models.core.errors import InputError
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.mirror import mirror_joints
from posemotion.models.tokenizers.posecodes import category_index, pose_codes
from support import stick_figures as sf


def kinds(facts: list[Fact]) -> set[str]:
    return {fact.kind for fact in facts}


def of(facts: list[Fact], kind: str) -> list[Fact]:
    return [fact for fact in facts if fact.kind == kind]


def key(fact: Fact):
    return (fact.start, fact.end, fact.kind, fact.side or "", fact.direction or "", fact.amount or 0, fact.detail or "")


@pytest.fixture(scope="module")
def clips(mocap_dir) -> dict[str, tuple[np.ndarray, float]]:
    out = {}
    for name, args in (("cmu", ("test.asf", "test.amc")), ("mocapbank", ("test_mocapbank.bvh",)),
                       ("mixamo", ("test_freebvh.bvh",))):
        motion = read_motion(*(mocap_dir / arg for arg in args))
        out[name] = (motion.joints.numpy(), motion.fps)
    return out


@pytest.fixture(scope="module")
def found(clips) -> dict[str, list[Fact]]:
    return {name: find_facts_3d(joints, fps) for name, (joints, fps) in clips.items()}


# --- hand-built motions -------------------------------------------------------------------------

def test_a_neutral_standing_figure_only_stands_still():
    facts = find_facts_3d(sf.standing(2.0), sf.FPS)
    assert [(f.kind, f.start, f.end) for f in facts] == [("stand_still", 0.0, 2.0)]


@pytest.mark.parametrize("velocity, facing, direction", [
    ((0.0, 0.0, 1.2), 0.0, "forward"),
    ((0.0, 0.0, -1.2), 0.0, "backward"),
    ((1.2, 0.0, 0.0), 0.0, "left"),       # towards +x: the figure's left side
    ((-1.2, 0.0, 0.0), 0.0, "right"),
    ((1.2, 0.0, 0.0), 90.0, "forward"),   # turned to face +x, moving along +x
    ((0.0, 0.0, 1.2), 90.0, "right"),     # facing +x, its right side is +z
])
def test_walk_direction_is_relative_to_the_facing(velocity, facing, direction):
    joints = sf.translated(sf.yawed(sf.with_leg_swings(sf.standing(2.0), 1.2), facing), velocity)
    walks = of(find_facts_3d(joints, sf.FPS), "walk")
    assert [(f.direction, f.start, f.end) for f in walks] == [(direction, 0.0, 2.0)]
    assert not of(find_facts_3d(joints, sf.FPS), "run")


def test_a_rigid_translation_walks_and_a_fast_one_runs():
    walk = find_facts_3d(sf.translated(sf.standing(2.0), (0, 0, 1.2)), sf.FPS)
    run = find_facts_3d(sf.translated(sf.standing(2.0), (0, 0, 3.0)), sf.FPS)
    assert [(f.kind, f.direction) for f in walk] == [("walk", "forward")]
    assert [(f.kind, f.direction) for f in run] == [("run", "forward")]
    slow = find_facts_3d(sf.translated(sf.standing(2.0), (0, 0, 0.1)), sf.FPS)
    assert kinds(slow) == {"stand_still"}


@pytest.mark.parametrize("degrees, direction", [(90.0, "left"), (-90.0, "right"), (180.0, "left")])
def test_a_yaw_ramp_turns_by_its_angle(degrees, direction):
    joints = sf.standing(2.5)
    ramp = np.clip((sf.times(joints) - 0.5) / 1.5, 0.0, 1.0) * degrees
    turns = of(find_facts_3d(sf.yawed(joints, ramp), sf.FPS), "turn")
    assert len(turns) == 1
    assert turns[0].direction == direction and turns[0].amount == abs(degrees)
    assert 0.3 <= turns[0].start <= 0.6 and 1.9 <= turns[0].end <= 2.2


def test_small_turns_are_not_reported():
    joints = sf.standing(2.5)
    ramp = np.clip((sf.times(joints) - 0.5) / 1.5, 0.0, 1.0) * 30.0
    assert not of(find_facts_3d(sf.yawed(joints, ramp), sf.FPS), "turn")


def test_a_wrist_oscillating_above_the_shoulder_waves_with_its_side():
    facts = find_facts_3d(sf.waving("right"), sf.FPS)
    waves = of(facts, "wave")
    assert [f.side for f in waves] == ["right"] and waves[0].seconds >= 1.0
    assert [(f.side, f.detail) for f in of(facts, "raise_arm")] == [("right", None)]
    still = sf.waving("right", amplitude=0.03)  # jitter, not a wave
    assert not of(find_facts_3d(still, sf.FPS), "wave")


@pytest.mark.parametrize("sides, height, side, detail", [
    (("left", "right"), 0.45, "both", "above_head"),
    (("left",), 0.45, "left", "above_head"),
    (("right",), 0.12, "right", None),
])
def test_raised_arms(sides, height, side, detail):
    raises = of(find_facts_3d(sf.arms_up(sides, height=height), sf.FPS), "raise_arm")
    assert [(f.side, f.detail) for f in raises] == [(side, detail)]
    assert raises[0].start == pytest.approx(0.5, abs=0.1) and raises[0].end == pytest.approx(1.5, abs=0.1)


def test_hands_meeting_after_being_apart_clap():
    claps = of(find_facts_3d(sf.clapping(2.5), sf.FPS), "clap")
    assert len(claps) == 1 and claps[0].start < 1.0 < claps[0].end
    assert not of(find_facts_3d(sf.standing(2.0), sf.FPS), "clap")


def test_both_feet_leaving_the_floor_jump():
    facts = find_facts_3d(sf.jumping(), sf.FPS)
    jumps = of(facts, "jump")
    assert len(jumps) == 1 and 0.75 <= jumps[0].start <= 0.95 and 1.15 <= jumps[0].end <= 1.35
    assert not of(find_facts_3d(sf.jumping(height=0.04), sf.FPS), "jump")


def test_root_height_events():
    assert [(f.kind, round(f.start, 1), round(f.end, 1)) for f in find_facts_3d(sf.lowered(0.4), sf.FPS)
            if f.kind in ("crouch", "kneel", "sit", "lie")] == [("crouch", 0.5, 1.5)]
    assert not {"crouch", "kneel", "sit"} & kinds(find_facts_3d(sf.lowered(0.08), sf.FPS))
    assert [f.kind for f in find_facts_3d(sf.kneeling(), sf.FPS) if f.kind in ("crouch", "kneel", "sit")] == ["kneel"]
    assert [f.kind for f in find_facts_3d(sf.sitting(), sf.FPS) if f.kind in ("crouch", "kneel", "sit")] == ["sit"]
    lie = find_facts_3d(sf.lying(), sf.FPS)
    assert [(f.kind, f.start, f.end) for f in lie if f.kind in ("crouch", "kneel", "sit", "lie")] == [("lie", 0.0, 2.0)]
    assert "stand_still" not in kinds(lie)


def test_a_fast_forward_and_up_foot_kicks():
    kicks = of(find_facts_3d(sf.kicking("right"), sf.FPS), "kick")
    assert [f.side for f in kicks] == ["right"] and kicks[0].start < 1.0 < kicks[0].end
    assert not of(find_facts_3d(sf.stepping(("left", "right")), sf.FPS), "kick")


def test_a_foot_that_lands_displaced_steps():
    steps = of(find_facts_3d(sf.stepping(("right",)), sf.FPS), "step")
    assert [f.side for f in steps] == ["right"] and 0.4 <= steps[0].start <= 0.6 and 0.9 <= steps[0].end <= 1.1
    both = of(find_facts_3d(sf.stepping(("right", "left")), sf.FPS), "step")
    assert [f.side for f in both] == ["both"]
    assert not of(find_facts_3d(sf.stepping(("right",), distance=0.03), sf.FPS), "step")


def test_wrists_in_opposite_phase_swing_the_arms():
    swings = of(find_facts_3d(sf.swinging_arms(3.0), sf.FPS), "swing_arms")
    assert [f.side for f in swings] == ["both"] and swings[0].seconds >= 2.0
    assert not of(find_facts_3d(sf.swinging_arms(3.0, opposite=False), sf.FPS), "swing_arms")
    assert not of(find_facts_3d(sf.swinging_arms(3.0, amplitude=0.02), sf.FPS), "swing_arms")


def test_a_held_pose_is_a_pose_fact():
    poses = of(find_facts_3d(sf.arm_out("left"), sf.FPS), "pose")
    assert [(f.detail, f.start, f.end) for f in poses] == [("left upper arm horizontal", 0.0, 2.0)]
    short = sf.standing(2.0)
    short[:20] = sf.arm_out("left", 2.0)[:20]  # 0.67 s is not held long enough
    assert not of(find_facts_3d(short, sf.FPS), "pose")


def test_pose_facts_measure_what_pose_codes_measure(clips):
    """Each pose category is computed here as tokenizers/posecodes.py computes it: the same frames."""
    for joints, fps in clips.values():
        body = facts3d._Body(facts3d._check(joints, fps), fps)
        yaw = np.radians(body.heading)[:, None]
        j = body.raw - body.raw[:, :1] * np.array([1.0, 0.0, 1.0])
        facing = np.stack([j[..., 0] * np.cos(yaw) - j[..., 2] * np.sin(yaw), j[..., 1],
                           j[..., 0] * np.sin(yaw) + j[..., 2] * np.cos(yaw)], -1)   # per frame facing +z
        codes = pose_codes(torch.from_numpy(facing)).numpy()
        expected = codes[:, [category_index(name) for name, *_ in facts3d.POSE_CATEGORIES]]
        mine = facts3d._pose_masks(body)
        assert expected.any()
        assert (mine == expected).mean() > 0.999  # a value exactly on a bin edge may fall either way


# --- mirroring ------------------------------------------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda: sf.waving("right"), lambda: sf.arms_up(("left",)), lambda: sf.kicking("left"),
    lambda: sf.stepping(("right", "left")), lambda: sf.arm_out("right"),
    lambda: sf.translated(sf.with_leg_swings(sf.standing(2.0), 1.2), (1.2, 0, 0)),
    lambda: sf.yawed(sf.standing(2.5), np.clip((np.arange(75) / 30 - 0.5) / 1.5, 0, 1) * 90),
])
def test_a_mirrored_motion_mirrors_its_facts(build):
    joints = build()
    facts = find_facts_3d(joints, sf.FPS)
    assert any(f.side in ("left", "right") or f.direction in ("left", "right") or
               (f.detail and "left" in f.detail or f.detail and "right" in f.detail) for f in facts)
    assert sorted(find_facts_3d(mirror_joints(joints, "smpl_22"), sf.FPS), key=key) == sorted(map(mirrored, facts), key=key)


def test_mirrored_real_clips_swap_sides(clips, found):
    for name in ("mocapbank", "mixamo"):
        joints, fps = clips[name]
        mirrored_facts = find_facts_3d(mirror_joints(joints[:, :22], "smpl_22"), fps)
        assert sorted(mirrored_facts, key=key) == sorted(map(mirrored, found[name]), key=key), name


# --- real clips -----------------------------------------------------------------------------------

def test_cmu_jumps_forward_and_turns_around(found):
    """CMU test.amc: ~10 two-footed jumps forward, a right turn of ~180 degrees at 8.5-10.5 s, more jumps
    back, a left turn of ~180 at 16-17.7 s, jumps again (pelvis peaks 1.2 m vs 0.97 standing)."""
    facts = found["cmu"]
    assert len(of(facts, "jump")) >= 8
    assert not of(facts, "walk") and not of(facts, "run")  # it jumps along, the feet never alternate
    turns = [(f.direction, f.amount, round(f.start)) for f in of(facts, "turn")]
    assert len(turns) == 2
    assert turns[0][0] == "right" and 150 <= turns[0][1] <= 210 and 8 <= turns[0][2] <= 9
    assert turns[1][0] == "left" and 150 <= turns[1][1] <= 210 and 16 <= turns[1][2] <= 17
    assert of(facts, "stand_still")[0].start == 0.0
    assert not {"kneel", "sit", "lie", "kick", "wave", "clap"} & kinds(facts)


def test_mocapbank_kneels_down_and_stands_up(found):
    """MocapBank: stands 3 s, steps, goes down on the right knee (knee 0.01 m above the floor) from ~4.6 s
    to ~11.4 s, stands up and stands still."""
    facts = found["mocapbank"]
    kneels = of(facts, "kneel")
    assert len(kneels) == 1 and 4.3 <= kneels[0].start <= 5.0 and 11.0 <= kneels[0].end <= 11.8
    still = of(facts, "stand_still")
    assert still[0].start == 0.0 and still[-1].end == pytest.approx(455 / 30)
    assert not {"walk", "run", "jump", "turn", "lie", "sit"} & kinds(facts)


def test_mixamo_walks_forward_and_turns_back(found):
    """Mixamo test_freebvh: walks forward ~0.9 m, turns left through 180 degrees while walking on."""
    facts = found["mixamo"]
    walks = of(facts, "walk")
    assert walks and all(f.direction == "forward" for f in walks) and walks[0].start == 0.0
    turns = of(facts, "turn")
    assert [(f.direction, f.amount) for f in turns] == [("left", 180.0)]


# --- input checks and speed ---------------------------------------------------------------------

def test_torch_and_smpl_52_input_give_the_same_facts(clips):
    joints, fps = clips["mixamo"]
    assert joints.shape[1] == 52
    assert find_facts_3d(torch.from_numpy(joints), fps) == find_facts_3d(joints[:, :22], fps)


@pytest.mark.parametrize("joints, fps, name", [
    (np.full((30, 22, 3), np.nan), 30.0, "motion"),
    (np.zeros((30, 17, 3)), 30.0, "motion"),
    (np.zeros((30, 22)), 30.0, "motion"),
    (sf.standing(0.4), 30.0, "motion"),   # shorter than MIN_SECONDS
    (sf.standing(1.0), 0.0, "fps"),
    (sf.standing(1.0), -30.0, "fps"),
    ("not joints", 30.0, "motion"),
])
def test_bad_input_is_named(joints, fps, name):
    if isinstance(joints, np.ndarray) and joints.ndim == 3 and joints.shape[1] == 22 and np.isfinite(joints).all():
        joints = joints.copy()
    with pytest.raises(InputError) as error:
        find_facts_3d(joints, fps)
    assert error.value.input_name == name


def test_inf_is_refused():
    joints = sf.standing(1.0)
    joints[5, 3, 1] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        find_facts_3d(joints, sf.FPS)


def test_a_training_window_is_fast(clips):
    joints, fps = clips["cmu"]
    window = joints[::4][:46]  # 46 frames at 30 fps
    find_facts_3d(window, 30.0)
    durations = []
    for _ in range(15):
        start = time.perf_counter()
        find_facts_3d(window, 30.0)
        durations.append(time.perf_counter() - start)
    assert np.median(durations) < 0.02  # ~3 ms measured on an idle core; generous for shared machines


@pytest.mark.parametrize("clip, expected", [("humanoid3d_run.txt", ("run", None, "forward")),
                                            ("humanoid3d_kick.txt", ("kick", "right", None)),
                                            ("humanoid3d_walk.txt", ("walk", None, "forward"))])
def test_deepmimic_clips(mocap_dir, clip, expected):
    """A run's flights are strides, not jumps (one-footed take-off at running speed); the DeepMimic
    kick is a high sideways kick of the right leg."""
    motion = read_motion(mocap_dir / "deepmimic" / clip, loop_seconds=4.0)
    facts = find_facts_3d(motion.joints.numpy(), motion.fps)
    assert expected in {(f.kind, f.side, f.direction) for f in facts}
    if clip == "humanoid3d_run.txt":
        assert not of(facts, "jump")
