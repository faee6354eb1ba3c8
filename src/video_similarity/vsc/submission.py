"""The submitted descriptors: score normalisation of each side (spec section 2) with the query boosters'
suppression; what ``reference_descriptors.npz`` and ``query_descriptors.npz`` hold."""

from __future__ import annotations

from video_similarity.descriptors import Descriptors
from video_similarity.params import SearchIndexParams
from video_similarity.vsc.boosters import suppress
from video_similarity.vsc.score_norm import normalize_queries, normalize_references


def reference_submission(reference: Descriptors, noise: Descriptors) -> Descriptors:
    """Score-normalised reference descriptors (spec section 2): they need only the noise bank."""
    return Descriptors(reference.video_ids, reference.timestamps, normalize_references(reference.features, noise.features))


def query_submission(query: Descriptors, noise: Descriptors, beta: float, suppressed: set[str] | None = None,
                     search: SearchIndexParams | None = None) -> Descriptors:
    """Score-normalised query descriptors (spec section 2): the bias is -beta x the best noise similarity.

    A ``suppressed`` query (the video-score model's) keeps one tiny random
    descriptor whose bias is -100 (:func:`video_similarity.vsc.boosters.suppress`).
    """
    query, low = suppress(query, suppressed or set())
    return Descriptors(query.video_ids, query.timestamps, normalize_queries(query.features, noise.features, beta=beta, low_score_queries=low, search=search))
