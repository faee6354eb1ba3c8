from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.train_ensemble.nodes import plan_tuning_folds, train_ensemble


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(plan_tuning_folds, ["video_index", "descriptor_ground_truth", "params:tuning", "params:inference"], "tuning_folds",
                 name="plan_tuning_folds"),
            node(
                train_ensemble,
                ["frame_archives", "video_index", "matching_ground_truth", "tuning_folds", "pretrained_weights", "descriptor_models", "embedding_store", "params:train_ensemble", "params:launch"],
                "ensemble_members",
                name="train_ensemble",
            )
        ]
    )
