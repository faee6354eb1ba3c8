"""Each real dataset root gets a data folder of its own, so roots whose ids repeat never share artifacts."""

from video_similarity.config import ProjectConfigLoader, dataset_name


def _conf(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "vsc").mkdir()
    (tmp_path / "base" / "globals.yml").write_text("dataset: demo\n")
    (tmp_path / "base" / "catalog.yml").write_text("video_index:\n  type: pandas.ParquetDataset\n  filepath: data/02_intermediate/${globals:dataset}/video_index.parquet\n")
    (tmp_path / "vsc" / "globals.yml").write_text("dataset: vsc\ndataset_per_root: vsc_root\n")
    return str(tmp_path)


def _path(conf, **runtime):
    loader = ProjectConfigLoader(conf, base_env="base", default_run_env="vsc", runtime_params=runtime)
    return loader["catalog"]["video_index"]["filepath"]


def test_two_roots_get_two_data_folders_and_no_root_keeps_the_name(tmp_path):
    conf = _conf(tmp_path)
    a, b = _path(conf, vsc_root="/data/vsc2022"), _path(conf, vsc_root="/mnt/other/vsc2022")
    assert a == f"data/02_intermediate/{dataset_name('vsc', '/data/vsc2022')}/video_index.parquet"
    assert a != b and "vsc-vsc2022-" in a and "vsc-vsc2022-" in b  # same folder name, other path
    assert _path(conf, vsc_root="/data/vsc2022") == a  # stable
    assert _path(conf) == "data/02_intermediate/vsc/video_index.parquet"
