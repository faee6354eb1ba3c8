"""Training pairs for the alignment network: similarity matrices with known copied cells, composed from a training split.

The training split's ground truth says which query seconds copy which
reference seconds; those query rows are real edited copies (their similarity to
the reference is what the edits left). New pairs are composed from them without
limit, to show the network what TN misses:

* short copies: a segment cut to 2-5 s;
* speed changes: a segment's rows resampled at a speed drawn log-uniformly from
  [1 / max_speed, max_speed] (every other row at 2x, each row twice at 0.5x);
  the reference times follow;
* several copied segments in one pair: a second segment of the same reference;
* copies inside longer unrelated footage: other queries' uncopied rows (filler)
  before, between and after the segments;
* pairs without a copy: filler only, and the split's real queries against
  references they do not copy (hard negatives).

The split's real copy pairs are added as they are. Each matrix is what a
localiser sees at inference: inner products of score-normalised rows. A query
row's bias is -beta times its best inner product with the noise references, as
score normalisation computes it; here the noise is up to ``noise_references``
other references of the split, never the pair's own (normalising against the
copied reference would erase the copy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from video_similarity.descriptors import Descriptors, row_spans
from video_similarity.vsc.localization.params import AlignmentTrainingParams
from video_similarity.vsc.score_norm import prepare_for_noise


@dataclass(frozen=True)
class Segment:
    """Query rows that copy a reference: row indices into the query descriptors, each row's reference seconds [start, end)."""

    ref_id: str
    rows: np.ndarray  # (n,) int
    ref_times: np.ndarray  # (n, 2) float


@dataclass
class AlignmentPairs:
    """Matrices and their 0/1 targets (variable shapes), kept flat for one npz file."""

    sims: list[np.ndarray]
    targets: list[np.ndarray]
    kinds: list[str]  # composed, composed_negative, real, real_negative

    def save(self, path) -> None:
        from video_similarity.atomic import atomic_write

        shapes = np.array([m.shape for m in self.sims], np.int64).reshape(-1, 2)
        flat = np.concatenate([m.ravel() for m in self.sims]).astype(np.float32) if self.sims else np.zeros(0, np.float32)
        target = np.concatenate([t.ravel() for t in self.targets]).astype(np.uint8) if self.targets else np.zeros(0, np.uint8)

        def write(fh):
            np.savez(fh, shapes=shapes, sims=flat, targets=target, kinds=np.array(self.kinds, dtype=str))

        atomic_write(path, write)

    @classmethod
    def load(cls, path) -> "AlignmentPairs":
        with np.load(path) as data:
            shapes, flat, target, kinds = data["shapes"], data["sims"], data["targets"], data["kinds"]
        sizes = shapes[:, 0] * shapes[:, 1]
        cuts = np.cumsum(sizes)[:-1]
        sims = [m.reshape(s) for m, s in zip(np.split(flat, cuts), shapes)] if len(shapes) else []
        targets = [t.reshape(s) for t, s in zip(np.split(target, cuts), shapes)] if len(shapes) else []
        return cls(sims, targets, [str(k) for k in kinds])


def copy_segments(ground_truth: pd.DataFrame, queries: Descriptors) -> list[Segment]:
    """Each ground-truth row as the query rows whose middle lies in its query span, with their reference seconds (the affine map of the row)."""
    groups = {v: (a, b) for v, a, b in queries.video_groups()}
    spans = row_spans(queries.timestamps)
    segments = []
    for row in ground_truth.itertuples(index=False):
        if row.query_id not in groups:
            continue
        a, b = groups[row.query_id]
        qs, qe, rs, re_ = float(row.query_start), float(row.query_end), float(row.ref_start), float(row.ref_end)
        if qe <= qs:
            continue
        mids = spans[a:b].mean(axis=1)
        rows = a + np.flatnonzero((mids >= qs) & (mids < qe))
        if len(rows) == 0:
            continue
        slope = (re_ - rs) / (qe - qs)
        t0, t1 = np.maximum(spans[rows, 0], qs), np.minimum(spans[rows, 1], qe)
        segments.append(Segment(str(row.ref_id), rows, np.stack([rs + (t0 - qs) * slope, rs + (t1 - qs) * slope], axis=1)))
    return segments


def filler_runs(queries: Descriptors, segments: list[Segment]) -> list[np.ndarray]:
    """Runs of consecutive query rows that copy nothing (the split's uncopied footage)."""
    copied = np.zeros(len(queries), bool)
    for s in segments:
        copied[s.rows] = True
    runs = []
    for _, a, b in queries.video_groups():
        free = np.flatnonzero(~copied[a:b]) + a
        if len(free):
            runs += [r for r in np.split(free, np.flatnonzero(np.diff(free) != 1) + 1) if len(r)]
    return runs


def _resample(segment: Segment, start: int, length: int, speed: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``segment[start:start + length]`` played at ``speed``, with their reference seconds."""
    times = segment.ref_times[start : start + length]
    n = max(1, round(length / speed))
    pos = np.minimum(np.arange(n + 1) * speed, length)  # positions in source rows, each new row spans [pos_i, pos_i+1)

    def at(x: np.ndarray) -> np.ndarray:
        k = np.minimum(np.floor(x).astype(int), length - 1)
        frac = x - k
        return times[k, 0] + frac * (times[k, 1] - times[k, 0])

    rows = segment.rows[start + np.minimum(np.floor(pos[:-1]).astype(int), length - 1)]
    return rows, np.stack([at(pos[:-1]), at(pos[1:])], axis=1)


class PairComposer:
    """Composes training pairs from one split's descriptors and ground truth (see the module docstring)."""

    def __init__(self, queries: Descriptors, references: Descriptors, ground_truth: pd.DataFrame, beta: float, params: AlignmentTrainingParams):
        self.params, self.beta = params, float(beta)
        self.rng = np.random.default_rng(params.seed)
        self.segments = copy_segments(ground_truth, queries)
        self.fillers = filler_runs(queries, self.segments)
        self.ref_rows = {v: (a, b) for v, a, b in references.video_groups()}
        self.ref_spans = row_spans(references.timestamps)
        self.query_rows = {v: (a, b) for v, a, b in queries.video_groups()}
        ref_ids = sorted(self.ref_rows)
        noise_ids = [ref_ids[i] for i in sorted(self.rng.permutation(len(ref_ids))[: params.noise_references + 1])]
        noise_rows = np.concatenate([np.arange(*self.ref_rows[v]) for v in noise_ids]) if noise_ids else np.zeros(0, int)
        noise = references.features[noise_rows]
        self.q, _ = prepare_for_noise("queries", queries.features, noise)
        self.r, n = prepare_for_noise("references", references.features, noise)
        self._best_two(n, np.repeat(np.arange(len(noise_ids)), [self.ref_rows[v][1] - self.ref_rows[v][0] for v in noise_ids]), noise_ids)

    def _best_two(self, noise: np.ndarray, owner: np.ndarray, noise_ids: list[str], chunk: int = 4096) -> None:
        """Each query row's best inner product with a noise reference, and the best with another one than that."""
        n_refs = len(noise_ids)
        starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1] if len(owner) else np.zeros(0, int)
        best = np.full((len(self.q), 2), -np.inf, np.float32)
        who = np.full(len(self.q), "", dtype=object)
        for a in range(0, len(self.q), chunk):
            per_ref = np.maximum.reduceat(self.q[a : a + chunk] @ noise.T, starts, axis=1) if n_refs else np.zeros((0, 0))
            if n_refs == 0:
                continue
            order = np.argsort(-per_ref, axis=1)[:, :2]
            top = np.take_along_axis(per_ref, order, axis=1)
            best[a : a + chunk, : top.shape[1]] = top
            who[a : a + chunk] = np.array(noise_ids, dtype=object)[order[:, 0]]
        best[~np.isfinite(best)] = 0.0
        self.best, self.best_ref = best, who

    def matrix(self, rows: np.ndarray, ref_id: str) -> np.ndarray:
        """The score-normalised similarity of query rows to a reference, the reference left out of the noise."""
        a, b = self.ref_rows[ref_id]
        top = np.where(self.best_ref[rows] == ref_id, self.best[rows, 1], self.best[rows, 0])
        return (self.q[rows] @ self.r[a:b].T - self.beta * top[:, None]).astype(np.float32)

    def target(self, ref_id: str, ref_times: np.ndarray) -> np.ndarray:
        """1 where a query row's reference seconds overlap a reference row; NaN rows (filler) copy nothing."""
        a, b = self.ref_rows[ref_id]
        spans = self.ref_spans[a:b]
        lo, hi = ref_times[:, :1], ref_times[:, 1:]
        hit = (np.minimum(hi, spans[None, :, 1]) - np.maximum(lo, spans[None, :, 0])) > 1e-6
        return np.where(np.isnan(lo), False, hit).astype(np.uint8)

    def _filler(self, max_len: int) -> np.ndarray:
        if not self.fillers or max_len <= 0:
            return np.zeros(0, int)
        run = self.fillers[int(self.rng.integers(len(self.fillers)))]
        n = int(self.rng.integers(0, min(max_len, len(run)) + 1))
        start = int(self.rng.integers(0, len(run) - n + 1))
        return run[start : start + n]

    def _piece(self, segment: Segment) -> tuple[np.ndarray, np.ndarray]:
        p, rng = self.params, self.rng
        total = len(segment.rows)
        short = rng.random() < p.short_fraction
        length = int(rng.integers(min(2, total), min(5, total) + 1)) if short else int(rng.integers(min(2, total), total + 1))
        start = int(rng.integers(0, total - length + 1))
        speed = math.exp(rng.uniform(-math.log(p.max_speed), math.log(p.max_speed))) if rng.random() < p.speed_fraction else 1.0
        return _resample(segment, start, length, speed)

    def _crop(self, sims: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Longer references cut to ``max_reference_rows`` columns around the copied cells."""
        limit = self.params.max_reference_rows
        if sims.shape[1] <= limit:
            return sims, target
        cols = np.flatnonzero(target.any(axis=0))
        lo = int(cols.min()) if len(cols) else 0
        hi = int(cols.max()) if len(cols) else 0
        start = int(self.rng.integers(max(0, hi - limit + 1), min(lo, sims.shape[1] - limit) + 1)) if hi - lo < limit else lo
        return sims[:, start : start + limit], target[:, start : start + limit]

    def compose(self, negative: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """One composed pair: filler, segment(s) of one reference, filler; or filler only against a random reference."""
        p, rng = self.params, self.rng
        if negative or not self.segments:
            ref_id = sorted(self.ref_rows)[int(rng.integers(len(self.ref_rows)))]
            rows = np.concatenate([self._filler(p.max_filler) for _ in range(3)])
            times = np.full((len(rows), 2), np.nan)
        else:
            first = self.segments[int(rng.integers(len(self.segments)))]
            ref_id = first.ref_id
            chosen = [first]
            if rng.random() < p.two_copy_fraction:
                same = [s for s in self.segments if s.ref_id == ref_id]
                chosen.append(same[int(rng.integers(len(same)))])
            parts_rows, parts_times = [self._filler(p.max_filler)], []
            parts_times.append(np.full((len(parts_rows[0]), 2), np.nan))
            for segment in chosen:
                r, t = self._piece(segment)
                gap = self._filler(p.max_filler)
                parts_rows += [r, gap]
                parts_times += [t, np.full((len(gap), 2), np.nan)]
            rows, times = np.concatenate(parts_rows), np.concatenate(parts_times)
        rows, times = rows[: p.max_query_rows], times[: p.max_query_rows]
        if len(rows) < 2 or ref_id not in self.ref_rows:
            return None
        sims, target = self._crop(self.matrix(rows, ref_id), self.target(ref_id, times))
        return sims, target

    def _nearest_references(self, rows: np.ndarray, count: int) -> list[str]:
        """The ``count`` references with the highest inner product with any of ``rows``: what the candidate search would rank first."""
        if count <= 0:
            return []
        best = {}
        for ref_id, (a, b) in self.ref_rows.items():
            best[ref_id] = float((self.q[rows] @ self.r[a:b].T).max())
        return sorted(best, key=lambda r: -best[r])[:count]

    def real_pairs(self) -> list[tuple[np.ndarray, np.ndarray, str]]:
        """The split's copy pairs as they are, and every query against the references it does not copy that it is most similar to.

        Those hard negatives are what the localiser meets among the candidates
        (the best-scoring pairs of the global search), so they teach it which
        similar-looking pairs hold no copy.
        """
        by_pair: dict[tuple[str, str], list[Segment]] = {}
        owner = {}
        for v, (a, b) in self.query_rows.items():
            owner.update({i: v for i in range(a, b)})
        for s in self.segments:
            by_pair.setdefault((owner[int(s.rows[0])], s.ref_id), []).append(s)
        out = []
        for query_id, (a, b) in sorted(self.query_rows.items()):
            rows = np.arange(a, b)[: self.params.max_query_rows]
            for ref_id in sorted(r for q, r in by_pair if q == query_id and r in self.ref_rows):
                times = np.full((len(rows), 2), np.nan)
                for s in by_pair[(query_id, ref_id)]:
                    keep = s.rows - a < len(rows)
                    times[s.rows[keep] - a] = s.ref_times[keep]
                out.append((*self._crop(self.matrix(rows, ref_id), self.target(ref_id, times)), "real"))
            copied = {r for q, r in by_pair if q == query_id}
            others = [r for r in self._nearest_references(rows, self.params.hard_negatives + len(copied)) if r not in copied]
            for other in others[: self.params.hard_negatives]:
                sims = self.matrix(rows, other)
                out.append((*self._crop(sims, np.zeros(sims.shape, np.uint8)), "real_negative"))
        return out


def compose_training_pairs(queries: Descriptors, references: Descriptors, ground_truth: pd.DataFrame, beta: float,
                           params: AlignmentTrainingParams) -> AlignmentPairs:
    """``params.pairs`` composed pairs plus the split's real pairs (see the module docstring); deterministic in ``params.seed``."""
    composer = PairComposer(queries, references, ground_truth, beta, params)
    pairs = AlignmentPairs([], [], [])
    for sims, target, kind in composer.real_pairs():
        pairs.sims.append(sims)
        pairs.targets.append(target)
        pairs.kinds.append(kind)
    for _ in range(params.pairs):
        negative = bool(composer.rng.random() < params.negative_fraction)
        made = composer.compose(negative)
        if made is not None:
            pairs.sims.append(made[0])
            pairs.targets.append(made[1])
            pairs.kinds.append("composed_negative" if negative else "composed")
    return pairs
