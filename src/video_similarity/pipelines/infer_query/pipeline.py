from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.infer_query.nodes import infer_queries, make_query_submission


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                infer_queries,
                ["ensemble_members", "pca_model", "frame_archives", "video_index", "embedding_store", "params:inference", "params:launch"],
                "query_embeddings",
                name="infer_queries",
            ),
            node(make_query_submission, ["query_embeddings", "noise_bank", "params:inference"], "query_descriptors", name="make_query_submission"),
        ]
    )
