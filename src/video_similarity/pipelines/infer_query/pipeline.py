from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.infer_query.nodes import (
    detect_query_scenes, infer_plain_queries, infer_queries, make_plain_query_submission, make_query_submission, score_query_videos,
)

#: The ablation of the query boosters: namespace -> (scene parts used, video score used). The main
#: submission uses both (as far as params:scene_detection and params:video_score enable them).
ABLATION = {"no_boosters": (False, False), "scenes_only": (True, False), "video_score_only": (False, True)}

_EMBED = ["ensemble_members", "descriptor_settings", "pca_model", "frame_archives", "video_index"]
_RUN = ["embedding_store", "params:inference", "params:launch"]


def _queries(use_scenes: bool, use_video_score: bool) -> Pipeline:
    """Query descriptors and their submission, with or without each booster."""
    embed = (node(infer_queries, _EMBED + ["query_scene_parts"] + _RUN, "query_embeddings", name="infer_queries") if use_scenes
             else node(infer_plain_queries, _EMBED + _RUN, "query_embeddings", name="infer_queries"))
    submit = (node(make_query_submission, ["query_embeddings", "noise_bank", "query_video_scores", "descriptor_settings", "params:search_index"], "query_descriptors",
                   name="make_query_submission") if use_video_score
              else node(make_plain_query_submission, ["query_embeddings", "noise_bank", "descriptor_settings", "params:search_index"], "query_descriptors",
                        name="make_query_submission"))
    return pipeline([embed, submit])


def create_pipeline(boosters: bool = True, **kwargs) -> Pipeline:
    """Scene detection and video scores, then the query descriptors; ``boosters=False`` (the baselines) plain queries only."""
    if not boosters:
        return _queries(False, False)
    boosts = pipeline([
        node(detect_query_scenes, ["frame_archives", "video_index", "scene_part_store", "params:scene_detection", "params:inference"],
             "query_scene_parts", name="detect_query_scenes"),
        node(score_query_videos, ["vid_score_model", "descriptor_settings", "frame_archives", "video_index", "embedding_store",
                                  "params:video_score", "params:inference", "params:launch"], "query_video_scores", name="score_query_videos"),
    ])
    shared = {"ensemble_members", "descriptor_settings", "pca_model", "frame_archives", "video_index", "embedding_store", "noise_bank"}
    params = {"params:inference", "params:launch", "params:search_index"}
    variants = [
        pipeline(_queries(s, v), namespace=name, parameters=params,
                 inputs=shared | ({"query_scene_parts"} if s else set()) | ({"query_video_scores"} if v else set()))
        for name, (s, v) in ABLATION.items()
    ]
    return boosts + _queries(True, True) + sum(variants, Pipeline([]))
