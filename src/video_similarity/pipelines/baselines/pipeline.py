from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines import infer_query, infer_ref, pca
from video_similarity.pipelines.baselines.nodes import baseline_members, baseline_settings

#: The baselines, in report order.
BASELINES = ("pdq", "untrained", "sscd")
SHARED = {"frame_archives", "video_index", "embedding_store", "pretrained_weights"}


def _for_baseline(func, name: str):
    """``func`` with the baseline's name bound, keeping its ``__name__`` for Kedro's node names and logs."""
    return update_wrapper(partial(func, name), func)


def create_pipeline(**kwargs) -> Pipeline:
    """Each baseline: its members and settings, then pca -> infer_ref -> infer_query exactly as the ensemble, under its own namespace."""
    stages = pca.create_pipeline() + infer_ref.create_pipeline() + infer_query.create_pipeline(boosters=False)
    pipelines = []
    for name in BASELINES:
        section = f"params:baselines.{name}"
        own = pipeline([
            node(_for_baseline(baseline_members, name), [section, "pretrained_weights"], "ensemble_members", name="baseline_members"),
            node(_for_baseline(baseline_settings, name), [section], "descriptor_settings", name="baseline_settings"),
        ])
        pipelines.append(pipeline(
            own + stages,
            namespace=name,
            inputs=SHARED,
            parameters={"params:pca", section, "params:inference", "params:launch", "params:search_index"},
        ))
    return sum(pipelines, Pipeline([]))
