from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.ingest.nodes import index_dataset, locate_dataset


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(locate_dataset, "params:ingest", "raw_dataset_root", name="locate_dataset"),
            node(
                index_dataset,
                ["raw_dataset_root", "params:ingest"],
                ["video_index", "matching_ground_truth", "descriptor_ground_truth", "query_edits", "ingest_report"],
                name="index_dataset",
            ),
        ]
    )
