"""Typed jobs: a job survives its trip through JSON unchanged, and a bad one is refused in the node, before torchrun starts."""

import dataclasses
import json

import pytest

from video_similarity import jobs
from video_similarity.extraction import ExtractionJob, VideoInput
from video_similarity.training.tasks.descriptor import DescriptorJob, Teacher


def descriptor_job(**overrides) -> DescriptorJob:
    job = DescriptorJob(
        name="m", backbone="resnet18", dim=16, image_size=32, weights_path=None, epochs=1, batch_size=2, lr=1e-3, weight_decay=0.0,
        tau=0.05, koleo_weight=0.1, seed=0, archives={"V0": "/a/V0.zip"}, ground_truth=[["Q", "R", 0.0, 2.0, 1.0, 3.0]],
        self_pair_videos=["V0"], synthetic_pairs=4, teacher=Teacher({"V0": "/t/V0.npz"}, 0.5), checkpoint="/m/model.ckpt",
        torchscript="/m/model.pt",
    )
    return dataclasses.replace(job, **overrides)


def test_a_job_reads_back_as_the_same_dataclass_with_nested_types():
    extraction = ExtractionJob({"pdq": {"builder": "pdq"}}, {"V0": VideoInput("/a/V0.zip", None)}, "/cache", 8, {"pdq": ["BAD"]})
    for job in (descriptor_job(), descriptor_job(teacher=None), extraction):
        back = jobs.from_json(json.loads(json.dumps(jobs.to_json(job))))
        assert back == job and type(back) is type(job)
    assert isinstance(jobs.checked(descriptor_job()).teacher, Teacher)


def test_unknown_missing_and_mistyped_fields_are_refused_naming_them():
    spec = jobs.to_json(descriptor_job())
    with pytest.raises(ValueError, match=r"DescriptorJob: unknown key\(s\) \['epochz'\]"):
        jobs.from_json({**spec, "fields": {**spec["fields"], "epochz": 3}})
    fields = dict(spec["fields"])
    del fields["tau"]
    with pytest.raises(ValueError, match=r"DescriptorJob: missing field\(s\) \['tau'\]"):
        jobs.from_json({**spec, "fields": fields})
    with pytest.raises(ValueError, match="DescriptorJob.dim: 'sixteen' is not an int"):
        jobs.checked(descriptor_job(dim="sixteen"))


def test_a_spec_cannot_name_a_class_outside_the_project_jobs():
    for name in ("os:system", "video_similarity.launch:LaunchConfig", "video_similarity.extraction:encoder_stamp", "nonsense"):
        with pytest.raises(ValueError, match="is not a job class of this project"):
            jobs.from_json({"job": name, "fields": {}})


def test_run_job_refuses_a_bad_job_before_anything_is_launched(monkeypatch, tmp_path):
    launched = []
    monkeypatch.setattr(jobs, "launch", lambda *args, **kwargs: launched.append(args))
    with pytest.raises(ValueError, match="DescriptorJob.epochs: 'many' is not an int"):
        jobs.run_job(descriptor_job(epochs="many"), None, tmp_path)
    with pytest.raises(TypeError, match="is not a job"):
        jobs.run_job({"task": "descriptor"}, None, tmp_path)
    assert launched == []
    jobs.run_job(descriptor_job(), {"nproc_per_node": 2}, tmp_path)
    (module, spec, config), = launched
    assert module == "video_similarity.workers.train" and spec["job"].endswith("descriptor:DescriptorJob") and config.nproc_per_node == 2
