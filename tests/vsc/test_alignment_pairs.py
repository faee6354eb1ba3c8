"""Training pairs for the alignment network: copied rows mapped to reference seconds, resampled, composed, normalised without their reference."""

import numpy as np
import pandas as pd
import pytest

from video_similarity.descriptors import Descriptors
from video_similarity.vsc.alignment_pairs import AlignmentPairs, PairComposer, _resample, compose_training_pairs, copy_segments
from video_similarity.vsc.localization.params import AlignmentTrainingParams


def _descriptors(lengths: dict[str, int], rng, base=None) -> Descriptors:
    ids, ts, feats = [], [], []
    for video, n in lengths.items():
        ids += [video] * n
        ts += [[k, k + 1] for k in range(n)]
        feats.append(rng.normal(size=(n, 16)) if base is None else base[video])
    return Descriptors(np.array(ids), np.array(ts, float), np.concatenate(feats).astype(np.float32))


@pytest.fixture()
def split():
    """Query Q1 copies R1's seconds 2..8 at its seconds 3..9; Q2 copies nothing; R2, R3 are other references."""
    rng = np.random.default_rng(0)
    refs = {v: rng.normal(size=(n, 16)) for v, n in (("R1", 12), ("R2", 10), ("R3", 9))}
    q1 = rng.normal(size=(12, 16))
    q1[3:9] = refs["R1"][2:8] + 0.1 * rng.normal(size=(6, 16))
    queries = _descriptors({"Q1": 12, "Q2": 8}, rng, {"Q1": q1, "Q2": rng.normal(size=(8, 16))})
    references = _descriptors({v: len(f) for v, f in refs.items()}, rng, refs)
    gt = pd.DataFrame([{"query_id": "Q1", "ref_id": "R1", "query_start": 3.0, "query_end": 9.0, "ref_start": 2.0, "ref_end": 8.0}])
    return queries, references, gt


def test_copy_segments_map_query_rows_to_reference_seconds(split):
    queries, _, gt = split
    (segment,) = copy_segments(gt, queries)
    assert segment.ref_id == "R1" and segment.rows.tolist() == [3, 4, 5, 6, 7, 8]
    assert segment.ref_times.tolist() == [[k, k + 1] for k in range(2, 8)]


def test_resampling_at_twice_the_speed_keeps_every_other_row_and_spans_two_reference_seconds(split):
    (segment,) = copy_segments(split[2], split[0])
    rows, times = _resample(segment, 0, 6, 2.0)
    assert rows.tolist() == [3, 5, 7]
    assert times.tolist() == [[2, 4], [4, 6], [6, 8]]
    rows, times = _resample(segment, 0, 2, 0.5)  # half speed: each row twice, half a reference second each
    assert rows.tolist() == [3, 3, 4, 4] and times[:, 1].tolist() == [2.5, 3.0, 3.5, 4.0]


def test_the_real_pair_has_its_copy_on_the_diagonal_and_the_bias_leaves_its_reference_out(split):
    queries, references, gt = split
    composer = PairComposer(queries, references, gt, 1.0, AlignmentTrainingParams(noise_references=2))
    real = [(s, t) for s, t, kind in composer.real_pairs() if kind == "real"]
    (sims, target), = real
    assert sims.shape == (12, 12)
    assert np.argwhere(target).tolist() == [[3 + k, 2 + k] for k in range(6)]
    # normalised against R1 itself, the copy would score about 0; against the others it stands out
    assert sims[target.astype(bool)].min() > sims[~target.astype(bool)].max()


def test_composed_pairs_are_deterministic_and_hold_copies_and_negatives(split, tmp_path):
    params = AlignmentTrainingParams(pairs=40, noise_references=2, seed=3)
    pairs = compose_training_pairs(*split, 1.0, params)
    again = compose_training_pairs(*split, 1.0, params)
    assert [s.tobytes() for s in pairs.sims] == [s.tobytes() for s in again.sims]
    kinds = set(pairs.kinds)
    assert {"composed", "composed_negative", "real", "real_negative"} <= kinds
    for sims, target, kind in zip(pairs.sims, pairs.targets, pairs.kinds):
        assert sims.shape == target.shape and sims.shape[0] <= params.max_query_rows
        assert (target.sum() > 0) == (kind in ("composed", "real"))
    pairs.save(tmp_path / "pairs.npz")
    loaded = AlignmentPairs.load(tmp_path / "pairs.npz")
    assert loaded.kinds == pairs.kinds and all(np.array_equal(a, b) for a, b in zip(loaded.targets, pairs.targets))
