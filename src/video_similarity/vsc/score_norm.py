"""Score normalisation (evaluation spec section 2), as in the official VSC-2022 baseline and the rank-1.

Raw cosine similarity is not comparable across queries: some queries (flat
colours, text overlays) are close to everything. Subtracting beta times the
query's best similarity to a *noise bank* (reference descriptors of another
split) turns the score into "how much closer than to unrelated videos". The
bias is folded into the descriptors so that plain inner-product search yields
the normalised score:

    q' = [q, bias(q)],  r' = [r, 1]  ->  q' . r' = q . r + bias(q)

To keep the dimension D (the challenge caps it), the noise bank's
lowest-variance dimension is deleted first to make room for the extra one.
"""

from __future__ import annotations

import numpy as np

from video_similarity.params import SearchIndexParams

LOW_SCORE_BIAS = -100.0


def _as_matrix(name: str, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite values")
    return x


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation; all-zero rows stay zero (as sklearn's ``normalize``)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms[:, None], dtype=np.float32)


def low_variance_dim(noise_features: np.ndarray) -> int:
    """Index of the noise bank's lowest-variance dimension (first one on ties)."""
    return int(_as_matrix("noise_features", noise_features).var(axis=0).argmin())


def score_normalize(
    query_features: np.ndarray,
    reference_features: np.ndarray,
    noise_features: np.ndarray,
    beta: float = 1.2,
    low_score_queries: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return score-normalised ``(queries, references)``, float32, same dimension D as the input.

    1. delete the noise bank's lowest-variance dimension from all three sets;
    2. L2-normalise all three;
    3. ``bias_i = -beta * max_j q_i . n_j`` (exact, faiss ``IndexFlatIP`` k=1);
    4. query rows become ``[q, bias]``, reference rows ``[r, 1]``.

    ``low_score_queries`` (bool, one per query row) is the rank-1's trick for
    queries its video-score model rates as unlikely copies (score < 0.001):
    their bias is set to -100 so no pair involving them can rank among real
    candidates. (The rank-1 additionally keeps only one tiny random descriptor
    for such videos; that is the caller's job, this only sets the bias.)

    The noise bank must come from a different split than the references:
    normalising on the evaluated data is against the VSC rules.
    """
    return (
        normalize_queries(query_features, noise_features, beta, low_score_queries),
        normalize_references(reference_features, noise_features),
    )


def prepare_for_noise(name: str, features: np.ndarray, noise_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``features`` and the noise bank without the noise bank's lowest-variance dimension, both L2-normalised."""
    x = _as_matrix(name, features)
    n = _as_matrix("noise_features", noise_features)
    d = n.shape[1]
    if x.shape[1] != d:
        raise ValueError(f"feature dimensions differ: {name} {x.shape[1]}, noise {d}")
    if d < 2:
        raise ValueError("need D >= 2: one dimension is replaced by the bias")
    if n.shape[0] == 0:
        raise ValueError("the noise bank is empty")
    drop = int(n.var(axis=0).argmin())
    return _l2_normalize(np.delete(x, drop, axis=1)), _l2_normalize(np.delete(n, drop, axis=1))


def normalize_references(reference_features: np.ndarray, noise_features: np.ndarray) -> np.ndarray:
    """The reference side of :func:`score_normalize`: ``[r, 1]`` (it needs only the noise bank)."""
    r, _ = prepare_for_noise("reference_features", reference_features, noise_features)
    return np.ascontiguousarray(np.hstack([r, np.ones((len(r), 1), dtype=np.float32)]))


def normalize_queries(
    query_features: np.ndarray, noise_features: np.ndarray, beta: float = 1.2, low_score_queries: np.ndarray | None = None,
    search: SearchIndexParams | None = None,
) -> np.ndarray:
    """The query side of :func:`score_normalize`: ``[q, -beta * max_j q . n_j]``, the max found through ``search``'s index (exact by default)."""
    q, n = prepare_for_noise("query_features", query_features, noise_features)
    if len(q):
        # here, not at the top: the training workers read this package's training pairs without faiss
        from video_similarity.search_index import build_index, index_for_search, nearest

        best, rows = nearest(index_for_search(n, len(q), search), q, 1)
        if (missed := rows[:, 0] < 0).any():  # an approximate index found no row in the lists it visited
            best[missed], _ = nearest(build_index(n), q[missed], 1)
        bias = (-float(beta) * best[:, :1]).astype(np.float32)
    else:
        bias = np.zeros((0, 1), dtype=np.float32)

    if low_score_queries is not None:
        mask = np.asarray(low_score_queries)
        if mask.dtype != np.bool_ or mask.shape != (len(q),):
            raise ValueError(
                f"low_score_queries must be a bool array of shape ({len(q)},), "
                f"got {mask.dtype} {mask.shape}"
            )
        bias[mask, 0] = LOW_SCORE_BIAS
    return np.ascontiguousarray(np.hstack([q, bias]), dtype=np.float32)
