"""One clip-classifier job: built from a table of videos, stamped by every setting, not run again once done."""

import dataclasses

import pandas as pd

from video_similarity.action import classifier_jobs
from video_similarity.action.sampling import ClipSampling
from video_similarity.pipelines.action_recognition.params import ClassifierTraining

VIDEOS = pd.DataFrame({"video_id": ["a", "b", "c"], "archive": ["/x/a.zip", "/x/b.zip", "/x/c.zip"], "label": [0, 1, 1]})


def test_the_job_holds_its_videos_geometry_training_and_outputs(tmp_path):
    job = classifier_jobs.classifier_job("n", {"network": "tvn1"}, VIDEOS, ["a", "b"], ["c"], ClipSampling(4, 2, 32),
                                         ClassifierTraining(lr=0.5), tmp_path)
    assert job.archives == {"a": "/x/a.zip", "b": "/x/b.zip", "c": "/x/c.zip"} and job.labels == {"a": 0, "b": 1, "c": 1}
    assert (job.clip_frames, job.input_size, job.lr, job.epochs) == (4, 32, 0.5, ClassifierTraining().epochs)
    assert job.checkpoint == str(tmp_path / "model.ckpt") and job.predictions == str(tmp_path / "predictions.npz")


def test_a_finished_job_is_not_run_again_and_another_setting_starts_over(tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(classifier_jobs, "run_job", lambda job, launch_params, workdir: runs.append(job))
    monkeypatch.setattr(classifier_jobs, "inputs_digest", lambda archives: "same archives")
    job = classifier_jobs.classifier_job("n", {"network": "tvn1"}, VIDEOS, ["a", "b"], ["c"], ClipSampling(4, 2, 32),
                                         ClassifierTraining(), tmp_path)
    classifier_jobs.run_classifier_job(job, None)
    (tmp_path / "predictions.npz").write_bytes(b"done")
    (tmp_path / "history.json").write_text("[]")
    classifier_jobs.run_classifier_job(job, None)
    assert len(runs) == 1  # done: not launched again
    classifier_jobs.run_classifier_job(dataclasses.replace(job, lr=0.5), None)
    assert len(runs) == 2 and not (tmp_path / "predictions.npz").exists()  # another setting: the stamped folder was emptied
