"""Choosing the descriptor settings on the training split's ground truth, never on the evaluated split.

Each candidate setting is scored as the evaluated split will be: in every fold
of :mod:`video_similarity.vsc.folds`, the fold's queries against the fold's
references, with the other training references as the noise bank and as the
PCA's fitting frames, through the submission's own steps (ensemble, projection,
de-duplication and the budget, score normalisation, suppression) and the
official uAP. The criterion is the mean uAP over the folds.

The search goes one setting at a time from the fallback (coordinate ascent):
the frozen members' weights, the projection, de-duplication, beta, then the
trained members and the video-score threshold, which are judged on the
held-out fold alone when the folds keep one from training. At each step the
simplest option whose mean is within the noise of the best is taken: the noise
is the standard deviation of the difference to the best over a paired
bootstrap of the queries (resampled within each fold), so a setting must earn
its complexity (``margin`` standard deviations: 2 by default, so an option
that only helps by chance is rarely taken).
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from video_similarity.descriptors import Descriptors, select
from video_similarity.metrics.vsc import knn_candidates
from video_similarity.vsc.dedup import drop_near_duplicates, fit_budget
from video_similarity.vsc.ensemble import ensemble, project
from video_similarity.vsc.folds import TuningFolds
from video_similarity.vsc.projection import MIN_DIM, fit_pca, pca_dim
from video_similarity.vsc.settings import DescriptorSettings, PcaSettings
from video_similarity.vsc.submission import query_submission, reference_submission

log = logging.getLogger(__name__)

MAX_GRID = 64  # weight combinations of the frozen members tried exhaustively; more: greedy forward selection


@dataclass(frozen=True)
class SearchSpace:
    """What the tuner may choose from (``tuning.search``)."""

    weights: tuple[float, ...]  # a member's weight when it is in (0: out)
    projections: tuple[PcaSettings, ...]  # besides no projection
    dedup_thresholds: tuple[float, ...]  # besides none (the budget only)
    betas: tuple[float, ...]
    video_score_thresholds: tuple[float, ...]  # besides none (nothing suppressed)


@dataclass
class TuningData:
    """Everything the tuner reads, all of the training split."""

    embeddings: dict[str, Descriptors]  # member -> one row per frame of every fold video (the same rows for each)
    trained: frozenset[str]  # members trained on the split
    folds: TuningFolds
    positives: set[tuple[str, str]]
    durations: dict[str, float]  # query -> seconds (the descriptor budget)
    video_scores: dict[str, float] | None  # query -> P(copy) from the video-score model, or None


@dataclass(frozen=True)
class Option:
    label: str
    settings: DescriptorSettings
    complexity: tuple


@dataclass
class TuningResult:
    settings: DescriptorSettings
    table: pd.DataFrame  # every option of every step with its fold scores
    steps: list[dict] = field(default_factory=list)  # per step: the folds used, the best and the chosen option


class FoldScorer:
    """One fold: candidate pairs of its queries against its references, for any settings (ensembles cached)."""

    def __init__(self, data: TuningData, index: int, frames_per_dim: int, max_pca_frames: int | None, seed: int):
        fold = data.folds.folds[index]
        self.data, self.frames_per_dim, self.max_pca_frames, self.seed = data, frames_per_dim, max_pca_frames, seed
        self.references, self.queries = list(fold.references), list(fold.queries)
        others = {r for k, f in enumerate(data.folds.folds) if k != index for r in f.references}
        self.noise = sorted(others)
        refs, queries = set(self.references), set(self.queries)
        self.positives = {(q, r) for q, r in data.positives if q in queries and r in refs}
        self.budget = sum(math.ceil(float(data.durations[q])) for q in self.queries if q in data.durations)
        self._projected: dict[tuple, tuple[Descriptors, Descriptors, Descriptors, int | None]] = {}

    def _features(self, settings: DescriptorSettings) -> tuple[Descriptors, Descriptors, Descriptors, int | None]:
        """(references, queries, noise) projected as ``settings`` says, and the PCA's dimension (None: no PCA)."""
        key = (tuple(settings.members().items()), settings.projection)
        if key not in self._projected:
            members = settings.members()
            joined = ensemble({n: self.data.embeddings[n] for n in members}, members)
            noise = select(joined, self.noise)
            if settings.projection is None:
                projection, dim = None, None
            else:
                projection = fit_pca(noise.features, settings.projection, self.frames_per_dim, self.max_pca_frames, self.seed)
                dim = projection.n_components_
            project_ = (lambda d: project(d, projection)) if projection is not None else (lambda d: d)
            self._projected[key] = (project_(select(joined, self.references)), project_(select(joined, self.queries)), project_(noise), dim)
        return self._projected[key]

    def pca_dim(self, pca: PcaSettings, members: dict[str, float]) -> int:
        """The dimension a PCA of ``pca`` gets in this fold (its fitting frames are the noise bank's)."""
        rows = next(iter(self.data.embeddings.values())).video_ids
        frames = int(np.isin(rows, self.noise).sum())
        frames = min(frames, self.max_pca_frames) if self.max_pca_frames else frames
        return pca_dim(pca, frames, sum(self.data.embeddings[n].dim for n in members), self.frames_per_dim)

    def candidates(self, settings: DescriptorSettings) -> pd.DataFrame:
        """The fold's candidate pairs (query_id, ref_id, score) under ``settings``, as the evaluator ranks them."""
        refs, queries, noise, _ = self._features(settings)
        if settings.dedup_threshold is not None:
            queries = drop_near_duplicates(queries, settings.dedup_threshold)
        queries = fit_budget(queries, self.budget)
        suppressed = set()
        if settings.video_score_threshold is not None and self.data.video_scores:
            suppressed = {q for q in self.queries if self.data.video_scores.get(q, 1.0) < settings.video_score_threshold}
        submission = query_submission(queries, noise, settings.beta, suppressed)
        return knn_candidates(submission, reference_submission(refs, noise))


class Bootstrap:
    """uAP of candidate lists under query weights: 1 for the plain figure, multinomial counts for a bootstrap draw."""

    def __init__(self, scorers: list[FoldScorer], draws: int, seed: int):
        rng = np.random.default_rng(seed)
        self.weights = [rng.multinomial(len(s.queries), np.full(len(s.queries), 1 / len(s.queries)), size=draws).astype(np.float64)
                        if s.queries else np.zeros((draws, 0)) for s in scorers]

    @staticmethod
    def uap(candidates: pd.DataFrame, scorer: FoldScorer, weights: np.ndarray) -> np.ndarray:
        """uAP per row of ``weights`` (draws x fold queries): weighted tie-aware AP times weighted recall (spec section 1)."""
        weights = np.atleast_2d(weights)
        position = {q: i for i, q in enumerate(scorer.queries)}
        pos_per_query = np.zeros(len(scorer.queries))
        for q, _ in scorer.positives:
            pos_per_query[position[q]] += 1
        n_pos = weights @ pos_per_query
        if len(candidates) == 0:
            return np.zeros(len(weights))
        order = np.argsort(-candidates["score"].to_numpy(np.float64), kind="stable")
        ranked = candidates.iloc[order]
        scores = ranked["score"].to_numpy(np.float64)
        labels = np.fromiter(((q, r) in scorer.positives for q, r in zip(ranked["query_id"], ranked["ref_id"])), bool, len(ranked))
        row_w = weights[:, [position[q] for q in ranked["query_id"]]]
        last = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]  # ties are one step
        tp = np.cumsum(row_w * labels, axis=1)[:, last]
        n = np.cumsum(row_w, axis=1)[:, last]
        total = tp[:, -1:]
        precision = np.divide(tp, n, out=np.zeros_like(tp), where=n > 0)
        recall = np.divide(tp, total, out=np.zeros_like(tp), where=total > 0)
        gains = np.diff(np.concatenate([np.zeros((len(weights), 1)), recall], axis=1), axis=1)
        ap = np.sum(precision * gains, axis=1)
        return np.divide(ap * total[:, 0], n_pos, out=np.zeros(len(weights)), where=n_pos > 0)


class Tuner:
    """The coordinate search of the module docstring over one :class:`TuningData`."""

    def __init__(self, data: TuningData, space: SearchSpace, draws: int, seed: int, frames_per_dim: int, max_pca_frames: int | None,
                 margin: float):
        if not data.folds.usable:
            raise ValueError(f"no folds to tune on: {data.folds.reason}")
        self.data, self.space, self.margin = data, space, float(margin)
        self.scorers = [FoldScorer(data, k, frames_per_dim, max_pca_frames, seed) for k in range(len(data.folds.folds))]
        self.bootstrap = Bootstrap(self.scorers, draws, seed)
        self.rows: list[dict] = []
        self.steps: list[dict] = []
        self._scores: dict[tuple, tuple[float, np.ndarray]] = {}

    def _folds_for(self, options: list[Option]) -> list[int]:
        """Every fold, or the held-out fold alone where an option uses what trained on the others."""
        judged_alone = self.data.folds.holdout and any(
            set(o.settings.members()) & self.data.trained or o.settings.video_score_threshold is not None for o in options)
        return [0] if judged_alone else list(range(len(self.scorers)))

    def score(self, settings: DescriptorSettings, folds: list[int]) -> tuple[list[float], np.ndarray]:
        """Per-fold uAP and the bootstrap draws of their mean."""
        per_fold, draws = [], []
        for k in folds:
            key = (k, settings)
            if key not in self._scores:
                scorer = self.scorers[k]
                candidates = scorer.candidates(settings)
                exact = float(Bootstrap.uap(candidates, scorer, np.ones(len(scorer.queries)))[0])
                self._scores[key] = (exact, Bootstrap.uap(candidates, scorer, self.bootstrap.weights[k]))
            exact, boot = self._scores[key]
            per_fold.append(exact)
            draws.append(boot)
        return per_fold, np.mean(draws, axis=0)

    def choose(self, step: str, options: list[Option]) -> DescriptorSettings:
        """The simplest option within the noise of the best (see the module docstring); its rows go to the table."""
        unique: dict[DescriptorSettings, Option] = {}
        for option in options:
            unique.setdefault(option.settings, option)
        options = list(unique.values())
        folds = self._folds_for(options)
        scored = [(o, *self.score(o.settings, folds)) for o in options]
        means = [float(np.mean(per_fold)) for _, per_fold, _ in scored]
        best = max(range(len(options)), key=lambda i: (means[i], [-c for c in options[i].complexity]))
        noise = [self.margin * float(np.std(scored[best][2] - draws, ddof=1)) if i != best else 0.0
                 for i, (_, _, draws) in enumerate(scored)]
        within = [means[best] - means[i] <= noise[i] for i in range(len(options))]
        chosen = min((i for i in range(len(options)) if within[i]), key=lambda i: (options[i].complexity, -means[i]))
        for i, (option, per_fold, _) in enumerate(scored):
            self.rows.append({
                "step": step, "option": option.label, "folds": ",".join(map(str, folds)), "uAP": round(means[i], 4),
                **{f"fold {k}": round(v, 4) for k, v in zip(folds, per_fold)},
                "noise": round(noise[i], 4), "within_noise": within[i], "best": i == best, "chosen": i == chosen,
                "settings": option.settings.summary(),
            })
        self.steps.append({"step": step, "folds": folds, "options": len(options), "best": options[best].label,
                           "best_uAP": means[best], "chosen": options[chosen].label, "chosen_uAP": means[chosen]})
        log.info("Tuning %s: %s (uAP %.4f over fold(s) %s; best %s %.4f; %d options)", step, options[chosen].label, means[chosen],
                 ",".join(map(str, folds)), options[best].label, means[best], len(options))
        return options[chosen].settings

    # ---------------------------------------------------------------- the steps

    def _member_options(self, current: DescriptorSettings, names: list[str]) -> list[Option]:
        """Weight combinations of ``names`` (each out or at a weight of the space); the rest as in ``current``."""
        fixed = {n: w for n, w in current.weights.items() if n not in names}
        values = (0.0, *self.space.weights)
        if len(values) ** len(names) <= MAX_GRID:
            combos = [dict(zip(names, c)) for c in itertools.product(values, repeat=len(names))]
        else:  # greedy forward selection: the best single member, then one more at a time
            combos, chosen = [], {}
            for _ in names:
                trial = [chosen | {n: w} for n in names if n not in chosen for w in self.space.weights]
                combos += trial
                chosen = max(trial, key=lambda c: self._quick(current, fixed | c))
        options, seen = [], set()
        for combo in combos:
            weights = fixed | combo
            top = max(weights.values(), default=0)
            if top <= 0:
                continue
            key = tuple(sorted((n, round(w / top, 6)) for n, w in weights.items() if w > 0))  # scale does not matter
            if key in seen:
                continue
            seen.add(key)
            settings = current.replace(weights={n: w / top for n, w in weights.items() if w > 0})
            options.append(Option(settings.members_label(), settings, (len(settings.weights), sum(w != 1 for w in settings.weights.values()))))
        return options

    def _quick(self, current: DescriptorSettings, weights: dict[str, float]) -> float:
        settings = current.replace(weights={n: w for n, w in weights.items() if w > 0})
        return float(np.mean(self.score(settings, self._folds_for([Option("", settings, ())]))[0]))

    def run(self, start: DescriptorSettings) -> TuningResult:
        members = list(self.data.embeddings)
        trained = [n for n in members if n in self.data.trained]
        frozen = [n for n in members if n not in self.data.trained]
        if not self.data.folds.holdout:  # nothing held out: every member is judged on every fold
            first = members
        else:  # the frozen members on every fold first, the trained ones on the held-out fold afterwards
            first = frozen or trained
        current = start
        if first:
            current = self.choose("members", self._member_options(current, first))
        projections = [Option("no projection", current.replace(projection=None), (0,))]
        for pca in self.space.projections:
            dims = sorted({s.pca_dim(pca, current.members()) for s in self.scorers})
            if dims[0] < MIN_DIM:  # the folds' frames cannot estimate it: not an option
                self.rows.append({"step": "projection", "option": pca.label(), "settings": f"not tried: the folds' reference frames "
                                  f"support only {dims[0]} dimension(s) at one per {self.scorers[0].frames_per_dim} frames"})
                continue
            label = pca.label() + (f" -> {'/'.join(map(str, dims))} dims here" if dims != [pca.dim] else "")
            projections.append(Option(label, current.replace(projection=pca), (1, pca.dim)))
        current = self.choose("projection", self._distinct_pca(projections))
        current = self.choose("de-duplication", [Option("budget only", current.replace(dedup_threshold=None), (0,))] + [
            Option(f"threshold {t:g}", current.replace(dedup_threshold=t), (1,)) for t in self.space.dedup_thresholds])
        current = self.choose("beta", [Option(f"beta {b:g}", current.replace(beta=b), (int(b != start.beta),)) for b in self.space.betas])
        later = [n for n in trained if n not in first]
        for name in later:
            current = self.choose(f"trained member {name}", [Option(f"without {name}", current, (0,))] + [
                Option(f"{name} at {w:g}", current.replace(weights={**current.weights, name: w}), (1,)) for w in self.space.weights])
        if self.data.video_scores:
            current = self.choose("video score", [Option("no suppression", current.replace(video_score_threshold=None), (0,))] + [
                Option(f"suppress below {t:g}", current.replace(video_score_threshold=t), (1,)) for t in self.space.video_score_thresholds])
        return TuningResult(current, pd.DataFrame(self.rows), self.steps)

    def _distinct_pca(self, options: list[Option]) -> list[Option]:
        """PCA options that come out the same in every fold (capped to the same dimension, same power) are tried once."""
        seen, out = set(), []
        for option in options:
            pca = option.settings.projection
            key = None if pca is None else (tuple(s.pca_dim(pca, option.settings.members()) for s in self.scorers), pca.whitening_power)
            if key not in seen:
                seen.add(key)
                out.append(option)
        return out
