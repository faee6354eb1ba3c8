"""Typed jobs: what a node asks a torchrun worker to do, as one frozen dataclass per kind of job.

A job class names its worker module (``WORKER``). :func:`run_job` writes the
job as JSON (its class and its fields), reads it back with the same
:func:`video_similarity.params.parse` the worker will use, and only then starts
torchrun: a missing, unknown or mistyped field fails in the node, in one line,
not as a KeyError inside a child process after the start-up. The worker calls
:func:`read_job` and gets the same dataclass back.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from importlib import import_module
from pathlib import Path
from typing import Any

from video_similarity.launch import LaunchConfig, launch
from video_similarity.params import parse

#: The modules whose job classes a spec may name (a spec file is not a way to import anything else).
JOB_MODULES = ("video_similarity.extraction", "video_similarity.frames.preprocess_job", "video_similarity.training.tasks.")


def to_json(job) -> dict[str, Any]:
    """A job as its spec file's content: ``{"job": "module:Class", "fields": {...}}``."""
    cls = type(job)
    return {"job": f"{cls.__module__}:{cls.__qualname__}", "fields": json.loads(json.dumps(dataclasses.asdict(job), default=str))}


def from_json(spec: dict[str, Any]):
    """The job a spec file holds, parsed into its class (unknown, missing or mistyped fields raise ValueError)."""
    name = str(spec.get("job", ""))
    module, _, qualname = name.partition(":")
    if not qualname or not any(module == m or (m.endswith(".") and module.startswith(m)) for m in JOB_MODULES):
        raise ValueError(f"job spec: {name!r} is not a job class of this project")
    cls = getattr(import_module(module), qualname, None)
    if cls is None or not dataclasses.is_dataclass(cls) or not hasattr(cls, "WORKER"):
        raise ValueError(f"job spec: {name!r} is not a job class of this project")
    fields = spec.get("fields") or {}
    missing = sorted(f.name for f in dataclasses.fields(cls) if f.name not in fields)
    if missing:
        raise ValueError(f"{cls.__name__}: missing field(s) {missing}")
    return parse(cls, fields, cls.__name__)


def _checked(job) -> tuple[dict[str, Any], Any]:
    """``job``'s spec file content and the job the worker will read from it (TypeError / ValueError when it cannot)."""
    if not dataclasses.is_dataclass(job) or not hasattr(job, "WORKER"):
        raise TypeError(f"{type(job).__name__} is not a job (a dataclass with a WORKER module)")
    spec = to_json(job)
    return spec, from_json(spec)


def checked(job):
    """``job`` as the worker will read it: the same class and values after a trip through JSON, or ValueError."""
    return _checked(job)[1]


def run_job(job, launch_params: dict | LaunchConfig | None, workdir: str | Path) -> None:
    """Check ``job``, write it to ``workdir`` and run its worker under torchrun (:func:`video_similarity.launch.launch`)."""
    spec, _ = _checked(job)  # the spec that was checked is the one written: serialised once
    config = launch_params if isinstance(launch_params, LaunchConfig) else LaunchConfig.from_params(launch_params)
    if config.in_process:
        run_here(job, config)
        return
    launch(job.WORKER, spec, config, workdir=workdir)


def run_here(job, config: LaunchConfig) -> None:
    """Run ``job`` in this process as rank 0 of a world of 1 (``launch.in_process``): the worker's own ``run(job, context)``.

    For interactive commands, where a worker's start-up (imports, process)
    would cost more than the work; what the job does is the same code.
    """
    from video_similarity.distributed import WorkerContext, choose_device

    worker = import_module(job.WORKER)
    if not hasattr(worker, "run"):
        raise ValueError(f"{job.WORKER} has no run(job, context): its jobs cannot run in process")
    worker.run(job, WorkerContext(0, 0, 1, choose_device(config.device, 0)))


def read_job():
    """In a worker: the job named by ``--spec`` on the command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True, help="job spec (JSON) written by video_similarity.jobs.run_job")
    return from_json(json.loads(Path(parser.parse_args().spec).read_text()))
