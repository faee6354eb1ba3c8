"""Shared fixtures: tiny videos whose frames say their own index."""

from __future__ import annotations

import os

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
# One OpenMP thread per process unless the caller says otherwise (OMP_NUM_THREADS=2 make test): the tests' tensors are
# tiny and torchrun jobs run beside pytest, so more threads only spin against each other on a small machine
# (on a 2-core machine the suite took 454 s with one thread, 526 s with two).
# Set before torch is imported; launched workers inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from tests.helpers import write_indexed_video  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def indexed_video(tmp_path):
    """Factory: an mp4 whose frame i shows i as 10 black/white bars (see helpers.read_index)."""

    def make(name="v.mp4", n_frames=30, fps=10.0, size=(160, 64), **kwargs):
        path = tmp_path / name
        write_indexed_video(path, n_frames, fps, size, **kwargs)
        return path

    return make
