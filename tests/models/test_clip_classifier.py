"""Clip classifiers: TVN-1 with its head or a registry clip encoder with a linear head, rebuilt from one config."""

import pytest
import torch

from video_similarity.models.clip_classifier import ClipClassifier, build_classifier, checkpoint_config, checkpoint_kind

ENCODER = {"builder": "r2plus1d_18", "weights_path": None, "seed": 0, "whitening_path": None,
           "options": {"clip_frames": 2, "frame_stride": 1, "input_size": 32}}


def test_a_registry_clip_encoder_gets_a_head_and_its_config_records_the_training():
    config = {"encoder": ENCODER, "num_classes": 4, "dropout": 0.0}
    model = build_classifier(config).eval()
    assert isinstance(model, ClipClassifier) and checkpoint_kind(config) == "clip_classifier"
    with torch.no_grad():
        assert model(torch.rand(2, 3, 2, 32, 32)).shape == (2, 4)
    assert checkpoint_config(config, model, {"lr": 0.1}) == {**config, "training": {"lr": 0.1}}


def test_tvn1_keeps_its_own_config_and_kind():
    config = {"network": "tvn1", "num_classes": 3, "dropout": 0.5}
    model = build_classifier(config)
    assert checkpoint_kind(config) == "tiny_video_net" and checkpoint_config(config, model, {"lr": 0.1}) == model.config


def test_a_frame_encoder_or_no_network_is_refused():
    with pytest.raises(ValueError, match="fine-tuning needs a clip encoder"):
        build_classifier({"encoder": {**ENCODER, "builder": "resnet18", "options": {}}, "num_classes": 2, "dropout": 0.0})
    with pytest.raises(ValueError, match="names a network"):
        build_classifier({"num_classes": 2, "dropout": 0.0})
