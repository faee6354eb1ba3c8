"""Clip encoders (PyTorchVideo X3D-S/M/L, Slow-R50): published settings, features and layout.

Full-size forwards take seconds on CPU, so forwards run on tiny clips (64 px,
4 frames) built through the same builders; the published hyper-parameters and
the checkpoint key layout are checked on default-size models, which are cheap
to construct.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from video_similarity.models import clip_encoders
from video_similarity.models.clip_encoders import (
    CLIP_HEAD_PREFIXES,
    PUBLISHED,
    ClipEncoder,
    slow_r50,
    x3d_l,
    x3d_m,
    x3d_s,
)
from video_similarity.video.clips import read_clips, to_clip_tensor


pytestmark = pytest.mark.usefixtures("one_thread")

BUILDERS = {"x3d_s": x3d_s, "x3d_m": x3d_m, "x3d_l": x3d_l, "slow_r50": slow_r50}
SPEC = {  # evaluation.md section 7: (clip_frames, frame_stride, input_size)
    "x3d_s": (13, 6, 160),
    "x3d_m": (16, 5, 224),
    "x3d_l": (16, 5, 312),
    "slow_r50": (8, 8, 224),
}
SMALL = {"clip_frames": 4, "input_size": 64}


def hub_model(name, **kwargs):
    from pytorchvideo.models import hub

    return getattr(hub, name)(pretrained=False, **kwargs)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_defaults_are_the_published_settings_and_layout(name):
    enc = BUILDERS[name]()
    assert (enc.clip_frames, enc.frame_stride, enc.input_size) == SPEC[name] == PUBLISHED[name]
    assert (enc.kind, enc.dim) == ("clips", 2048)
    assert isinstance(enc, ClipEncoder) and not enc.training
    # no classifier, no softmax: the features are not class probabilities
    # (X3D's squeeze-excitation gates are sigmoids, so only the head is checked for those)
    assert not any(isinstance(m, (nn.Softmax, nn.Linear)) for m in enc.modules())
    head = enc.blocks[-1]
    assert head.proj is None and head.activation is None
    assert not any(isinstance(m, nn.Sigmoid) for m in head.modules())
    # a published PyTorchVideo checkpoint has exactly these keys plus the head's proj
    published = {
        k: tuple(v.shape)
        for k, v in hub_model(name).state_dict().items()
        if not k.startswith(CLIP_HEAD_PREFIXES)
    }
    assert {k: tuple(v.shape) for k, v in enc.state_dict().items()} == published
    assert any(k.startswith("blocks.0.") for k in published)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_small_clips_give_unit_vectors(name):
    torch.manual_seed(0)
    enc = BUILDERS[name](**SMALL)
    assert (enc.clip_frames, enc.input_size) == (4, 64)
    assert enc.frame_stride == SPEC[name][1]
    with torch.no_grad():
        out = enc(torch.rand(2, 3, 4, 64, 64))
    assert out.shape == (2, 2048) and out.dtype == torch.float32
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    assert not torch.allclose(out[0], out[1])


def test_x3d_feature_is_the_head_projected_pool():
    torch.manual_seed(1)
    enc = x3d_s(**SMALL)
    from pytorchvideo.models.x3d import create_x3d

    net = create_x3d(input_clip_length=4, input_crop_size=64).eval()  # hub x3d_s, small clips
    missing = net.load_state_dict(enc.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["blocks.5.proj.bias", "blocks.5.proj.weight"]
    clips = torch.rand(2, 3, 4, 64, 64)
    with torch.no_grad():
        x = (clips - 0.45) / 0.225
        for block in net.blocks[:5]:
            x = block(x)
        feature = net.blocks[5].pool(x)  # pre_conv, BN, ReLU, avg pool, post_conv, ReLU
        got = enc(clips)
    assert feature.shape == (2, 2048, 1, 1, 1)
    torch.testing.assert_close(got, F.normalize(feature.flatten(1), dim=-1), rtol=1e-4, atol=1e-5)


def test_slow_r50_feature_is_the_last_stage_average():
    torch.manual_seed(2)
    enc = slow_r50(**SMALL)
    from pytorchvideo.models.resnet import create_resnet

    # the hub's slow_r50 arguments, with the head pool sized for 4 x 64 px clips
    net = create_resnet(model_depth=50, stem_conv_kernel_size=(1, 7, 7), head_pool_kernel_size=(4, 2, 2))
    net.eval()
    net.load_state_dict(enc.state_dict(), strict=False)
    clips = torch.rand(1, 3, 4, 64, 64)
    with torch.no_grad():
        x = (clips - 0.45) / 0.225
        for block in net.blocks[:5]:
            x = block(x)
        got = enc(clips)
    assert x.shape == (1, 2048, 4, 2, 2)
    torch.testing.assert_close(got, F.normalize(x.mean(dim=(2, 3, 4)), dim=-1), rtol=1e-4, atol=1e-5)


def test_wrong_clip_shape_is_rejected():
    enc = x3d_s(**SMALL)
    with pytest.raises(ValueError, match=r"expected clips \(B, 3, 4, 64, 64\)"):
        enc(torch.rand(1, 3, 5, 64, 64))
    with pytest.raises(ValueError):
        enc(torch.rand(3, 4, 64, 64))


def test_decoded_clips_feed_the_encoder(indexed_video):
    enc = x3d_s(clip_frames=4, input_size=64, frame_stride=2)
    path = indexed_video(n_frames=20, fps=10.0, size=(96, 64))
    clips = list(read_clips(path, enc.clip_frames, enc.frame_stride, enc.input_size))
    assert len(clips) == 3  # 10 kept frames -> 4 + 4 + 2 (padded)
    with torch.no_grad():
        out = enc(to_clip_tensor(clips))
    assert out.shape == (3, 2048)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))


def test_builders_are_listed():
    assert set(PUBLISHED) == set(BUILDERS)
    for name in PUBLISHED:
        assert getattr(clip_encoders, name) is BUILDERS[name]


def test_clip_source_is_an_option_and_is_checked():
    assert x3d_s(**SMALL).clip_source == "video"
    assert slow_r50(**SMALL, clip_source="archive").clip_source == "archive"
    with pytest.raises(ValueError, match="clip_source"):
        x3d_s(**SMALL, clip_source="frames")


def test_r2plus1d_18_is_torchvisions_trunk_without_fc_and_reads_its_state_dict(tmp_path):
    from torchvision.models.video import r2plus1d_18 as torchvision_r2plus1d_18

    from video_similarity.models.clip_encoders import TORCHVISION_VIDEO_MEAN, TORCHVISION_VIDEO_STD, r2plus1d_18

    torch.manual_seed(0)
    reference = torchvision_r2plus1d_18(weights=None).eval()
    path = tmp_path / "r2plus1d_18.pth"
    torch.save(reference.state_dict(), path)  # the layout of torchvision's release file, fc included
    enc = r2plus1d_18(str(path), clip_frames=4, input_size=32, clip_source="archive")
    assert (enc.kind, enc.dim, enc.clip_frames, enc.input_size, enc.clip_source) == ("clips", 512, 4, 32, "archive")
    clips = torch.rand(2, 3, 4, 32, 32)
    mean = torch.tensor(TORCHVISION_VIDEO_MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(TORCHVISION_VIDEO_STD).view(1, 3, 1, 1, 1)
    reference.fc = nn.Identity()
    with torch.no_grad():
        torch.testing.assert_close(enc(clips), F.normalize(reference((clips - mean) / std), dim=1))
    assert r2plus1d_18().clip_frames == 16 and r2plus1d_18().input_size == 112  # SEVERE's geometry by default
