"""The tuner on toy embeddings whose best settings are planted."""

import numpy as np
import pandas as pd
import pytest

from video_similarity.descriptors import Descriptors
from video_similarity.metrics.vsc import micro_average_precision
from video_similarity.vsc.folds import plan_folds
from video_similarity.vsc.settings import DescriptorSettings, PcaSettings
from video_similarity.vsc.tuning import Bootstrap, FoldScorer, Option, SearchSpace, Tuner, TuningData

SECONDS = 6
REFS = [f"R{i}" for i in range(15)]
QUERIES = [f"Q{i:02d}" for i in range(45)]
POSITIVES = {(f"Q{i:02d}", f"R{i % 15}") for i in range(30)}  # 30 copies, 15 queries without one
SPACE = SearchSpace(weights=(0.5, 1.0), projections=(PcaSettings(8, 0.25),), dedup_thresholds=(0.9,), betas=(1.2, 1.0),
                    video_score_thresholds=(0.5,))
START = DescriptorSettings({"good": 1.0}, None, None, 1.2, None, "tuned", "")


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def member(rng, copy_noise, random_videos=(), dim=16, lookalikes=None):
    """One member's rows: references random, a copy = its reference's seconds plus noise, the rest random
    (``lookalikes``: {query without a copy: the reference it looks like as much as a copy does}, hard negatives)."""
    base = {r: unit(rng.normal(size=(SECONDS, dim))) for r in REFS}
    copied = dict(POSITIVES) | (lookalikes or {})
    ids, rows = [], []
    for video in REFS + QUERIES:
        if video in random_videos:
            x = unit(rng.normal(size=(SECONDS, dim)))
        elif video in base:
            x = base[video]
        elif video in copied:
            x = unit(base[copied[video]] + copy_noise * rng.normal(size=(SECONDS, dim)))
        else:
            x = unit(rng.normal(size=(SECONDS, dim)))
        ids += [video] * SECONDS
        rows.append(x)
    t = np.tile(np.arange(SECONDS, dtype=np.float64), len(REFS) + len(QUERIES))
    return Descriptors(np.asarray(ids), np.stack([t, t + 1], 1), np.concatenate(rows))


def toy(holdout=True, scores=None, seed=0, copy_noise=0.6, lookalikes=False):
    folds = plan_folds("train", REFS, QUERIES, POSITIVES, 2, holdout, seed=0)
    rng = np.random.default_rng(seed)
    held_out = set(folds.folds[0].references) | set(folds.folds[0].queries)
    copies = {q for q, _ in POSITIVES}
    alike = {q: f.references[i % len(f.references)] for f in folds.folds for i, q in enumerate(x for x in f.queries if x not in copies)}
    embeddings = {
        "good": member(rng, copy_noise, lookalikes=alike if lookalikes else None),
        "bad": member(rng, copy_noise, random_videos=REFS + QUERIES),  # knows nothing
        # trained on the split: near-perfect on the videos it saw, no better than chance on the held-out fold
        "trained": member(rng, 0.1, random_videos=held_out),
    }
    return TuningData(embeddings, frozenset({"trained"}), folds, POSITIVES, {q: float(SECONDS) for q in QUERIES}, scores)


def test_bootstrap_uap_with_unit_weights_is_the_official_uap():
    data = toy()
    scorer = FoldScorer(data, 1, 10, None, 0)
    candidates = scorer.candidates(START)
    assert len(candidates) and scorer.positives
    exact = micro_average_precision(candidates, scorer.positives)
    assert Bootstrap.uap(candidates, scorer, np.ones(len(scorer.queries)))[0] == pytest.approx(exact, abs=1e-12)
    draws = Bootstrap([scorer], 50, 0).weights[0]
    assert draws.shape == (50, len(scorer.queries)) and (draws.sum(axis=1) == len(scorer.queries)).all()


def test_the_tuner_finds_the_planted_member_and_leaves_the_overfitted_one_out():
    result = Tuner(toy(), SPACE, 100, 0, 2, None, 2.0).run(START)
    assert result.settings.members() == {"good": 1.0}  # "bad" adds noise, "trained" is chance on the fold it never saw
    trained_rows = result.table[result.table["step"] == "trained member trained"]
    assert set(trained_rows["folds"]) == {"0"}  # judged on the held-out fold alone
    assert not trained_rows.loc[trained_rows["option"] != "without trained", "chosen"].any()
    assert {"members", "projection", "de-duplication", "beta"} <= set(result.table["step"])
    assert result.table.groupby("step")["chosen"].sum().eq(1).all()  # one choice per step


def test_without_a_held_out_fold_the_overfitted_member_looks_best():
    """Why the fold is held out: judged on the videos it trained on, the trained member wins."""
    result = Tuner(toy(holdout=False), SPACE, 100, 0, 2, None, 2.0).run(START)
    assert "trained" in result.settings.members()


def test_the_video_score_threshold_is_chosen_where_it_removes_false_positives():
    copies = {q for q, _ in POSITIVES}
    clean = {q: (0.9 if q in copies else 0.1) for q in QUERIES}
    # queries without a copy that look like references: only the video score tells them apart
    assert Tuner(toy(scores=clean, lookalikes=True), SPACE, 100, 0, 2, None, 2.0).run(START).settings.video_score_threshold == 0.5
    wrong = {q: (0.1 if q in copies else 0.9) for q in QUERIES}  # a model that suppresses the copies
    assert Tuner(toy(scores=wrong, lookalikes=True), SPACE, 100, 0, 2, None, 2.0).run(START).settings.video_score_threshold is None


def test_the_simplest_option_within_the_noise_of_the_best_is_chosen(monkeypatch):
    tuner = Tuner(toy(), SPACE, 100, 0, 2, None, 2.0)
    draws = np.random.default_rng(0).normal(size=100)
    figures = {"simple": (0.70, 0.70 + 0.01 * draws), "complex": (0.71, 0.71 + 0.01 * draws + 0.05 * np.random.default_rng(1).normal(size=100)),
               "clear": (0.90, 0.90 + 0.01 * draws)}

    def score(settings, folds):
        mean, boot = figures[settings.note]
        return [mean] * len(folds), boot

    monkeypatch.setattr(tuner, "score", score)
    simple, complex_ = START.replace(note="simple"), START.replace(note="complex", beta=1.0)
    assert tuner.choose("s", [Option("simple", simple, (0,)), Option("complex", complex_, (1,))]) == simple  # +0.01 within the noise
    clear = START.replace(note="clear", beta=1.5)
    assert tuner.choose("t", [Option("simple", simple, (0,)), Option("clear", clear, (1,))]) == clear  # +0.2: earned
    rows = pd.DataFrame(tuner.rows)
    assert rows.loc[rows["option"] == "complex", "within_noise"].item() and rows.loc[rows["option"] == "complex", "best"].item()


def test_a_pca_is_fitted_on_the_other_folds_references_and_capped_by_their_frames():
    data = toy()
    scorer = FoldScorer(data, 0, 10, None, 0)
    noise_rows = sum(len(f.references) for f in data.folds.folds[1:]) * SECONDS
    assert scorer.pca_dim(PcaSettings(128, 0.25), {"good": 1.0}) == min(16, noise_rows // 10)
    *_, dim = scorer._features(START.replace(projection=PcaSettings(128, 0.25)))
    assert dim == min(16, noise_rows // 10)
