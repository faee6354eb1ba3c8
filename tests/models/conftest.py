"""Shared fixtures for the model tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Forwards of tiny inputs on one thread: on a busy 2-core machine, OpenMP threads
    spin-waiting on each other make them many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
