from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.pca.nodes import fit_projection


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                fit_projection,
                ["ensemble_members", "descriptor_settings", "frame_archives", "video_index", "embedding_store", "params:pca",
                 "params:inference", "params:launch"],
                "pca_model",
                name="fit_pca",
            )
        ]
    )
