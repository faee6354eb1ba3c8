"""Project pipelines. Only pipelines that work end to end are registered."""

from kedro.pipeline import Pipeline

from video_similarity.pipelines import (
    action_recognition, baselines, evaluate, infer_query, infer_ref, ingest, pca, preprocess, retrieval, severe, train_ensemble,
    train_vid_score, tune, vsc_matching,
)

#: The VSC-2022 descriptor track, in order (baselines: PDQ, the untrained backbone and SSCD alone through pca, infer_ref, infer_query).
VSC_STAGES = ("ingest", "preprocess", "train_ensemble", "train_vid_score", "tune", "pca", "infer_ref", "infer_query", "baselines", "evaluate")


def register_pipelines() -> dict[str, Pipeline]:
    modules = {
        "ingest": ingest, "preprocess": preprocess, "train_ensemble": train_ensemble, "pca": pca,
        "infer_ref": infer_ref, "train_vid_score": train_vid_score, "tune": tune, "infer_query": infer_query, "baselines": baselines,
        "evaluate": evaluate,
    }
    pipelines = {name: modules[name].create_pipeline() for name in VSC_STAGES}
    pipelines["vsc_descriptor"] = sum((pipelines[name] for name in VSC_STAGES), Pipeline([]))
    pipelines["__default__"] = pipelines["vsc_descriptor"]
    pipelines["vsc_matching"] = vsc_matching.create_pipeline()  # after vsc_descriptor: copied segments located and scored
    pipelines["retrieval"] = retrieval.create_pipeline()  # FIVR or CC_WEB_VIDEO, by --env
    pipelines["fivr_retrieval"] = pipelines["retrieval"]  # its earlier name: commands written for it still work
    pipelines["action_recognition"] = action_recognition.create_pipeline()
    pipelines["severe"] = severe.create_pipeline()
    return pipelines
