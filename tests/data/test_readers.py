"""scorerepro.data.readers: one reader per registry name, and the options each reader honours."""

from __future__ import annotations

import torch

from scorerepro.data import readers
from scorerepro.data.readers import READERS, ReadOptions
from scorerepro.data.registry import DATASET_NAMES


def test_every_dataset_name_has_a_reader_and_no_reader_lacks_a_name():
    assert set(READERS) == set(DATASET_NAMES)


def test_stratified_readers_record_their_split_options(monkeypatch, tmp_path):
    labels = torch.arange(40) % 4
    images = torch.zeros(40, 1, 8, 8, dtype=torch.int64)
    monkeypatch.setattr(readers.sources, "read_digits8x8", lambda path: (images, labels))
    data, settings = READERS["digits8x8"](tmp_path, ReadOptions(limit=3, test_fraction=0.5, seed=5))
    assert settings["test_fraction"] == 0.5 and settings["seed"] == 5
    assert {split: len(d[0]) for split, d in data.items()} == {"train": 3, "test": 3}
    assert data["train"][0].dtype == torch.uint8
