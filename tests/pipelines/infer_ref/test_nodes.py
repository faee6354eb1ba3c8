"""infer_ref nodes: the reference submission and its noise bank."""

import numpy as np
import pytest

from tests.pipelines.conftest import FIXED_SETTINGS as SETTINGS
from tests.pipelines.conftest import unit_descriptors as _descriptors
from video_similarity.pipelines.infer_query.nodes import make_query_submission
from video_similarity.pipelines.infer_ref.nodes import make_reference_submission
from video_similarity.pipelines.infer_ref.params import InferenceParams


def test_the_noise_bank_must_come_from_another_split():
    with pytest.raises(ValueError, match="noise_split is 'test', the evaluated split itself"):
        InferenceParams.from_params({"split": "test", "noise_split": "test"})
    with pytest.raises(ValueError, match=r"inference: unknown key\(s\) \['beta'\]"):  # a descriptor setting now (tuning)
        InferenceParams.from_params({"beta": 1.0})


def test_the_reference_side_needs_only_the_noise_bank_and_matches_the_joint_normalisation():
    from video_similarity.vsc.score_norm import score_normalize

    query, reference, noise = _descriptors(["Q1", "Q1"]), _descriptors(["R1", "R1", "R1"], seed=1), _descriptors(["N"] * 5, seed=2)
    q, r = score_normalize(query.features, reference.features, noise.features, beta=1.2)
    np.testing.assert_array_equal(make_reference_submission(reference, noise).features, r)
    np.testing.assert_array_equal(make_query_submission(query, noise, None, SETTINGS).features, q)
