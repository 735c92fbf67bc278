import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.media.images import as_uint8_frames, to_image, validate_image


def test_round_trip_and_channel_handling():
    rgb = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    image = to_image(rgb)
    assert image.dtype == torch.float32 and image.shape == (2, 5, 7, 3)
    np.testing.assert_array_equal(as_uint8_frames(image), rgb)
    gray = torch.linspace(0, 1, 35).reshape(1, 5, 7, 1)
    out = as_uint8_frames(gray)
    assert out.shape == (1, 5, 7, 3) and (out[..., 0] == out[..., 2]).all() and out.max() == 255
    rgba = torch.cat([image, torch.zeros(2, 5, 7, 1)], dim=-1)
    np.testing.assert_array_equal(as_uint8_frames(rgba), rgb)
    assert as_uint8_frames(torch.full((1, 2, 2, 3), 7.0)).max() == 255  # out-of-range values clamp


def test_the_finite_check_tells_huge_values_from_infinite_ones():
    """The check sums each frame in float64: the largest float32 values are finite and must pass (and clamp),
    while one NaN or inf anywhere must not, even an inf beside a -inf."""
    assert as_uint8_frames(torch.full((1, 64, 64, 3), 3.4e38)).min() == 255
    for bad in (float("nan"), float("inf"), -float("inf")):
        frames = torch.rand(2, 64, 64, 3)
        frames[1, 63, 0, 2] = bad
        with pytest.raises(InputError, match="image: frame 1 contains NaN or infinite"):
            as_uint8_frames(frames)
    frames = torch.rand(1, 64, 64, 3)
    frames[0, 0, 0, 0], frames[0, 1, 1, 1] = float("inf"), -float("inf")
    with pytest.raises(InputError, match="frame 0"):
        validate_image(frames)
