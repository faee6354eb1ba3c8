from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.preprocess.nodes import decode_to_archives


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                decode_to_archives,
                ["video_index", "frame_archive_store", "params:preprocess", "params:launch"],
                ["frame_archives", "preprocess_report"],
                name="decode_to_archives",
            ),
        ]
    )
