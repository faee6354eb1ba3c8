from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.infer_ref.nodes import build_reference_index, infer_references


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                infer_references,
                ["descriptor_models", "pca_model", "frame_archives", "video_index", "embedding_store", "params:inference", "params:launch"],
                ["reference_embeddings", "noise_bank"],
                name="infer_references",
            ),
            node(build_reference_index, "reference_embeddings", "reference_index", name="build_reference_index"),
        ]
    )
