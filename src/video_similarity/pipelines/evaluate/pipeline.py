import warnings

from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.baselines.pipeline import BASELINES
from video_similarity.pipelines.evaluate.nodes import evaluate_submissions, track_vsc_metrics
from video_similarity.pipelines.infer_query.pipeline import ABLATION


def create_pipeline(**kwargs) -> Pipeline:
    """Scores the ensemble's submission and each baseline's (``<baseline>.query_descriptors`` ...)."""
    baseline_files = [f"{name}_{side}_descriptors" for name in BASELINES for side in ("query", "reference")]
    ablation_files = [f"ablation_{name}_query_descriptors" for name in ABLATION]
    inputs = ["query_descriptors", "reference_descriptors", "descriptor_ground_truth", "query_edits", "video_index", "query_video_scores",
              "descriptor_settings", "params:inference"]
    scoring = node(
        evaluate_submissions,
        {name: name for name in inputs[:-1]} | {"params": inputs[-1]} | {f: f for f in baseline_files + ablation_files},
        ["vsc_metrics", "vsc_pr_curve", "vsc_edit_breakdown", "vsc_report"],
        name="evaluate_submissions",
    )
    # the baselines' namespaced outputs, under the names the node takes; Kedro warns about any dotted
    # name outside a namespace, and reading another namespace's outputs is exactly what scoring does
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'", category=UserWarning)
        namespaced = {f: f.replace("_", ".", 1) for f in baseline_files}
        namespaced |= {f"ablation_{name}_query_descriptors": f"{name}.query_descriptors" for name in ABLATION}
        tracking = node(track_vsc_metrics, "vsc_metrics", "vsc_tracked_metrics", name="track_vsc_metrics")
        return pipeline([scoring, tracking], inputs=namespaced)
