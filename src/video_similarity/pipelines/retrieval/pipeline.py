from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.retrieval.nodes import (
    compute_similarities,
    pack_database_shards,
    rerank_tradeoff,
    decode_retrieval_videos,
    encode_with_video_encoder,
    evaluate_retrieval,
    extract_features,
    fit_whitening,
    track_retrieval_metrics,
    index_retrieval_videos,
    locate_retrieval_dataset,
    train_video_encoder,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(locate_retrieval_dataset, "params:retrieval", "retrieval_dataset_root", name="locate_retrieval_dataset"),
            node(
                index_retrieval_videos,
                ["retrieval_dataset_root", "params:retrieval"],
                ["retrieval_video_index", "retrieval_ground_truth", "retrieval_ingest_report"],
                name="index_retrieval_videos",
            ),
            node(
                decode_retrieval_videos,
                ["retrieval_video_index", "retrieval_frame_archive_store", "params:preprocess"],
                ["retrieval_frame_archives", "retrieval_preprocess_report"],
                name="decode_retrieval_videos",
            ),
            node(
                fit_whitening,
                ["retrieval_video_index", "retrieval_frame_archives", "params:retrieval", "params:launch",
                 "pretrained_weights", "retrieval_whitening_store"],
                "retrieval_whitening",
                name="fit_whitening",
            ),
            node(
                extract_features,
                ["retrieval_video_index", "retrieval_frame_archives", "params:retrieval", "params:launch",
                 "pretrained_weights", "retrieval_whitening", "retrieval_feature_store"],
                "retrieval_features",
                name="extract_retrieval_features",
            ),
            node(
                train_video_encoder,
                ["retrieval_video_index", "retrieval_features", "retrieval_ground_truth", "params:retrieval", "params:launch",
                 "video_encoder_store"],
                "video_encoder",
                name="train_video_encoder",
            ),
            node(
                encode_with_video_encoder,
                ["retrieval_video_index", "retrieval_features", "video_encoder", "video_encoder_features", "params:retrieval", "params:launch"],
                "retrieval_feature_manifest",
                name="encode_with_video_encoder",
            ),
            node(
                pack_database_shards,
                ["retrieval_video_index", "retrieval_feature_manifest", "params:retrieval", "retrieval_shard_store"],
                "retrieval_database_shards",
                name="pack_database_shards",
            ),
            node(
                compute_similarities,
                ["retrieval_video_index", "retrieval_feature_manifest", "retrieval_database_shards", "params:retrieval", "retrieval_similarity_store"],
                "retrieval_similarities",
                name="compute_similarities",
            ),
            node(
                rerank_tradeoff,
                ["retrieval_video_index", "retrieval_feature_manifest", "retrieval_database_shards", "retrieval_ground_truth",
                 "retrieval_ingest_report", "params:retrieval"],
                ["retrieval_rerank_curve", "retrieval_rerank_plot"],
                name="rerank_tradeoff",
            ),
            node(
                evaluate_retrieval,
                ["retrieval_similarities", "retrieval_ground_truth", "retrieval_feature_manifest", "retrieval_ingest_report", "params:retrieval"],
                ["retrieval_results", "retrieval_results_table"],
                name="evaluate_retrieval",
            ),
            node(track_retrieval_metrics, "retrieval_results", "retrieval_tracked_metrics", name="track_retrieval_metrics"),
        ]
    )
