import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: on a shared machine a second intra-op thread only spins (100x slower under load).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
