"""Typed parameters: conf/base parses, unknown keys are refused, and the dataclass defaults are conf/base's values."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from video_similarity.launch import LaunchConfig
from video_similarity.params import SearchIndexParams
from video_similarity.params import parse
from video_similarity.pipelines.retrieval.params import RetrievalParams, SimilarityParams, VideoEncoderParams
from video_similarity.pipelines.infer_ref.params import InferenceParams
from video_similarity.pipelines.ingest.params import IngestParams
from video_similarity.pipelines.pca.params import PcaParams
from video_similarity.pipelines.preprocess.params import PreprocessParams
from video_similarity.pipelines.infer_query.params import SceneDetectionParams
from video_similarity.pipelines.baselines.params import BaselineParams
from video_similarity.pipelines.infer_query.params import VideoScoreParams
from video_similarity.pipelines.tune.params import TuningParams
from video_similarity.pipelines.train_ensemble.params import TrainEnsembleParams
from video_similarity.pipelines.train_vid_score.params import TrainVideoScoreParams
from video_similarity.pipelines.vsc_matching.params import MatchingParams
from video_similarity.vsc.copies.params import FindCopiesParams
from video_similarity.action.params import ProbeParams
from video_similarity.demo.params import ActionDemoParams
from video_similarity.pipelines.action_recognition.params import ActionDataParams, ActionRecognitionParams, ClassifierTraining
from video_similarity.pipelines.severe.params import SevereParams

BASE = Path(__file__).resolve().parents[1] / "conf" / "base"


def base_section(*path):
    params = {}
    for file in BASE.glob("parameters*.yml"):
        params.update(yaml.safe_load(file.read_text()) or {})
    for key in path:
        params = params[key]
    return params


SECTIONS = [
    (IngestParams, ("ingest",)),
    (PreprocessParams, ("preprocess",)),
    (TrainEnsembleParams, ("train_ensemble",)),
    (PcaParams, ("pca",)),
    (InferenceParams, ("inference",)),
    (SceneDetectionParams, ("scene_detection",)),
    (VideoScoreParams, ("video_score",)),
    (TuningParams, ("tuning",)),
    (TrainVideoScoreParams, ("train_vid_score",)),
    (LaunchConfig, ("launch",)),
    (SearchIndexParams, ("search_index",)),
    (RetrievalParams, ("retrieval",)),
    (VideoEncoderParams, ("retrieval", "video_encoder")),
    (SimilarityParams, ("retrieval", "similarity")),
    (ActionDataParams, ("action_data",)),
    (ActionDemoParams, ("action_data", "demo")),
    (ActionRecognitionParams, ("action_recognition",)),
    (ClassifierTraining, ("action_recognition", "training")),
    (SevereParams, ("severe",)),
    (ProbeParams, ("severe", "probe")),
    (MatchingParams, ("vsc_matching",)),
    (FindCopiesParams, ("find_copies",)),  # its tn, network and training sections compared recursively
]


#: Sections that hold named entries (encoders, members, datasets, ...), which no dataclass default can list.
ENTRIES = {"subsets", "encoders", "models", "datasets", "settings", "sample_sizes"}


def assert_defaults(default, section, where: str) -> None:
    """Every value conf/base writes equals the default, recursing into nested sections (a dataclass default)."""
    if dataclasses.is_dataclass(default) and isinstance(section, dict):
        for key, value in section.items():
            if key in ENTRIES or isinstance(value, str) and "${" in value:
                continue
            assert_defaults(getattr(default, key), value, f"{where}.{key}")
        return
    assert plain(default) == section, where


def plain(value):
    """A default as YAML writes it: dataclasses as mappings, tuples as lists."""
    if dataclasses.is_dataclass(value):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@pytest.mark.parametrize(("cls", "path"), SECTIONS, ids=[".".join(p) for _, p in SECTIONS])
def test_defaults_live_in_one_place_and_agree_with_conf_base(cls, path):
    """What conf/base writes down is the dataclass default, down to nested sections, so no other layer can hold another value."""
    section = base_section(*path)
    cls.from_params(section)  # conf/base parses
    if cls is TuningParams:  # the one value conf/base writes that no dataclass can know: the demo's member names
        section = {**section, "fixed": {k: v for k, v in section["fixed"].items() if k != "weights"}}
    assert_defaults(cls(), section, ".".join(path))


#: ``.get(key, default)`` calls in nodes, workers and training tasks that are not parameter defaults: what each reads.
NOT_PARAMETERS = {
    "action_recognition/nodes.py": ["confusions.get(p, 0)", "protocols.setdefault(p, [])"],  # running sums
    "evaluate/nodes.py": ["ablation[label]['recall@1'].get(edit, math.nan)"],  # an edit no query of a variant has
    "infer_query/nodes.py": ["(vid_score_model or {}).get('skipped', 'train_vid_score has not run')"],  # a manifest's reason
    "retrieval/nodes.py": ["by_label.get(label, [])"],  # an annotation without that label
    "workers/embed.py": ["job.skip.get(name, ())"],  # an encoder no video crashed
    "workers/decode.py": ["os.environ.get('LOCAL_WORLD_SIZE', '1')"],  # torchrun's ranks on this host; none in process
    "severe/nodes.py": ["options.get('clip_frames', sampling.frames)", "options.get('input_size', sampling.size)",  # the data's geometry
                        "((action_models or {}).get('folds') or {}).get(fold, {})"],  # a fold not trained
}


def test_no_parameter_default_is_written_in_nodes_workers_or_tasks():
    """A setting read with ``.get(key, default)`` has a second default, which the dataclass test cannot see: find them."""
    import ast

    src = Path(__file__).resolve().parents[1] / "src" / "video_similarity"
    files = [*src.glob("pipelines/*/nodes.py"), *src.glob("workers/*.py"), *src.glob("training/tasks/*.py")]
    found = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "pop", "setdefault")
                    and len(node.args) == 2 and not (isinstance(node.args[1], ast.Constant) and node.args[1].value is None)):
                found.setdefault(f"{path.parent.name}/{path.name}", []).append(ast.unparse(node))
    unexplained = {f: sorted(set(calls) - set(NOT_PARAMETERS.get(f, []))) for f, calls in found.items()}
    assert not {f: c for f, c in unexplained.items() if c}, "a default written in code: type it in the section's dataclass"
    assert len(files) > 20


def test_unknown_keys_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"retrieval.video_encoder: unknown key\(s\) \['epochz'\]; known: enabled, name"):
        VideoEncoderParams.from_params({"epochz": 3})
    with pytest.raises(ValueError, match=r"train_ensemble model 'm': unknown key\(s\) \['depth'\]"):
        TrainEnsembleParams.from_params({"models": [{"name": "m", "backbone": "resnet18", "depth": 3}]}).members()


def test_values_are_converted_to_the_field_types():
    @dataclasses.dataclass(frozen=True)
    class Example:
        size: int = 1
        rate: float = 0.5
        labels: tuple[str, ...] = ()

    assert parse(Example, {"size": "3", "rate": 1, "labels": "ND"}, "example") == Example(3, 1.0, ("ND",))


def test_a_single_name_given_for_a_list_is_a_list_of_one_and_booleans_parse_from_strings():
    """``--params=ingest.splits=train`` hands the string "train" over: it is one split, not five letters."""
    assert IngestParams.from_params({"splits": "train"}).splits == ["train"]
    assert IngestParams.from_params({"splits": ["train", "test"]}).splits == ["train", "test"]

    @dataclasses.dataclass(frozen=True)
    class Switch:
        enabled: bool = True

    assert parse(Switch, {"enabled": "false"}, "s") == Switch(False) and parse(Switch, {"enabled": "True"}, "s") == Switch(True)
    with pytest.raises(ValueError, match="s.enabled: 'maybe' is not a boolean"):
        parse(Switch, {"enabled": "maybe"}, "s")


def test_members_take_the_section_defaults():
    config = TrainEnsembleParams.from_params({"epochs": 3, "models": [{"name": "a", "backbone": "resnet18"}, {"name": "b", "backbone": "resnet34", "epochs": 5}]})
    assert [(m.name, m.epochs, m.dim) for m in config.members()] == [("a", 3, 256), ("b", 5, 256)]


def test_a_member_weight_in_train_ensemble_says_where_weights_are_chosen_now():
    members = [{"name": "a", "backbone": "resnet18", "weight": 0.5}]
    with pytest.raises(ValueError, match="model 'a': member weights are descriptor settings now, chosen by the tune stage"):
        TrainEnsembleParams.from_params({"models": members}).members()


def test_nested_sections_are_typed_and_their_defaults_are_conf_bases():
    """parse recurses into nested dataclasses: conf/base's tuning section is the dataclass default, down to its leaves."""
    from video_similarity.vsc.settings import PcaSettings

    base = TuningParams.from_params(base_section("tuning"))
    assert base.search.projections[0] == PcaSettings(64, 0.25) and isinstance(base.fixed.projection, PcaSettings)
    # the one value conf/base writes that no dataclass can know: the demo's member names
    assert dataclasses.replace(base, fixed=dataclasses.replace(base.fixed, weights=None)) == TuningParams()
    with pytest.raises(ValueError, match=r"tuning.search.projections\[0\]: unknown key\(s\) \['dims'\]"):
        TuningParams.from_params({"search": {"projections": [{"dims": 3}]}})
    with pytest.raises(ValueError, match="tuning.fixed.projection: expected a mapping of dim, whitening_power"):
        TuningParams.from_params({"fixed": {"projection": 64}})
    assert TuningParams.from_params({"fixed": {"weights": {"a": "0.5"}}}).fixed.weights == {"a": 0.5}


@pytest.mark.parametrize("env", ["test", "vsc", "gpu", "fivr", "cc_web"])
def test_every_shipped_environment_parses(env):
    """Each env's merged parameters go through the same dataclasses (a typo in any env fails here, not in a run)."""
    from kedro.config import OmegaConfigLoader

    from video_similarity.models.registry import EncoderSpec, parse_encoders

    loader = OmegaConfigLoader(str(BASE.parent), base_env="base", default_run_env=env, merge_strategy={"parameters": "soft"},
                               runtime_params={"vsc_root": "/data/vsc", "fivr_root": "/data/fivr", "cc_web_root": "/data/cc_web"})
    params = loader["parameters"]
    for cls, path in SECTIONS:
        section = params
        for key in path:
            section = section[key]
        cls.from_params(section)
    TrainEnsembleParams.from_params(params["train_ensemble"]).members()
    parse_encoders(params["retrieval"]["encoders"])
    for name, baseline in params["baselines"].items():
        EncoderSpec.from_params(name, BaselineParams.from_params(name, baseline).encoder)
