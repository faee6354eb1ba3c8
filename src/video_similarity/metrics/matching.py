"""VSC-2022 matching track: segment AP and pairwise uAP of a predictions CSV, as the official evaluator.

Both files are checked first (a bad row exits with status 2 and one line naming the file and
the row), then scored by :func:`video_similarity.vsc.segment_ap.evaluate_matching`, the same
path as the pipelines, so the figures cannot diverge.

Command line::

    python -m video_similarity.metrics.matching --predictions P.csv --ground-truth GT.csv
"""

from __future__ import annotations

import argparse
import sys

from video_similarity.vsc.matches import read_matches
from video_similarity.vsc.segment_ap import evaluate_matching


def main(argv: list[str] | None = None) -> int:
    """CLI: print ``segment AP: x.xxxxxx`` and ``pairwise uAP: x.xxxxxx``; a bad or unreadable file exits 2."""
    parser = argparse.ArgumentParser(
        prog="python -m video_similarity.metrics.matching",
        description="VSC-2022 matching track segment AP (and pairwise micro-AP), computed as the official evaluator.",
    )
    parser.add_argument("--predictions", required=True,
                        help="predictions CSV: query_id,ref_id,query_start,query_end,ref_start,ref_end,score")
    parser.add_argument("--ground-truth", required=True, help="ground-truth matches CSV (score not needed)")
    args = parser.parse_args(argv)
    try:
        predictions = read_matches(args.predictions)
        ground_truth = read_matches(args.ground_truth, ground_truth=True)
        result = evaluate_matching(predictions, ground_truth)
    except (OSError, ValueError) as exc:  # MatchError is a ValueError
        parser.error(str(exc))  # exits 2
    print(f"segment AP: {result['segment_ap']:.6f}")
    print(f"pairwise uAP: {result['pairwise_uap']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
