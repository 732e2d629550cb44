"""Datasets: download and verify (sources), write uint8 tensor files (preprocess), load and augment (loading).

The preprocess function is not re-exported here on purpose: binding the name `preprocess` in this package would
shadow the submodule scorerepro.data.preprocess (`import scorerepro.data.preprocess as m` would then give the
function). Use `from scorerepro.data.preprocess import preprocess`.
"""

from scorerepro.data.loading import (
    DataIntegrityError,
    StepBatchSampler,
    augment_batch,
    batch_indices,
    load_split,
    to_float,
)
from scorerepro.data.sources import SOURCES, DataSourceError, download, verify

__all__ = [
    "SOURCES",
    "DataIntegrityError",
    "DataSourceError",
    "StepBatchSampler",
    "augment_batch",
    "batch_indices",
    "download",
    "load_split",
    "to_float",
    "verify",
]
