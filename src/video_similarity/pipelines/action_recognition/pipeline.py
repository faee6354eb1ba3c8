"""action_recognition: TVN-1 trained from scratch on a UCF-style folder (or the embedded demo), per protocol."""

from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.action.dataset import index_action_videos
from video_similarity.pipelines.action_recognition.nodes import (
    decode_action_clips,
    evaluate_action_models,
    locate_action_dataset,
    track_action_metrics,
    train_action_models,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(locate_action_dataset, "params:action_data", "action_dataset_root", name="locate_action_dataset"),
            node(index_action_videos, "action_dataset_root", ["action_video_index", "action_index_problems"], name="index_action_videos"),
            node(
                decode_action_clips,
                ["action_video_index", "action_index_problems", "action_dataset_root", "action_clip_store", "params:action_data"],
                ["action_clips", "action_ingest_report"],
                name="decode_action_clips",
            ),
            node(
                train_action_models,
                ["action_clips", "action_model_store", "params:action_data", "params:action_recognition", "params:launch"],
                "action_models",
                name="train_action_models",
            ),
            node(
                evaluate_action_models,
                ["action_clips", "action_models", "action_ingest_report", "params:action_data", "params:action_recognition"],
                ["action_metrics", "action_report", "action_confusion_matrix", "action_training_curves"],
                name="evaluate_action_models",
            ),
            node(track_action_metrics, "action_metrics", "action_tracked_metrics", name="track_action_metrics"),
        ]
    )
