"""The localisers by name, and the one loop that runs a localiser over candidate pairs.

A localiser maps one candidate pair's similarity matrix (query seconds x
reference seconds: inner products of the score-normalised descriptors, so the
query's bias is in it) to boxes ``[query_start, ref_start, query_end, ref_end]``
in rows (half-open: row k spans [k, k + 1); a fractional edge lies inside a
row) and one score per box. A new method is an entry in
``LOCALIZERS``; the pipeline, the report and the command line read the names.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from video_similarity.descriptors import Descriptors, row_spans
from video_similarity.vsc.localization.params import TnParams
from video_similarity.vsc.localization.tn import temporal_network
from video_similarity.vsc.matches import MATCH_COLUMNS

Localizer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class TnLocalizer:
    """TN on sims + similarity_bias; a box scores the best similarity inside it, the official baseline's way.

    The baseline's score reads ``sims[q0:q1, r0:r1]`` (the box's last row and
    column left out: its slice is end-exclusive); kept, since the figures it
    published were made so.
    """

    def __init__(self, params: TnParams):
        self.params = params

    def __call__(self, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        biased = np.asarray(sims, dtype=np.float32) + np.float32(p.similarity_bias)
        boxes = temporal_network(biased, max_step=p.max_step, top_k=p.top_k, max_path=p.max_path, min_sim=p.min_sim,
                                 min_length=p.min_length, max_iou=p.max_iou)
        scores = np.array([float(biased[q0:q1, r0:r1].max()) - p.similarity_bias for q0, r0, q1, r1 in boxes])
        return inclusive_to_half_open(boxes), scores


def inclusive_to_half_open(boxes: np.ndarray) -> np.ndarray:
    """``[q0, r0, q1, r1]`` inclusive rows -> ``[q0, r0, q1 + 1, r1 + 1]`` (the official baseline: the first row's start, the last row's end)."""
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4) + np.array([0.0, 0.0, 1.0, 1.0])


def _tn(params, model_file: str | None) -> Localizer:
    return TnLocalizer(params.tn)


def _network(params, model_file: str | None) -> Localizer:
    from video_similarity.vsc.localization.network import NetworkLocalizer

    if not model_file:
        raise ValueError("the 'network' localiser needs the trained alignment network (run the vsc_matching pipeline's training node)")
    return NetworkLocalizer(model_file, params.network)


#: name -> builder(params with ``tn`` and ``network`` sections, the network's TorchScript file or None)
LOCALIZERS: dict[str, Callable[..., Localizer]] = {"tn": _tn, "network": _network}


def build_localizer(name: str, params, model_file: str | None = None) -> Localizer:
    if name not in LOCALIZERS:
        raise ValueError(f"unknown localiser {name!r}; known: {sorted(LOCALIZERS)}")
    return LOCALIZERS[name](params, model_file)


class PairMatrices:
    """Similarity matrices of (query, reference) pairs, rows grouped by video once."""

    def __init__(self, queries: Descriptors, references: Descriptors):
        self.queries, self.references = queries, references
        self.q_rows = {v: (a, b) for v, a, b in queries.video_groups()}
        self.r_rows = {v: (a, b) for v, a, b in references.video_groups()}
        self.q_spans, self.r_spans = row_spans(queries.timestamps), row_spans(references.timestamps)

    def __call__(self, query_id: str, ref_id: str) -> np.ndarray:
        (qa, qb), (ra, rb) = self.q_rows[query_id], self.r_rows[ref_id]
        return self.queries.features[qa:qb].astype(np.float32) @ self.references.features[ra:rb].astype(np.float32).T

    def seconds(self, query_id: str, ref_id: str, box) -> tuple[float, float, float, float]:
        """(query_start, query_end, ref_start, ref_end) of a half-open row box; a fractional edge is that share into its row."""
        q0, r0, q1, r1 = (float(x) for x in box)
        (qa, qb), (ra, rb) = self.q_rows[query_id], self.r_rows[ref_id]
        q, r = self.q_spans[qa:qb], self.r_spans[ra:rb]
        return _time(q, q0), _time(q, q1), _time(r, r0), _time(r, r1)


def _time(spans: np.ndarray, x: float) -> float:
    """Seconds at row coordinate ``x`` (row k spans [k, k + 1)), clamped to the video's rows."""
    x = min(max(x, 0.0), float(len(spans)))
    k = min(int(np.floor(x)), len(spans) - 1)
    return float(spans[k, 0] + (x - k) * (spans[k, 1] - spans[k, 0]))


def localize_pairs(localizer: Localizer, candidates: pd.DataFrame, matrices: PairMatrices, desc: str = "localising",
                   progress: bool = True) -> pd.DataFrame:
    """Every candidate pair's boxes as match rows (MATCH_COLUMNS), best pair first as the candidates come."""
    rows = []
    pairs = list(zip(candidates["query_id"], candidates["ref_id"]))
    for query_id, ref_id in tqdm(pairs, desc=desc, unit="pair", mininterval=2.0, disable=not progress):
        if query_id not in matrices.q_rows or ref_id not in matrices.r_rows:
            continue
        boxes, scores = localizer(matrices(query_id, ref_id))
        for box, score in zip(boxes, scores):
            rows.append((query_id, ref_id, *matrices.seconds(query_id, ref_id, box), float(score)))
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)
