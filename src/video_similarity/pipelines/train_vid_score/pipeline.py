from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.train_vid_score.nodes import train_video_score


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                train_video_score,
                ["ensemble_members", "frame_archives", "video_index", "descriptor_ground_truth", "tuning_folds", "pretrained_weights",
                 "vid_score_store", "embedding_store", "params:train_vid_score", "params:launch"],
                "vid_score_model",
                name="train_video_score",
            )
        ]
    )
