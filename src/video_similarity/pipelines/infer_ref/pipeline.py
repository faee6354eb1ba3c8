from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.infer_ref.nodes import build_reference_index, infer_references, make_reference_submission


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                infer_references,
                ["ensemble_members", "descriptor_settings", "pca_model", "frame_archives", "video_index", "embedding_store", "params:inference", "params:launch"],
                ["reference_embeddings", "noise_bank"],
                name="infer_references",
            ),
            node(make_reference_submission, ["reference_embeddings", "noise_bank"], "reference_descriptors", name="make_reference_submission"),
            node(build_reference_index, ["reference_descriptors", "params:search_index"], "reference_index", name="build_reference_index"),
        ]
    )
