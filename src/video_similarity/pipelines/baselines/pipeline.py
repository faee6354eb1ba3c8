from functools import partial

from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines import infer_query, infer_ref, pca
from video_similarity.pipelines.baselines.nodes import baseline_members

#: baseline -> the parameters its pca stage reads (PDQ hashes are used as they are).
BASELINES = {"pdq": "params:baselines.pdq.pca", "untrained": "params:pca", "sscd": "params:baselines.sscd.pca"}  # report order
SHARED = {"frame_archives", "video_index", "embedding_store", "pretrained_weights"}


def create_pipeline(**kwargs) -> Pipeline:
    """Each baseline: its members, then pca -> infer_ref -> infer_query exactly as the ensemble, under its own namespace."""
    stages = pca.create_pipeline() + infer_ref.create_pipeline() + infer_query.create_pipeline(boosters=False)
    pipelines = []
    for name, pca_params in BASELINES.items():
        members = node(partial(baseline_members, name), [f"params:baselines.{name}", "pretrained_weights"], "ensemble_members", name="baseline_members")
        pipelines.append(pipeline(
            pipeline([members]) + stages,
            namespace=name,
            inputs=SHARED,
            parameters={"params:pca": pca_params, f"params:baselines.{name}": f"params:baselines.{name}",
                        "params:inference": "params:inference", "params:launch": "params:launch"},
        ))
    return sum(pipelines, Pipeline([]))
