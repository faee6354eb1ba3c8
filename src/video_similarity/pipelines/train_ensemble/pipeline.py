from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.train_ensemble.nodes import train_ensemble


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                train_ensemble,
                ["frame_archives", "video_index", "matching_ground_truth", "pretrained_weights", "descriptor_models", "embedding_store", "params:train_ensemble", "params:launch"],
                "ensemble_members",
                name="train_ensemble",
            )
        ]
    )
