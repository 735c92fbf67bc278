"""HumanML3D-layout folder I/O: a hand-written folder in the real layout, round trips, clear errors."""

import math
import os

import numpy as np
import pytest
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.motion import dataset_folder as df

# Lines as HumanML3D ships them (texts/NAME.txt): whole-motion captions and one sub-span in seconds.
HUMANML3D_TEXT = (
    "a man kicks something or someone with his left leg.#a/DET man/NOUN kick/VERB something/PRON or/CCONJ "
    "someone/PRON with/ADP his/DET left/ADJ leg/NOUN#0.0#0.0\n"
    "the person walks forward and then turns around.#the/DET person/NOUN walk/VERB forward/ADV and/CCONJ "
    "then/ADV turn/VERB around/ADV#1.5#4.25\n"
    "\n"
)


def _hand_written_folder(root, dims=263, joints=22, frames=40):
    rng = np.random.default_rng(0)
    for sub in ("new_joint_vecs", "new_joints", "texts"):
        os.makedirs(root / sub)
    np.save(root / "new_joint_vecs" / "000001.npy", rng.normal(size=(frames - 1, dims)).astype(np.float32))
    np.save(root / "new_joints" / "000001.npy", rng.normal(size=(frames, joints, 3)).astype(np.float32))
    (root / "texts" / "000001.txt").write_text(HUMANML3D_TEXT)
    (root / "train.txt").write_text("000001\nM000001\n")
    (root / "test.txt").write_text("000002\n\n")
    np.save(root / "Mean.npy", np.zeros(dims, np.float32))
    np.save(root / "Std.npy", np.ones(dims, np.float32))
    return root


def test_reads_a_hand_written_humanml3d_folder(tmp_path):
    folder = str(_hand_written_folder(tmp_path))
    assert df.read_split(folder, "train") == ["000001", "M000001"]
    assert df.read_split(folder, "test") == ["000002"]
    lines = df.read_texts(folder, "000001")
    assert len(lines) == 2
    assert lines[0].caption == "a man kicks something or someone with his left leg."
    assert lines[0].tokens[:3] == ("a/DET", "man/NOUN", "kick/VERB") and lines[0].whole_motion
    assert (lines[1].start, lines[1].end) == (1.5, 4.25) and not lines[1].whole_motion
    assert df.read_item(folder, "000001").shape == (39, 263)
    assert df.read_joints(folder, "000001").shape == (40, 22, 3)
    mean, std = df.read_stats(folder)
    assert mean.shape == std.shape == (263,)


def test_reads_a_kit_ml_folder(tmp_path):
    folder = str(_hand_written_folder(tmp_path, dims=251, joints=21))
    assert df.read_item(folder, "000001").shape == (39, 251)
    assert df.read_joints(folder, "000001").shape == (40, 21, 3)


def test_round_trip_is_exact_and_deterministic(tmp_path):
    rng = np.random.default_rng(1)
    features = rng.normal(size=(59, 263)).astype(np.float32)
    joints = rng.normal(size=(60, 22, 3)).astype(np.float32)
    lines = [df.format_text_line("a person waves.", ["a/DET", "person/NOUN", "wave/VERB"]),
             df.format_text_line("a person jumps.", ["a/DET", "person/NOUN", "jump/VERB"], 0.5, 1.25)]
    for folder in (tmp_path / "a", tmp_path / "b"):
        df.write_item(str(folder), "w1", features, joints, lines)
        df.write_split(str(folder), "train", ["w1"])
        df.write_stats(str(folder), features.mean(0), features.std(0))
    a = str(tmp_path / "a")
    np.testing.assert_array_equal(df.read_item(a, "w1"), features)
    np.testing.assert_array_equal(df.read_joints(a, "w1"), joints)
    assert [line.to_line() for line in df.read_texts(a, "w1")] == lines
    assert df.read_texts(a, "w1")[1].start == 0.5
    assert df.read_split(a, "train") == ["w1"]
    for relative in ("new_joint_vecs/w1.npy", "new_joints/w1.npy", "texts/w1.txt", "train.txt", "Mean.npy", "Std.npy"):
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes(), relative


def test_nan_span_means_whole_motion(tmp_path):
    line = df.parse_text_line("a person sits.#a/DET person/NOUN sit/VERB#nan#nan")
    assert math.isnan(line.start) and line.whole_motion


def test_malformed_text_line_names_file_and_line(tmp_path):
    folder = _hand_written_folder(tmp_path)
    (folder / "texts" / "bad.txt").write_text("a person walks.#a/DET person/NOUN walk/VERB#0.0#0.0\n"
                                              "no separators here\n")
    with pytest.raises(InputError, match=r"bad\.txt line 2: expected 'caption#tokens#start#end'"):
        df.read_texts(str(folder), "bad")
    (folder / "texts" / "bad2.txt").write_text("a person walks.#a/DET#soon#0.0\n")
    with pytest.raises(InputError, match="start/end must be numbers"):
        df.read_texts(str(folder), "bad2")


def test_missing_files_name_the_folder(tmp_path):
    folder = str(_hand_written_folder(tmp_path))
    with pytest.raises(ModelFileError, match="file not found: '.*new_joint_vecs/absent.npy'"):
        df.read_item(folder, "absent")
    with pytest.raises(ModelFileError, match="val.txt' "):
        df.read_split(folder, "val")
    with pytest.raises(ModelFileError, match="file not found: .*Mean.npy"):
        df.read_stats(str(tmp_path / "nowhere"))
    (tmp_path / "new_joints" / "broken.npy").write_bytes(b"not numpy")
    with pytest.raises(ModelFileError, match="not a readable .npy"):
        df.read_joints(folder, "broken")


def test_writer_rejects_bad_items_before_writing(tmp_path):
    joints = np.zeros((10, 22, 3), np.float32)
    with pytest.raises(InputError, match="8 feature rows for 10 frames"):
        df.write_item(str(tmp_path), "x", np.zeros((8, 263)), joints, ["a#a/DET#0.0#0.0"])
    with pytest.raises(InputError, match="3 '#'"):
        df.write_item(str(tmp_path), "x", np.zeros((9, 263)), joints, ["no fields"])
    with pytest.raises(InputError, match="NaN"):
        df.write_item(str(tmp_path), "x", np.full((9, 263), np.nan), joints, ["a#a/DET#0.0#0.0"])
    with pytest.raises(InputError, match="plain file name"):
        df.write_item(str(tmp_path), "../x", None, joints, ["a#a/DET#0.0#0.0"])
    assert not os.path.exists(tmp_path / "new_joints")
    df.write_item(str(tmp_path), "pose_only", None, joints, ["a#a/DET#0.0#0.0"])
    assert not df.has_features(str(tmp_path), "pose_only")
