import numpy as np
import pytest
from sklearn.decomposition import PCA

from video_similarity.descriptors import Descriptors
from video_similarity.descriptors import l2_normalize, select
from video_similarity.vsc.ensemble import ensemble, members_of, project
from video_similarity.vsc.settings import DescriptorSettings


def descriptors(ids, features):
    n = len(ids)
    return Descriptors(np.asarray(ids), np.stack([np.arange(n), np.arange(n) + 1], 1).astype(np.float32), np.asarray(features, np.float32))


def test_ensemble_normalises_each_model_then_concatenates():
    a = descriptors(["V", "V"], [[3, 4], [0, 2]])
    b = descriptors(["V", "V"], [[1, 0, 0], [0, 0, 5]])
    out = ensemble({"b": b, "a": a})
    np.testing.assert_allclose(out.features, [[0.6, 0.8, 1, 0, 0], [0, 1, 0, 0, 1]])
    with pytest.raises(ValueError, match="other frames"):
        ensemble({"a": a, "c": descriptors(["W", "W"], [[1, 0], [0, 1]])})


def test_member_weights_scale_each_normalised_block():
    a = descriptors(["V", "V"], [[3, 4], [0, 2]])
    b = descriptors(["V", "V"], [[1, 0, 0], [0, 0, 5]])
    out = ensemble({"b": b, "a": a}, {"b": 0.5})  # a member without a weight counts once
    np.testing.assert_allclose(out.features, [[0.6, 0.8, 0.5, 0, 0], [0, 1, 0, 0, 0.5]])
    # the inner product of two rows is the weighted sum of the members' cosines (weights squared)
    np.testing.assert_allclose(out.features[0] @ out.features[1], 0.8 * 1 + 0.25 * 0)


def test_project_gives_unit_vectors_and_select_picks_videos():
    rng = np.random.default_rng(0)
    d = descriptors(["A"] * 10 + ["B"] * 10, rng.normal(size=(20, 8)))
    pca = PCA(n_components=4).fit(d.features)
    out = project(d, pca)
    assert out.features.shape == (20, 4) and out.features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.features, axis=1), 1, atol=1e-5)
    assert select(out, ["B"]).video_ids.tolist() == ["B"] * 10
    np.testing.assert_allclose(l2_normalize(np.zeros((1, 3))), 0)


def test_members_of_gives_the_members_the_settings_use():
    manifest = {"members": {"a": {"builder": "sscd"}, "b": {"builder": "pdq"}}}
    assert members_of(manifest) == manifest["members"]
    settings = DescriptorSettings({"a": 0.0, "b": 1.0}, None, None, 1.2, None, "fixed", "")
    assert members_of(manifest, settings) == {"b": {"builder": "pdq"}}  # weight 0: not extracted at all
    with pytest.raises(ValueError, match=r"member\(s\) \['c'\].*run the tune stage again"):
        members_of(manifest, settings.replace(weights={"c": 1.0}))
    with pytest.raises(ValueError, match="no members: run the train_ensemble pipeline first"):
        members_of({})
