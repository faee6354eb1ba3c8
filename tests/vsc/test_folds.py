from collections import Counter

from video_similarity.vsc.folds import TuningFolds, plan_folds

REFS = [f"R{i}" for i in range(9)]
QUERIES = [f"Q{i:02d}" for i in range(20)]
POSITIVES = {(f"Q{i:02d}", f"R{i % 6}") for i in range(12)}  # Q00..Q11 copy R0..R5; R6..R8 and Q12..Q19 hold no copy


def test_every_video_is_in_one_fold_and_queries_follow_the_references_they_copy():
    folds = plan_folds("train", REFS, QUERIES, POSITIVES, 3, True, seed=0)
    assert folds.usable and len(folds.folds) == 3
    refs, queries = folds.videos()
    assert sorted(refs) == REFS and sorted(queries) == QUERIES  # each exactly once
    fold_of = {v: k for k, f in enumerate(folds.folds) for v in f.references + f.queries}
    assert all(fold_of[q] == fold_of[r] for q, r in POSITIVES)
    assert all(sum((q, r) in POSITIVES for q in f.queries for r in f.references) >= 2 for f in folds.folds)  # copies in every fold
    assert max(Counter(fold_of[q] for q in QUERIES).values()) - min(Counter(fold_of[q] for q in QUERIES).values()) <= 2


def test_the_held_out_fold_is_what_training_must_not_see():
    folds = plan_folds("train", REFS, QUERIES, POSITIVES, 3, True, seed=0)
    assert folds.held_out() == set(folds.folds[0].references) | set(folds.folds[0].queries)
    assert plan_folds("train", REFS, QUERIES, POSITIVES, 3, False, seed=0).held_out() == set()
    assert TuningFolds.from_dict(folds.to_dict()) == folds  # the catalog's JSON round trip


def test_the_seed_changes_the_deal_and_the_same_seed_repeats_it():
    a, b = (plan_folds("train", REFS, QUERIES, POSITIVES, 3, True, seed=s) for s in (0, 0))
    assert a == b and a != plan_folds("train", REFS, QUERIES, POSITIVES, 3, True, seed=1)


def test_no_folds_without_ground_truth_or_with_one_copied_reference():
    none = plan_folds("train", REFS, QUERIES, set(), 3, True, seed=0)
    assert not none.usable and "no ground-truth copy" in none.reason and none.held_out() == set()
    one = plan_folds("train", REFS, QUERIES, {("Q00", "R0"), ("Q01", "R0")}, 3, True, seed=0)
    assert not one.usable and "only 1 reference" in one.reason
    two = plan_folds("train", REFS, QUERIES, {("Q00", "R0"), ("Q01", "R1")}, 5, True, seed=0)
    assert len(two.folds) == 2  # never more folds than copied references


def test_a_large_split_is_sampled_keeping_every_copied_reference():
    folds = plan_folds("train", REFS, QUERIES, POSITIVES, 2, True, seed=0, max_queries=10, max_references=7)
    refs, queries = folds.videos()
    assert len(queries) == 10 and len(refs) <= 7 and "10 of 20 queries" in folds.sampled
    assert {r for q, r in POSITIVES if q in queries} <= set(refs)
