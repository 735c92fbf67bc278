import numpy as np
import torch
from posemotion.models.media.images import as_uint8_frames, to_image


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
