from kedro.pipeline import Pipeline, node, pipeline

from video_similarity.pipelines.evaluate.nodes import evaluate_submissions, pdq_baseline, untrained_baseline


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                pdq_baseline,
                ["frame_archives", "video_index", "embedding_store", "params:inference", "params:launch"],
                ["pdq_query_descriptors", "pdq_reference_descriptors"],
                name="pdq_baseline",
            ),
            node(
                untrained_baseline,
                ["frame_archives", "video_index", "embedding_store", "params:inference", "params:evaluate.untrained_baseline", "params:pca", "params:launch"],
                ["untrained_query_descriptors", "untrained_reference_descriptors"],
                name="untrained_baseline",
            ),
            node(
                evaluate_submissions,
                [
                    "query_descriptors", "reference_descriptors",
                    "pdq_query_descriptors", "pdq_reference_descriptors",
                    "untrained_query_descriptors", "untrained_reference_descriptors",
                    "descriptor_ground_truth", "query_edits", "video_index", "params:inference",
                ],
                ["vsc_metrics", "vsc_pr_curve", "vsc_edit_breakdown", "vsc_report"],
                name="evaluate_submissions",
            ),
        ]
    )
