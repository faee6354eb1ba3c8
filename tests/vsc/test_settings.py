import pytest

from video_similarity.vsc.settings import DescriptorSettings, PcaSettings


def settings(**changes):
    base = DescriptorSettings({"sscd": 1.0, "trained": 0.0}, PcaSettings(64, 0.25), 0.975, 1.2, 0.001, "tuned", "why")
    return base.replace(**changes)


def test_settings_round_trip_through_their_json_form_and_drop_unused_members():
    s = settings()
    data = s.to_dict()
    assert data["weights"] == {"sscd": 1.0} and data["projection"] == {"dim": 64, "whitening_power": 0.25}
    assert DescriptorSettings.from_dict(data) == s.replace(weights={"sscd": 1.0})
    assert hash(DescriptorSettings.from_dict(data)) == hash(s.replace(weights={"sscd": 1.0}))  # usable as a cache key
    assert DescriptorSettings.from_dict({**data, "projection": None}).projection is None


def test_bad_settings_are_refused_with_what_is_wrong():
    with pytest.raises(ValueError, match="no member of positive weight"):
        settings(weights={"sscd": 0.0})
    with pytest.raises(ValueError, match="finite and >= 0"):
        settings(weights={"sscd": 1.0, "x": -1.0})
    with pytest.raises(ValueError, match="whitening_power is 0.7"):
        PcaSettings(64, 0.7)
    with pytest.raises(ValueError, match="unknown key"):
        DescriptorSettings.from_dict({**settings().to_dict(), "alpha": 1})


def test_the_summary_names_every_setting():
    text = settings().summary()
    assert text == ("sscd, PCA 64 (power 0.25), de-duplication at 0.975, beta 1.2, video score below 0.001 suppressed")
    assert "no projection" in settings(projection=None).summary() and "no suppression" in settings(video_score_threshold=None).summary()
    assert "0.5 x b + sscd" in settings(weights={"sscd": 1.0, "b": 0.5}).summary()
