"""severe: registry video encoders evaluated downstream (domain, granularity, sample size; linear probe and fine-tuning)."""

from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.severe.nodes import evaluate_severe, extract_severe_features, prepare_severe_data, track_severe_metrics


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(prepare_severe_data, ["params:severe", "params:action_data", "action_clip_store"], ["severe_videos", "severe_ingest_report"],
                 name="prepare_severe_data"),
            node(
                extract_severe_features,
                ["severe_videos", "action_models", "params:severe", "params:action_data", "pretrained_weights", "params:launch",
                 "severe_feature_store"],
                "severe_features",
                name="extract_severe_features",
            ),
            node(
                evaluate_severe,
                ["severe_videos", "severe_features", "action_models", "params:severe", "pretrained_weights", "params:launch",
                 "params:action_data", "severe_finetune_store"],
                ["severe_results", "severe_report", "severe_sample_sizes"],
                name="evaluate_severe",
            ),
            node(track_severe_metrics, "severe_results", "severe_tracked_metrics", name="track_severe_metrics"),
        ]
    )
