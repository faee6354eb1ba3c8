import numpy as np
import pytest
from sklearn.decomposition import PCA

from video_similarity.datasets import ProjectionDataset
from video_similarity.vsc.projection import DescriptorPCA, NoProjection, fit_pca, pca_dim
from video_similarity.vsc.settings import PcaSettings


def features(n=300, d=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * np.linspace(5, 0.1, d)).astype(np.float32)


def test_the_dimension_is_capped_by_the_frames_that_estimate_it():
    assert pca_dim(PcaSettings(128, 0.25), frames=300, dim=768, frames_per_dim=10) == 30
    assert pca_dim(PcaSettings(16, 0.25), frames=300, dim=768, frames_per_dim=10) == 16
    assert pca_dim(PcaSettings(600, 0.25), frames=100000, dim=768, frames_per_dim=10) == 512  # the challenge's limit
    assert pca_dim(PcaSettings(128, 0.25), frames=5, dim=768, frames_per_dim=10) == 2  # score normalisation needs two


def test_components_are_scaled_by_the_whitening_power():
    x = features()
    plain = fit_pca(x, PcaSettings(512, 0.0), frames_per_dim=1)
    reference = PCA(n_components=32, random_state=0).fit(x)
    np.testing.assert_allclose(plain.transform(x), reference.transform(x), atol=1e-3)
    full = fit_pca(x, PcaSettings(512, 0.5), frames_per_dim=1)
    np.testing.assert_allclose(full.transform(x).std(axis=0, ddof=1), 1, atol=1e-3)  # unit variance: sklearn's whiten
    assert fit_pca(x, PcaSettings(128, 0.25), frames_per_dim=10).n_components_ == 30


def test_a_projection_saves_as_plain_arrays_and_loads_back(tmp_path):
    x = features()
    pca = fit_pca(x, PcaSettings(8, 0.25), frames_per_dim=10)
    dataset = ProjectionDataset(str(tmp_path / "pca.npz"))
    dataset.save(pca)
    loaded = dataset.load()
    assert isinstance(loaded, DescriptorPCA)
    np.testing.assert_array_equal(loaded.transform(x), pca.transform(x))
    with np.load(tmp_path / "pca.npz", allow_pickle=False) as data:  # no pickled class: readable anywhere
        assert set(data.files) == {"identity", "mean", "components", "scale"}
    dataset.save(NoProjection())
    assert isinstance(dataset.load(), NoProjection)
    with np.load(tmp_path / "pca.npz", allow_pickle=False) as data:
        assert data.files == ["identity"]  # the identity keeps no arrays


def test_a_pickled_pca_of_an_earlier_version_is_refused_with_the_stage_to_rerun(tmp_path):
    from kedro.io import DatasetError

    from video_similarity.cli import user_error

    (tmp_path / "pca.pkl").write_bytes(b"\x80\x04old pickle")
    for path in (tmp_path / "pca.npz", tmp_path / "pca.pkl"):  # the catalog's new name next to an old file, or the old name
        with pytest.raises(DatasetError) as raised:
            ProjectionDataset(str(path)).load()
        # the project's kedro run shows this one line (cli.user_error finds it in Kedro's wrapper)
        assert "pca.pkl: a PCA pickled by an earlier version" in str(user_error(raised.value)) and "rerun the pca stage" in str(raised.value)
