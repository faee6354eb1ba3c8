from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.tune.nodes import tune_descriptors


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                tune_descriptors,
                ["ensemble_members", "vid_score_model", "tuning_folds", "frame_archives", "video_index", "descriptor_ground_truth",
                 "embedding_store", "params:tuning", "params:pca", "params:video_score", "params:inference", "params:launch"],
                ["descriptor_settings", "tuning_results", "tuning_report"],
                name="tune_descriptors",
            )
        ]
    )
