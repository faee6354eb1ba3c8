"""A report's figures as MLflow metrics: keys MLflow accepts, only the figures asked for."""

import math

from video_similarity.tracking.metrics import as_metrics, figures, metric_key


def test_keys_are_valid_mlflow_names():
    assert metric_key("+ scene detection") == "scene_detection"
    assert metric_key("cc_web*") == "cc_web_star"
    assert metric_key("chamfer re-ranked") == "chamfer_re-ranked"
    assert metric_key("n=3") == "n_3"
    assert metric_key("resnet50_rmac") == "resnet50_rmac"


def test_figures_keep_the_named_numeric_leaves_under_their_path():
    report = {"ensemble": {"uAP": 0.7, "positives": 65, "dim": 512},
              "ablation": {"+ video score": {"uAP": 0.5, "recall@1": {"blur": 0.6}}, "flag": {"uAP": True}}}
    assert figures(report, keep={"uAP"}) == {"ensemble.uAP": 0.7, "ablation.video_score.uAP": 0.5}
    assert figures({"a": {"b": 1, "c": "text"}}) == {"a.b": 1.0}


def test_metrics_are_one_value_at_step_zero_and_skip_what_is_not_finite():
    assert as_metrics({"a": 0.25, "b": math.nan, "c": None, "d": 3}) == {"a": {"value": 0.25, "step": 0}, "d": {"value": 3.0, "step": 0}}
