import numpy as np
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
