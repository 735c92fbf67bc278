"""Forecasting nodes called directly: BLIP loading and encoding, text encoding, loading, forecasting."""

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.core.pose_keypoint import make_frame, make_person
from posemotion.nodes.forecast_nodes import (
    PoseMotionBLIPEncode,
    PoseMotionForecastPoses,
    PoseMotionLoadBLIP,
    PoseMotionLoadPoseForecaster,
    PoseMotionTextEncode,
)


def _pose(width=64, height=48):
    body = np.zeros((18, 3), np.float32)
    body[:14] = np.column_stack([np.linspace(0.3, 0.7, 14), np.linspace(0.2, 0.9, 14), np.ones(14)])
    return [make_frame([make_person(body=body)], width, height)]


def test_blip_loader_lists_and_encodes(comfy_dirs, astronaut_image):
    assert PoseMotionLoadBLIP.INPUT_TYPES()["required"]["model"][0] == ["blip-itm-base-coco"]
    (blip,) = PoseMotionLoadBLIP().load("blip-itm-base-coco")
    (conditioning,) = PoseMotionBLIPEncode().encode(blip, astronaut_image, "walk forward")
    assert conditioning.encoder == "blip:blip-itm-base-coco" and conditioning.tokens.shape[-1] == 32
    assert conditioning.image_tokens is not None and conditioning.tokens.device.type == "cpu"
    with pytest.raises(InputError, match="text"):
        PoseMotionBLIPEncode().encode(blip, astronaut_image, "   ")
    with pytest.raises(ModelFileError, match="'blip'"):
        PoseMotionLoadBLIP().load("no-such-model")


def test_blip_forecast_end_to_end(comfy_dirs, astronaut_image):
    (blip,) = PoseMotionLoadBLIP().load("blip-itm-base-coco")
    (conditioning,) = PoseMotionBLIPEncode().encode(blip, astronaut_image, "walk forward")
    (forecaster,) = PoseMotionLoadPoseForecaster().load("one_stage_blip.safetensors")
    out = PoseMotionForecastPoses().forecast(forecaster, conditioning, _pose(), 20, 24.0)
    frames, fps = out["result"]
    assert len(frames) == 21 and fps == 24.0 and frames[0] == _pose()[0]
    assert frames[0]["people"][0]["pose_keypoints_2d"] != frames[20]["people"][0]["pose_keypoints_2d"]
    with pytest.raises(InputError, match="horizon: expected 1..45"):
        PoseMotionForecastPoses().forecast(forecaster, conditioning, _pose(), 46, 30.0)
    (text_conditioning,) = PoseMotionTextEncode().encode("walk forward")
    with pytest.raises(InputError, match="features come from encoder 'minilm-l6'"):
        PoseMotionForecastPoses().forecast(forecaster, text_conditioning, _pose(), 10, 30.0)
    with pytest.raises(InputError, match="no person found in the image: connect a POSE_KEYPOINT"):
        PoseMotionForecastPoses().forecast(forecaster, conditioning, [make_frame([], 64, 48)], 10, 30.0)
    with pytest.raises(ModelFileError, match="file not found: 'one_stage_missing.safetensors' in model folder 'pose_forecast'"):
        PoseMotionLoadPoseForecaster().load("one_stage_missing.safetensors")


def test_bundled_forecaster_runs_from_text(comfy_dirs):
    choices = PoseMotionLoadPoseForecaster.INPUT_TYPES()["required"]["checkpoint"][0]
    assert "[bundled] one_stage_minilm.safetensors" in choices and "one_stage_blip.safetensors" in choices
    (forecaster,) = PoseMotionLoadPoseForecaster().load("[bundled] one_stage_minilm.safetensors")
    (conditioning,) = PoseMotionTextEncode().encode("wave arms")
    frames, _ = PoseMotionForecastPoses().forecast(forecaster, conditioning, _pose(), 45, 30.0)["result"]
    moved = np.abs(np.subtract(frames[45]["people"][0]["pose_keypoints_2d"], frames[0]["people"][0]["pose_keypoints_2d"]))
    assert len(frames) == 46 and moved.max() > 0.005
    with pytest.raises(InputError, match="text"):
        PoseMotionTextEncode().encode("")
    with pytest.raises(InputError, match="initial_pose: frame 0, person 0, 'pose_keypoints_2d': expected finite"):
        bad = _pose()
        bad[0]["people"][0]["pose_keypoints_2d"][0] = float("nan")
        PoseMotionForecastPoses().forecast(forecaster, conditioning, bad, 10, 30.0)
    hands_only = [make_frame([make_person(right_hand=np.full((21, 3), 0.5))], 64, 48)]
    with pytest.raises(InputError, match="forecasts openpose_18 keypoints"):
        PoseMotionForecastPoses().forecast(forecaster, conditioning, hands_only, 10, 30.0)
    with pytest.raises(InputError, match="conditioning: expected FORECAST_CONDITIONING"):
        PoseMotionForecastPoses().forecast(forecaster, torch.zeros(3), _pose(), 10, 30.0)


def test_over_long_text_is_refused():
    with pytest.raises(InputError, match="text"):
        PoseMotionTextEncode().encode("walk " * 400)


def test_blip_encode_node_matches_transformers_itm_path(comfy_dirs, astronaut_image):
    """F_M from the nodes equals what BlipForImageTextRetrieval's own ITM forward feeds its head."""
    (blip,) = PoseMotionLoadBLIP().load("blip-itm-base-coco")
    (conditioning,) = PoseMotionBLIPEncode().encode(blip, astronaut_image, "a person walks forward")
    model, processor = blip.encoder.model, blip.encoder.processor
    frame = (astronaut_image[0] * 255 + 0.5).to(torch.uint8).numpy()
    pixels = processor.image_processor(images=[frame], return_tensors="pt", input_data_format="channels_last")
    text = processor.tokenizer(["a person walks forward"], return_tensors="pt")
    captured = []
    hook = model.text_encoder.register_forward_hook(lambda module, args, output: captured.append(output[0]))
    with torch.no_grad():
        out = model(input_ids=text["input_ids"], attention_mask=text["attention_mask"],
                    pixel_values=pixels["pixel_values"], use_itm_head=True)
    hook.remove()
    torch.testing.assert_close(conditioning.tokens, captured[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.itm_head(conditioning.tokens[:, 0]), out.itm_score, atol=1e-5, rtol=1e-5)
