"""Batched Inception feature extraction (pool3 for FID, logits for IS), on the GPU when there is one."""

from __future__ import annotations

import contextlib
from typing import Any, Iterable

import numpy as np
import torch
from tqdm.auto import tqdm


def default_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def tf32_disabled(disable: bool = True):
    """Turn off TF32 for cuDNN convolutions and CUDA matmuls inside the block (restored after).

    PyTorch enables TF32 for cuDNN convolutions by default; on Ampere/Hopper GPUs it rounds conv inputs to a 10-bit
    mantissa and moves Inception features by ~1e-3 relative. The reference FID/IS numbers (TF, pytorch-fid on older
    GPUs) are float32, so feature extraction runs in full float32 unless asked otherwise.
    """
    if not disable:
        yield
        return
    old = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def _as_tensor(batch) -> torch.Tensor:
    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(batch)
    if not isinstance(batch, torch.Tensor):
        raise TypeError(f"expected a tensor or numpy array of NCHW images, got {type(batch).__name__}")
    return batch


def _batches(images_or_iterable, batch_size: int):
    """Yield (batch, total or None). A tensor/array is cut into batches; an iterable's items are taken as batches
    (re-cut if larger than batch_size), so a generator of sampler outputs never has to sit in memory whole."""
    if isinstance(images_or_iterable, (torch.Tensor, np.ndarray)):
        images = _as_tensor(images_or_iterable)
        for start in range(0, images.shape[0], batch_size):
            yield images[start:start + batch_size]
        return
    for item in images_or_iterable:
        if isinstance(item, (tuple, list)):  # (images, labels) from a DataLoader
            item = item[0]
        item = _as_tensor(item)
        for start in range(0, item.shape[0], batch_size):
            yield item[start:start + batch_size]


@torch.no_grad()
def extract_features(
    images_or_iterable: torch.Tensor | np.ndarray | Iterable[Any],
    model: torch.nn.Module,
    batch_size: int = 200,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str = "inception features",
    allow_tf32: bool = False,
) -> dict[str, Any]:
    """Run `model` (forward(images) -> (pool3, logits | None), e.g. `load_inception(...)`) over images in batches.

    images: NCHW uint8 (0..255) or float in [0, 1], 1 or 3 channels, any size, as one tensor/array or an iterable of
    batches. The model does the resizing and scaling (see inception.preprocess_for_inception).
    Returns {"pool3": float32 ndarray [N, 2048], "logits": float32 ndarray [N, 1008] or None, "n": N}.
    """
    device = default_device(device)
    model = model.to(device).eval()
    total = None
    if isinstance(images_or_iterable, (torch.Tensor, np.ndarray)):
        total = int(images_or_iterable.shape[0])
    elif hasattr(images_or_iterable, "__len__") and hasattr(images_or_iterable, "dataset"):
        total = len(images_or_iterable.dataset)  # a DataLoader
    pool3_parts: list[np.ndarray] = []
    logit_parts: list[np.ndarray] = []
    has_logits = None
    bar = tqdm(total=total, desc=desc, unit="img", disable=not progress)
    try:
        with tf32_disabled(not allow_tf32):
            for batch in _batches(images_or_iterable, batch_size):
                pool3, logits = model(batch.to(device, non_blocking=True))
                pool3_parts.append(pool3.float().cpu().numpy())
                if has_logits is None:
                    has_logits = logits is not None
                if has_logits:
                    logit_parts.append(logits.float().cpu().numpy())
                bar.update(batch.shape[0])
    finally:
        bar.close()
    if not pool3_parts:
        raise ValueError("no images were given")
    pool3_all = np.concatenate(pool3_parts, 0)
    return {
        "pool3": pool3_all,
        "logits": np.concatenate(logit_parts, 0) if has_logits else None,
        "n": int(pool3_all.shape[0]),
    }
