"""The reference index: faiss, inner product over the submitted reference descriptors (what the search scores).

Built from a faiss factory string (``inference.index_factory``): "Flat" is the exact search the
evaluator does; an approximate index ("IVF1024,Flat", "HNSW32", ...) is a setting, not new code.
"""

from __future__ import annotations

import numpy as np


def build_index(features: np.ndarray, factory: str = "Flat"):
    """A faiss inner-product index of ``factory`` over ``features`` (trained on them first when the kind needs it)."""
    import faiss

    features = np.ascontiguousarray(features, dtype=np.float32)
    try:
        index = faiss.index_factory(features.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as error:
        raise ValueError(f"inference.index_factory {factory!r} is not a faiss index factory string: {str(error).splitlines()[0]}") from None
    if not index.is_trained:
        index.train(features)
    index.add(features)
    return index
