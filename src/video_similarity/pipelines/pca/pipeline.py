from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.pca.nodes import fit_pca


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                fit_pca,
                ["ensemble_members", "frame_archives", "video_index", "embedding_store", "params:pca", "params:launch"],
                "pca_model",
                name="fit_pca",
            )
        ]
    )
