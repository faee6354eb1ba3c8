"""The one candidate-search index (``params:search_index``): exact inner product, IVF or HNSW.

Every candidate search goes through here: the global top-K of the VSC evaluator's rule
(``metrics/vsc.py``), score normalisation's nearest noise row, find-copies' index, the FIVR
prefilter. Exact search is the evaluator's and the default; at VSC sizes (1.26M reference rows x
0.3M query rows, 512-d) it is 2e14 multiply-adds, so ``ivf`` (``IVF{nlist},Flat`` trained on a
sample of the references, ``nprobe`` lists visited per row) or ``hnsw`` trade a little recall for
an order of magnitude, and ``auto`` switches to IVF above a size. faiss does the searching; this
module only chooses, builds (in chunks, so no second copy of the rows is made) and configures.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from tqdm.auto import tqdm

from video_similarity.params import SearchIndexParams

log = logging.getLogger(__name__)

ROWS_PER_LIST = 40  # IVF training rows per list: faiss warns below 39


def resolved_kind(params: SearchIndexParams, rows: int) -> str:
    """``exact``, ``ivf`` or ``hnsw``: what ``params.kind`` means for an index of ``rows`` rows."""
    if params.kind == "auto":
        return "ivf" if rows >= params.auto_min_rows else "exact"
    return params.kind


def ivf_lists(params: SearchIndexParams, rows: int) -> int:
    """IVF's list count: ``nlist``, or 2 sqrt(rows) rounded to a power of two; never more than rows / 8.

    faiss suggests 4 to 16 sqrt(rows); on 2 cores training the lists (k-means) and assigning every
    row to one costs more than the search itself at that count, so the default takes half the least.
    """
    if params.nlist is not None:
        wanted = params.nlist
    else:
        wanted = 2 ** round(math.log2(max(2 * math.sqrt(max(rows, 1)), 1)))
    return int(max(1, min(wanted, rows // 8 or 1)))


def factory_string(params: SearchIndexParams, rows: int) -> str:
    """The faiss factory string of the index ``params`` builds over ``rows`` rows."""
    kind = resolved_kind(params, rows)
    if kind == "ivf":
        return f"IVF{ivf_lists(params, rows)},Flat"
    if kind == "hnsw":
        return f"HNSW{params.hnsw_m}"
    return "Flat"


def _rows(features: np.ndarray, start: int, stop: int) -> np.ndarray:
    return np.ascontiguousarray(features[start:stop], dtype=np.float32)


def build_index(features: np.ndarray, params: SearchIndexParams | None = None, progress: bool = False):
    """A faiss inner-product index over ``features`` (an array or a memory map), configured for searching.

    Rows are added ``chunk_rows`` at a time, so a memory-mapped float16 or float32 store is read
    once and only faiss holds the rows; IVF is first trained on a seeded sample of them.
    """
    import faiss

    params = params or SearchIndexParams()
    if features.ndim != 2:
        raise ValueError(f"an index needs (rows, dim) features, got shape {features.shape}")
    rows, dim = features.shape
    factory = factory_string(params, rows)
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    if factory.startswith("IVF"):
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.niter = params.train_iterations
        ivf.cp.seed = params.seed
        sample_rows = params.train_rows or ROWS_PER_LIST * ivf.nlist
        sample = np.sort(np.random.default_rng(params.seed).choice(rows, min(rows, sample_rows), replace=False))
        log.info("Training %s on %d of %d rows", factory, len(sample), rows)
        index.train(np.ascontiguousarray(features[sample], dtype=np.float32))
    elif factory.startswith("HNSW"):
        index.hnsw.efConstruction = params.ef_construction
    starts = range(0, rows, params.chunk_rows)
    for start in tqdm(starts, desc=f"indexing ({factory})", unit="chunk", disable=not progress or len(starts) < 2):
        index.add(_rows(features, start, start + params.chunk_rows))
    return configure(index, params)


def index_for_search(features: np.ndarray, searched_rows: int, params: SearchIndexParams | None = None):
    """An index built for one search of ``searched_rows`` query rows: ``params``' kind, or exact when that is cheaper.

    Building an IVF index assigns every row to one of ``nlist`` lists, which costs an exact search of
    ``nlist`` query rows (HNSW's build costs more); so a search of no more rows than that is exact
    (one find-copies call against a VSC-sized noise bank: 60 rows, not a k-means over 1.26M).
    """
    params = params or SearchIndexParams()
    if resolved_kind(params, len(features)) != "exact" and searched_rows <= ivf_lists(params, len(features)):
        params = SearchIndexParams(chunk_rows=params.chunk_rows)
    return build_index(features, params)


def configure(index, params: SearchIndexParams | None = None):
    """``index`` with the search-time settings of ``params`` (IVF's nprobe, HNSW's efSearch), e.g. after ``faiss.read_index``."""
    import faiss

    params = params or SearchIndexParams()
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = min(params.nprobe, ivf.nlist)
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = params.ef_search
    return index


def describe(index) -> str:
    """What ``index`` is, in words for logs and reports: ``exact``, ``IVF2048 nprobe 16``, ``HNSW32 efSearch 256``."""
    import faiss

    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        return f"IVF{ivf.nlist} nprobe {ivf.nprobe}"
    if isinstance(index, faiss.IndexHNSW):
        return f"HNSW efSearch {index.hnsw.efSearch}"
    return "exact"


def nearest(index, queries: np.ndarray, k: int, chunk_rows: int = SearchIndexParams.chunk_rows) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (scores, rows) of each query row, searched ``chunk_rows`` query rows at a time (-1 rows: fewer found)."""
    k = int(min(k, index.ntotal))
    scores = np.full((len(queries), max(k, 0)), -np.inf, dtype=np.float32)
    rows = np.full((len(queries), max(k, 0)), -1, dtype=np.int64)
    if k <= 0:
        return scores, rows
    for start in range(0, len(queries), chunk_rows):
        stop = start + chunk_rows
        scores[start:stop], rows[start:stop] = index.search(_rows(queries, start, stop), k)
    return scores, rows


def range_top_k(index, batches, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query row, index row, score) triples scoring strictly above a radius that starts at -1e10 and,
    whenever more than 2k are kept, becomes the (k+1)-th best kept score (faiss.contrib's
    ``range_search_max_results``: the VSC evaluator's rule). ``batches`` yields query row blocks in order.
    """
    from faiss.contrib.exhaustive_search import range_search_max_results

    _, lims, scores, refs = range_search_max_results(index, batches, -1e10, max_results=2 * k, min_results=k)
    qrows = np.repeat(np.arange(len(lims) - 1, dtype=np.int64), np.diff(lims).astype(np.int64))
    return qrows, refs.astype(np.int64), scores
