"""``vsc_matching``: after ``vsc_descriptor``, which seconds of a query copy which seconds of a reference (VSC-2022's matching track)."""

from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.vsc_matching.nodes import (
    build_copy_index, candidate_pairs, choose_copy_thresholds, evaluate_matching_track, localize_with_network, localize_with_tn,
    matching_archives, matching_descriptors, track_matching_metrics, train_alignment_network,
)
from video_similarity.vsc.localization.registry import LOCALIZERS

_EMBED = ["ensemble_members", "descriptor_settings", "pca_model", "matching_frame_archives", "video_index", "embedding_store"]
_PARAMS = ["params:vsc_matching", "params:preprocess", "params:inference", "params:launch"]


def create_pipeline(**kwargs) -> Pipeline:
    matches = [f"{name}_matches" for name in LOCALIZERS]
    return pipeline([
        node(matching_archives, ["video_index", "frame_archives", "matching_frame_archive_store", "params:vsc_matching", "params:preprocess",
                                 "params:inference"], "matching_frame_archives", name="matching_archives"),
        node(matching_descriptors, _EMBED + ["query_video_scores"] + _PARAMS + ["params:search_index"], ["matching_query_descriptors", "matching_reference_descriptors"],
             name="matching_descriptors"),
        node(candidate_pairs, ["matching_query_descriptors", "matching_reference_descriptors", "params:vsc_matching", "params:search_index"], "matching_candidates",
             name="matching_candidates"),
        node(train_alignment_network, _EMBED + ["matching_ground_truth", "alignment_store"] + _PARAMS, "alignment_model",
             name="train_alignment_network"),
        node(localize_with_tn, ["matching_query_descriptors", "matching_reference_descriptors", "matching_candidates", "params:vsc_matching"],
             "tn_matches", name="localize_with_tn"),
        node(localize_with_network, ["matching_query_descriptors", "matching_reference_descriptors", "matching_candidates", "alignment_model",
                                     "params:vsc_matching"], "network_matches", name="localize_with_network"),
        node(evaluate_matching_track, matches + ["matching_ground_truth", "query_edits", "matching_query_descriptors",
                                                 "matching_reference_descriptors", "matching_candidates", "params:vsc_matching", "params:inference"],
             ["matching_metrics", "matching_report", "matching_pr_curve"] + [f"matching_pairs_{name}" for name in LOCALIZERS],
             name="evaluate_matching_track"),
        node(track_matching_metrics, "matching_metrics", "matching_tracked_metrics", name="track_matching_metrics"),
        # kedro find-copies' index (docs/find_copies.md): thresholds chosen on the training split, the references' rows published whole
        node(choose_copy_thresholds, ["ensemble_members", "descriptor_settings", "pca_model", "frame_archives", "video_index", "embedding_store",
                                      "matching_ground_truth", "tuning_folds", "alignment_model", "params:find_copies", "params:vsc_matching", "params:inference",
                                      "params:launch", "params:search_index"], "copy_thresholds", name="choose_copy_thresholds"),
        node(build_copy_index, ["reference_descriptors", "video_index", "frame_archives", "copy_thresholds", "ensemble_members",
                                "descriptor_settings", "pca_model", "noise_bank", "vid_score_model", "alignment_model", "copy_index_store",
                                "reference_additions_store", "params:find_copies", "params:vsc_matching", "params:preprocess",
                                "params:scene_detection", "params:video_score", "params:inference", "params:launch", "params:search_index"], "copy_index",
             name="build_copy_index"),
    ])
