"""Project pipelines. Only pipelines that work end to end are registered."""

from kedro.pipeline import Pipeline

from video_similarity.pipelines import ingest, preprocess


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = {
        "ingest": ingest.create_pipeline(),
        "preprocess": preprocess.create_pipeline(),
    }
    # The VSC-2022 descriptor track, in order; later stages join as they land.
    pipelines["vsc_descriptor"] = pipelines["ingest"] + pipelines["preprocess"]
    pipelines["__default__"] = pipelines["vsc_descriptor"]
    return pipelines
