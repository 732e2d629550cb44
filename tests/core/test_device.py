"""scorerepro.core.device: `device` settings to torch devices, refusing what this machine cannot run."""

from __future__ import annotations

import pytest
import torch

from scorerepro.core.device import resolve_device


def test_cpu_is_the_cpu_and_auto_falls_back_to_it(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_a_bare_cuda_means_this_process_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto", local_rank=3) == torch.device("cuda", 3)
    assert resolve_device("cuda", local_rank=2) == torch.device("cuda", 2)
    assert resolve_device("cuda:1", local_rank=2) == torch.device("cuda", 1)


def test_cuda_without_a_gpu_is_refused_saying_what_to_set(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device is visible.*auto or cpu"):
        resolve_device("cuda:0")


def test_an_unknown_device_name_is_refused_naming_it():
    with pytest.raises(ValueError, match="'gpu0' is not a torch device"):
        resolve_device("gpu0")
