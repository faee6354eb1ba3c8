"""TVN-1 (Tiny Video Networks): shapes, the released architecture, gating, head init, MACs, weights."""

import pytest
import torch
from torch import nn

from video_similarity.models.checkpoint import save_checkpoint
from video_similarity.models.cost import count_parameters, multiply_accumulates
from video_similarity.models.tvn import (
    CHECKPOINT_KIND,
    TVN1_BLOCKS,
    BlockSpec,
    ContextGate,
    ConvBN,
    SamePool3d,
    SqueezeExcite,
    TinyVideoNet,
    tvn1,
)
from video_similarity.models.weights import WeightsFileError

pytestmark = pytest.mark.usefixtures("one_thread")

NUM_CLASSES = 400


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return tvn1(NUM_CLASSES).eval()


def units(net):
    """(block index, unit index, unit) of every unit, in order."""
    return [(b, u, unit) for b, block in enumerate(net.blocks) for u, unit in enumerate(block)]


# --- shapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 8, 200, 200), (1, 3, 2, 224, 224)])
def test_logits_and_features_shapes(model, shape):
    captured = []
    handle = model.fc.register_forward_hook(lambda m, inp, out: captured.append(inp[0]))
    x = torch.rand(shape)
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        handle.remove()
    assert logits.shape == (shape[0], NUM_CLASSES)
    assert torch.isfinite(logits).all()
    assert captured[0].shape == (shape[0], 2048)  # what the classifier reads
    if shape[0] == 1:  # the cheap geometry: features() is exactly that tensor (eval: no dropout)
        with torch.no_grad():
            feats = model.features(x)
        assert feats.shape == (1, 2048) and model.dim == 2048
        torch.testing.assert_close(feats, captured[0])


@pytest.mark.parametrize("shape", [(1, 3, 1, 32, 32), (1, 3, 3, 17, 23)])
def test_one_frame_and_odd_sizes_run(model, shape):
    """T = 1 skips the temporal pooling (the released rule) instead of failing; SAME padding takes any size."""
    with torch.no_grad():
        assert model.features(torch.rand(shape)).shape == (1, 2048)


def test_wrong_input_rank_is_refused(model):
    with pytest.raises(ValueError, match="expected clips"):
        model(torch.rand(1, 3, 32, 32))


def test_temporal_pooling_halves_frames(model):
    """Block 1's max pool (kernel 2, stride 2, SAME) takes 8 frames to 4 and 2 to 1; later blocks keep T."""
    frames = []
    hooks = [block.register_forward_hook(lambda m, i, o: frames.append(o.shape[2])) for block in model.blocks]
    try:
        with torch.no_grad():
            model.features(torch.rand(1, 3, 8, 32, 32))
            model.features(torch.rand(1, 3, 2, 32, 32))
    finally:
        for h in hooks:
            h.remove()
    assert frames == [4, 4, 4, 4, 1, 1, 1, 1]


def test_same_pooling_matches_tensorflow():
    """TF SAME: ceil(n / s) outputs, the extra pad after, -inf for max, pads left out of the mean."""
    x = torch.arange(1.0, 6.0).view(1, 1, 5, 1, 1)  # 1..5 along T
    maxed = SamePool3d("max", (2, 1, 1), (2, 1, 1))(x).flatten().tolist()
    assert maxed == [2.0, 4.0, 5.0]
    averaged = SamePool3d("avg", (2, 1, 1), (2, 1, 1))(x).flatten().tolist()
    assert averaged == [1.5, 3.5, 5.0]  # the last window holds only the real 5
    x = -torch.arange(1.0, 5.0).view(1, 1, 1, 1, 4)  # negative: a zero pad would win a max
    assert SamePool3d("max", (1, 1, 3), (1, 1, 2))(x).flatten().tolist() == [-1.0, -3.0]


# --- parameter count ------------------------------------------------------------------------


def conv(cin, cout, kernel_volume=1, groups=1):
    return cin // groups * cout * kernel_volume  # no bias


def bn(c):
    return 2 * c  # scale and shift; running stats are buffers


def linear(i, o):
    return i * o + o


def test_parameter_count_by_hand(model):
    se2 = max(int(512 * 0.9067600752736579), 8)  # 464
    se4 = max(int(2048 * 0.7265534208526172), 8)  # 1487
    assert (se2, se4) == (464, 1487)
    block1 = (
        # unit 0: 1x1 3->64, 4x4 64->64, expand 64->256, context gate 256
        conv(3, 64) + bn(64) + conv(64, 64, 16) + bn(64) + conv(64, 256) + bn(256) + linear(256, 256)
        # unit 1: input is 256 wide
        + conv(256, 64) + bn(64) + conv(64, 64, 16) + bn(64) + conv(64, 256) + bn(256) + linear(256, 256)
    )
    # max pool keeps 256 channels; expand 256->512; SE 512->464->512; no gate, no residual
    block2 = conv(256, 512) + bn(512) + linear(512, se2) + linear(se2, 512)
    block3_unit = (  # 1x1 512->128, depthwise 5x5, expand 128->512, gate 512, residual 1x1 512->512 + BN
        conv(512, 128) + bn(128) + conv(128, 128, 25, groups=128) + bn(128) + conv(128, 512) + bn(512)
        + linear(512, 512) + conv(512, 512) + bn(512)
    )
    block4_tail = (  # 3x3 256->256, expand 256->2048, SE 2048->1487->2048, gate 2048
        conv(256, 256, 9) + bn(256) + conv(256, 2048) + bn(2048)
        + linear(2048, se4) + linear(se4, 2048) + linear(2048, 2048)
    )
    block4 = conv(512, 256) + bn(256) + block4_tail + conv(2048, 256) + bn(256) + block4_tail
    trunk = block1 + block2 + 2 * block3_unit + block4
    assert trunk == 25_720_110
    assert count_parameters(model) == trunk + linear(2048, NUM_CLASSES)
    assert count_parameters(model.blocks) == trunk


# --- squeeze-excitation and context gating --------------------------------------------------


def test_context_gate_with_large_negative_bias_zeros_its_channels():
    torch.manual_seed(1)
    gate = ContextGate(6)
    x = torch.rand(2, 6, 3, 4, 4) + 0.5
    with torch.no_grad():
        gate.fc.weight.zero_()
        gate.fc.bias.copy_(torch.tensor([-50.0, -50.0, -50.0, 50.0, 50.0, 50.0]))
        out = gate(x)
    assert out[:, :3].abs().max() < 1e-12  # gated off
    torch.testing.assert_close(out[:, 3:], x[:, 3:])  # gated on: passed through


def test_gate_depends_on_the_clip_mean():
    """A gate is one scale per clip and channel, from the mean over T, H, W."""
    torch.manual_seed(2)
    gate = ContextGate(4)
    x = torch.rand(1, 4, 3, 5, 5)
    with torch.no_grad():
        ratio = gate(x) / x
        expected = torch.sigmoid(gate.fc(x.mean(dim=(2, 3, 4))))
    torch.testing.assert_close(ratio, expected[:, :, None, None, None].expand_as(x))


def test_squeeze_excite_with_large_negative_bias_zeros_its_channels():
    torch.manual_seed(3)
    se = SqueezeExcite(16, 0.5)
    x = torch.rand(2, 16, 2, 4, 4) + 0.5
    with torch.no_grad():
        se.expand.weight.zero_()
        se.expand.bias.fill_(-50.0)
        assert se(x).abs().max() < 1e-12
        se.expand.bias.fill_(50.0)
        torch.testing.assert_close(se(x), x)


@pytest.mark.parametrize("channels, ratio, bottleneck", [(512, 0.9067600752736579, 464), (2048, 0.7265534208526172, 1487), (16, 0.1, 8), (100, 0.05, 8), (100, 0.09, 9)])
def test_squeeze_excite_bottleneck(channels, ratio, bottleneck):
    se = SqueezeExcite(channels, ratio)
    assert se.bottleneck == bottleneck == max(int(channels * ratio), 8)
    assert (se.reduce.in_features, se.reduce.out_features) == (channels, bottleneck)
    assert (se.expand.in_features, se.expand.out_features) == (bottleneck, channels)


def test_se_and_gates_sit_where_the_released_config_puts_them(model):
    found = {(b, u): (unit.se is not None, unit.gate is not None) for b, u, unit in units(model)}
    assert found == {
        (0, 0): (False, True), (0, 1): (False, True),
        (1, 0): (True, False),
        (2, 0): (False, True), (2, 1): (False, True),
        (3, 0): (True, True), (3, 1): (True, True),
    }
    assert model.blocks[1][0].se.bottleneck == 464
    assert model.blocks[3][1].se.bottleneck == 1487


# --- residuals ------------------------------------------------------------------------------


def test_residual_projection_only_where_the_spec_has_skip(model):
    """Block 3 (skip) projects its input in both units; blocks 1, 2, 4 change channels but have none."""
    with_residual = [(b, u) for b, u, unit in units(model) if unit.residual is not None]
    assert with_residual == [(2, 0), (2, 1)]
    first, second = model.blocks[2][0].residual, model.blocks[2][1].residual
    for res in (first, second):
        assert isinstance(res, ConvBN) and not hasattr(res, "relu")
        assert res.conv.kernel_size == (1, 1, 1)
        assert (res.conv.in_channels, res.conv.out_channels) == (512, 512)
    assert first.conv.stride == (1, 3, 3)  # follows the depthwise conv's stride 3
    assert second.conv.stride == (1, 1, 1)
    channel_changes = [(b, u) for b, u, unit in units(model) if unit.in_channels != unit.out_channels]
    assert channel_changes == [(0, 0), (1, 0), (3, 0)]  # 3->256, 256->512, 512->2048
    assert all(model.blocks[b][u].residual is None for b, u in channel_changes)


def test_residuals_are_added_in_the_forward_pass(model):
    calls = []
    hooks = [
        unit.residual.register_forward_hook(lambda m, i, o, key=(b, u): calls.append((key, tuple(o.shape))))
        for b, u, unit in units(model) if unit.residual is not None
    ]
    try:
        with torch.no_grad():
            model.features(torch.rand(1, 3, 2, 64, 64))
    finally:
        for h in hooks:
            h.remove()
    # 64 -> 32 (block 1) -> 16 (block 2 max pool) -> ceil(16 / 3) = 6 (block 3)
    assert calls == [((2, 0), (1, 512, 1, 6, 6)), ((2, 1), (1, 512, 1, 6, 6))]


def test_skip_residual_is_left_out_when_frames_change():
    """As released: a skip unit whose temporal layer strides the frames adds no residual."""
    spec = BlockSpec(filters=4, expand=2, repeats=1, spatial_type="std", spatial_kernel=3, spatial_stride=1,
                     temporal_type="maxpool", temporal_kernel=2, temporal_stride=2, skip=True)
    net = TinyVideoNet([spec], num_classes=2).eval()
    unit = net.blocks[0][0]
    calls = []
    unit.residual.register_forward_hook(lambda m, i, o: calls.append(o.shape[2]))
    with torch.no_grad():
        net(torch.rand(1, 3, 4, 8, 8))  # frames 4 -> 2: no residual
        net(torch.rand(1, 3, 1, 8, 8))  # one frame: temporal layer skipped, residual added
    assert calls == [1]


# --- repeats --------------------------------------------------------------------------------


def test_tvn1_repeats_have_stride_one_and_no_temporal_layer(model):
    for b, spec in enumerate(TVN1_BLOCKS):
        block = model.blocks[b]
        assert len(block) == spec.repeats
        assert [unit.use_temporal for unit in block] == [True, False][: spec.repeats]
        assert block[0].spatial_stride == spec.spatial_stride
        assert all(unit.spatial_stride == 1 and unit.temporal_stride == 1 for unit in list(block)[1:])
    b1 = model.blocks[0]
    assert b1[0].spatial.conv.conv.stride == (1, 2, 2) and b1[0].spatial.conv.conv.kernel_size == (1, 4, 4)
    assert b1[1].spatial.conv.conv.stride == (1, 1, 1) and b1[1].spatial.conv.conv.kernel_size == (1, 4, 4)
    assert isinstance(b1[0].temporal, SamePool3d) and b1[0].temporal.mode == "max"
    assert b1[0].temporal.kernel_size == [2, 1, 1] and b1[0].temporal.stride == [2, 1, 1]
    assert b1[1].temporal is None  # the repeat's temporal layer is off
    # kernel-1 temporal layers (blocks 2-4) are identities: no module, as released
    assert all(unit.temporal is None for b, _, unit in units(model) if b > 0)
    # block 3: 1x1 conv then depthwise 5x5, stride 3 then 1
    assert model.blocks[2][0].spatial.conv.conv.groups == 128
    assert model.blocks[2][0].spatial.conv.conv.stride == (1, 3, 3)
    assert model.blocks[2][1].spatial.conv.conv.stride == (1, 1, 1)
    # block 2: a max pool, 3x3 stride 2, no weights before the expansion
    assert isinstance(model.blocks[1][0].spatial, SamePool3d) and model.blocks[1][0].spatial.stride == [1, 2, 2]


def test_temporal_layer_alternates_off_first():
    spec = BlockSpec(filters=8, expand=2, repeats=5, spatial_type="depth", spatial_kernel=3, spatial_stride=2,
                     temporal_type="1d", temporal_kernel=3, temporal_stride=2)
    net = TinyVideoNet([spec], num_classes=3).eval()
    block = net.blocks[0]
    assert [u.use_temporal for u in block] == [True, False, True, False, True]
    assert [u.temporal is not None for u in block] == [True, False, True, False, True]
    assert block[0].temporal.conv.stride == (2, 1, 1)
    assert block[2].temporal.conv.stride == (1, 1, 1) and block[4].temporal.conv.stride == (1, 1, 1)
    assert [u.spatial.conv.conv.stride for u in block] == [(1, 2, 2)] + [(1, 1, 1)] * 4
    with torch.no_grad():
        assert net.features(torch.rand(1, 3, 8, 16, 16)).shape == (1, 16)


# --- head -----------------------------------------------------------------------------------


def test_head_init(model):
    w = model.fc.weight
    assert w.shape == (NUM_CLASSES, 2048)
    assert abs(w.std().item() - 0.01) < 0.0005
    assert abs(w.mean().item()) < 0.0005
    assert torch.count_nonzero(model.fc.bias) == 0
    assert model.dropout.p == 0.5


# --- multiply-accumulates -------------------------------------------------------------------


def test_macs_of_a_small_model_by_hand():
    net = nn.Sequential(nn.Conv3d(3, 8, (1, 3, 3), padding=(0, 1, 1)), nn.Conv3d(8, 8, 3, padding=1, groups=4),
                        nn.Flatten(), nn.Linear(8 * 2 * 4 * 4, 5))
    expected = (8 * 2 * 4 * 4) * 9 * 3 + (8 * 2 * 4 * 4) * 27 * 2 + 256 * 5
    assert multiply_accumulates(net, (1, 3, 2, 4, 4)) == expected
    assert multiply_accumulates(net, (3, 2, 4, 4)) == expected  # batch 1 implied
    assert multiply_accumulates(net, (2, 3, 2, 4, 4)) == 2 * expected


def test_tvn1_macs_scale_with_frames(model):
    macs8 = multiply_accumulates(model, (1, 3, 8, 200, 200))
    macs16 = multiply_accumulates(model, (1, 3, 16, 200, 200))
    assert isinstance(macs8, int) and macs8 > 0
    assert 1.9 < macs16 / macs8 < 2.1
    assert 10e9 < macs8 < 20e9  # order of magnitude: about 13.8 G
    # the model itself is untouched (the count runs on a meta-device copy)
    assert not model.training and model.fc.weight.device.type == "cpu"


# --- config and weights ---------------------------------------------------------------------


def test_block_spec_validation():
    with pytest.raises(ValueError, match="spatial_type"):
        BlockSpec(filters=8, expand=1, repeats=1, spatial_type="conv", spatial_kernel=3, spatial_stride=1,
                  temporal_type="1d", temporal_kernel=1, temporal_stride=1)
    with pytest.raises(ValueError, match=">= 1"):
        BlockSpec(filters=8, expand=0, repeats=1, spatial_type="std", spatial_kernel=3, spatial_stride=1,
                  temporal_type="1d", temporal_kernel=1, temporal_stride=1)


def test_weights_round_trip_through_a_project_checkpoint(model, tmp_path):
    assert model.config["num_classes"] == NUM_CLASSES
    assert [BlockSpec(**b) for b in model.config["blocks"]] == list(TVN1_BLOCKS)
    path = save_checkpoint(tmp_path / "tvn1.pt", CHECKPOINT_KIND, model)
    loaded = tvn1(NUM_CLASSES, weights_path=str(path)).eval()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    with pytest.raises(WeightsFileError, match="shape mismatch"):
        tvn1(10, weights_path=path)


# --- as a registry encoder ------------------------------------------------------------------


def test_tvn1_cannot_tell_a_clip_from_its_reverse(model):
    """Its only temporal layer is block 1's max-pool over frame pairs (0,1), (2,3), ...: reversing an even clip maps
    pairs onto pairs, and every later layer pools over time, so opposite directions give the same output."""
    clip = torch.rand(1, 3, 8, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), model(clip.flip(2)), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(model(clip), model(clip[:, :, torch.randperm(8)]), atol=1e-5)  # other orders differ


def test_the_registry_encoder_reads_a_trained_checkpoint_and_gives_unit_rows(tmp_path):
    from video_similarity.models.registry import build_encoder

    torch.manual_seed(1)
    trained = tvn1(5).eval()
    path = save_checkpoint(tmp_path / "model.ckpt", CHECKPOINT_KIND, trained)
    encoder = build_encoder("tvn1", str(path), clip_frames=4, input_size=32)
    assert encoder.kind == "clips" and encoder.clip_source == "archive" and encoder.dim == 2048
    assert (encoder.clip_frames, encoder.input_size) == (4, 32)
    clips = torch.rand(3, 3, 4, 32, 32)
    with torch.no_grad():
        rows = encoder(clips)
        torch.testing.assert_close(rows, nn.functional.normalize(trained.features(clips), dim=1))
    torch.testing.assert_close(rows.norm(dim=1), torch.ones(3))
    random = build_encoder("tvn1", None, seed=3, clip_frames=4, input_size=32)
    assert not torch.allclose(random(clips), rows)
