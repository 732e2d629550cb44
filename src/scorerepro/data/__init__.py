"""Datasets: what each name means (registry), download and verify (sources), write uint8 tensor files
(preprocess), load and augment (loading); synthetic distributions with exact densities (synthetic, not imported
here: it pulls in SciPy).

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
from scorerepro.data.registry import (
    DATASET_NAMES,
    DatasetInfo,
    UnknownDatasetError,
    dataset_info,
    image_shape,
    is_flipped,
    is_mnist_like,
)
from scorerepro.data.sources import SOURCES, DataSourceError, download, verify

__all__ = [
    "DATASET_NAMES",
    "SOURCES",
    "DataIntegrityError",
    "DataSourceError",
    "DatasetInfo",
    "StepBatchSampler",
    "UnknownDatasetError",
    "augment_batch",
    "batch_indices",
    "dataset_info",
    "download",
    "image_shape",
    "is_flipped",
    "is_mnist_like",
    "load_split",
    "to_float",
    "verify",
]
