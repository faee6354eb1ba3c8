"""The video score model: logits per video, padding that changes nothing, pad_features, TorchScript round trip."""

import numpy as np
import pytest
import torch

from video_similarity.models.checkpoint import export_torchscript
from video_similarity.models.vid_score import VideoScoreModel, pad_features, predict, video_score_model

D = 16


def model(**options):
    torch.manual_seed(0)
    return video_score_model(D, **{"width": 32, "depth": 2, "heads": 4, "max_frames": 8, **options}).eval()


def batch(lengths, frames=8, seed=0):
    rng = np.random.default_rng(seed)
    x, mask = pad_features([rng.normal(size=(n, D)).astype(np.float32) for n in lengths], frames)
    return torch.from_numpy(x), torch.from_numpy(mask)


def test_one_logit_per_video_of_any_length(one_thread):
    net = model()
    assert isinstance(net, VideoScoreModel) and net.config["feature_dim"] == D
    x, mask = batch([8, 3, 1])
    out = net(x, mask)
    assert out.shape == (3,) and torch.isfinite(out).all()
    assert net(x[:, :3], mask[:, :3]).shape == (3,)  # T < max_frames
    assert torch.isfinite(net(torch.zeros(1, 8, D), torch.zeros(1, 8, dtype=torch.bool))).all()  # no real frame at all
    net.train()  # a training forward backpropagates into every parameter (DDP needs no unused ones)
    net(x, mask).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    with pytest.raises(ValueError, match="max_frames"):
        net(torch.zeros(1, 9, D), torch.ones(1, 9, dtype=torch.bool))


def test_padding_and_what_it_holds_do_not_change_the_logit(one_thread):
    net = model()
    x, mask = batch([5, 1, 3], frames=5)
    with torch.no_grad():
        reference = net(x, mask)
        wider = torch.cat([x, torch.randn(3, 3, D)], dim=1)  # 3 more slots of garbage, masked
        garbage = x.masked_fill(~mask.unsqueeze(-1), float("nan"))
        torch.testing.assert_close(net(wider, torch.cat([mask, torch.zeros(3, 3, dtype=torch.bool)], dim=1)), reference, rtol=0, atol=1e-5)
        torch.testing.assert_close(net(garbage, mask), reference, rtol=0, atol=1e-5)
        for i, n in enumerate([5, 1, 3]):  # alone, unpadded: the same as in the padded batch
            torch.testing.assert_close(net(x[i : i + 1, :n], mask[i : i + 1, :n]), reference[i : i + 1], rtol=0, atol=1e-5)
        assert not torch.allclose(net(x, mask & (torch.arange(5) < 2)), reference)  # masking real frames does change it


def test_pad_features_samples_long_videos_uniformly_in_order():
    long = np.arange(20, dtype=np.float64)[:, None] * np.ones((1, 3))  # row k holds k
    x, mask = pad_features([long, long[:2], np.zeros((0, 3))], 4)
    assert x.dtype == np.float32 and x.shape == (3, 4, 3) and mask.dtype == bool
    np.testing.assert_array_equal(x[0, :, 0], [2, 7, 12, 17])  # the middles of 4 spans of 5
    np.testing.assert_array_equal(mask, [[True] * 4, [True, True, False, False], [False] * 4])
    np.testing.assert_array_equal(x[1, :2, 0], [0, 1])
    assert not x[1, 2:].any() and not x[2].any()
    kept = pad_features([np.arange(9.0)[:, None]], 8)[0][0, :, 0]
    assert len(set(kept)) == 8 and (np.diff(kept) > 0).all()  # never a frame twice, order kept
    np.testing.assert_array_equal(pad_features([long], 20)[0][0], long)
    with pytest.raises(ValueError, match="one D"):
        pad_features([np.zeros((2, 3)), np.zeros((2, 4))], 4)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_the_torchscript_export_gives_the_same_logits(tmp_path, one_thread):
    net = model()
    x, mask = batch([8, 4, 1])
    path = export_torchscript(net, tmp_path / "vid_score.pt")
    loaded = torch.jit.load(str(path))  # no project code needed to run it
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, mask), net(x, mask))
        torch.testing.assert_close(loaded(x[:, :4], mask[:, :4]), net(x[:, :4], mask[:, :4]))
    rows = {"a": x[0].numpy(), "b": x[1, :4].numpy(), "c": np.zeros((30, D), np.float32)}
    scores = predict(loaded, rows, max_frames=8, batch_size=2)
    assert list(scores) == ["a", "b", "c"]
    np.testing.assert_allclose(scores["a"], torch.sigmoid(net(x[:1], mask[:1])).item(), atol=1e-6)
    np.testing.assert_allclose(scores["b"], torch.sigmoid(net(x[1:2, :4], mask[1:2, :4])).item(), atol=1e-6)
