"""Shared test fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's small CPU ops on one intra-op thread, restored afterwards. Thousands of tiny ops gain nothing
    from threads, and on a shared 2-core machine oversubscribed OpenMP threads made such files 5-25x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
