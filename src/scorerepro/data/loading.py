"""Load preprocessed splits (verified against their manifest), augment batches, and pick batches by global step.

- load_split(path) -> (uint8 NCHW images, int64 labels or None), refusing a file whose sha256 is not the one
  recorded in the manifest that preprocess wrote beside it.
- to_float(images) -> float in [0, 1] (x / 255, as seed 000 and torchvision's ToTensor do).
- augment_batch(x, flip, dequantize, generator): random horizontal flips (p = 0.5 per image; the official code
  uses them for CIFAR-10 and CelebA) and the official uniform dequantisation, from ermongroup/ncsn
  runners/anneal_runner.py: X = X / 256. * 255. + torch.rand_like(X) / 256., mapping {0, 1/255, ..., 1} onto
  [0, 1): each pixel value k/255 becomes U(k/256, (k+1)/256).
- StepBatchSampler: the indices of the batch for any global step, from (n, batch_size, seed) alone, so training
  resumes at an exact step without saving loader state.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

import torch

from scorerepro.core.errors import EXIT_DATA, UserError
from scorerepro.core.fileio import sha256_file


class DataIntegrityError(UserError, RuntimeError):
    """A preprocessed file does not match its manifest (or has no manifest); the message says what to do."""

    label, exit_code = "data integrity error", EXIT_DATA


_RERUN = "rerun the preprocess stage (e.g. `dvc repro` / `snakemake` for this dataset) to rebuild it"


def load_split(
    path: str | os.PathLike, manifest_path: str | os.PathLike | None = None, verify: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(images uint8 [N, C, H, W], labels int64 [N] or None) from a split file written by preprocess.

    With `verify` (the default) the file's sha256 must equal the manifest's (default: manifest.json beside the
    file) and its shape must match; otherwise DataIntegrityError names the file, both hashes and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise DataIntegrityError(f"{path} does not exist; {_RERUN}")
    entry = None
    if verify:
        manifest_path = Path(manifest_path) if manifest_path is not None else path.parent / "manifest.json"
        if not manifest_path.is_file():
            raise DataIntegrityError(
                f"cannot verify {path}: no manifest at {manifest_path}; {_RERUN}, or pass verify=False to load it "
                "unchecked"
            )
        try:
            manifest = json.loads(manifest_path.read_text())
            entry = next(e for e in manifest["splits"].values() if e["file"] == path.name)
        except (ValueError, KeyError, TypeError, StopIteration) as err:
            raise DataIntegrityError(f"{manifest_path} has no entry for {path.name} ({err!r}); {_RERUN}") from err
        found = sha256_file(path)
        if found != entry["sha256"]:
            raise DataIntegrityError(
                f"{path} does not match its manifest {manifest_path}: sha256 {found}, manifest says "
                f"{entry['sha256']}. The file was modified or belongs to another run; {_RERUN}."
            )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        images, labels = payload["images"], payload["labels"]
    except Exception as err:  # noqa: BLE001 - any unpickling failure means the same thing here
        raise DataIntegrityError(f"{path} is not a split file written by preprocess ({err!r}); {_RERUN}") from err
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise DataIntegrityError(f"{path}: expected uint8 NCHW images, got {images.dtype} {tuple(images.shape)}")
    if labels is not None and (labels.dtype != torch.int64 or labels.shape != images.shape[:1]):
        raise DataIntegrityError(
            f"{path}: labels {labels.dtype} {tuple(labels.shape)} do not fit {images.shape[0]} images"
        )
    if entry is not None and list(images.shape) != list(entry["shape"]):
        raise DataIntegrityError(f"{path}: shape {list(images.shape)} differs from the manifest's {entry['shape']}")
    return images, labels


def to_float(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 0..255 -> float in [0, 1] (divides by 255)."""
    if images.dtype != torch.uint8:
        raise TypeError(f"to_float expects uint8 images, got {images.dtype}")
    return images.to(dtype) / 255.0


def _rand(shape, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    # Draw on the generator's device (torch requires it) and move, so a CPU generator can drive GPU batches.
    return torch.rand(shape, generator=generator, device=generator.device, dtype=like.dtype).to(like.device)


def augment_batch(x: torch.Tensor, flip: bool, dequantize: bool, generator: torch.Generator) -> torch.Tensor:
    """Training-time augmentation of a float [0, 1] NCHW batch; returns a new tensor.

    flip: each image mirrored left-right with probability 1/2 (drawn first, one number per image).
    dequantize: x * 255/256 + U(0, 1/256) per pixel, the official formula (output in [0, 1)).
    """
    if generator is None:
        raise TypeError("augment_batch needs an explicit torch.Generator (same seed, same batch)")
    if not x.is_floating_point() or x.ndim != 4:
        raise TypeError(f"augment_batch expects a float NCHW batch, got {x.dtype} {tuple(x.shape)}")
    out = x
    if flip:
        mask = _rand((x.shape[0],), generator, x) < 0.5
        out = torch.where(mask.view(-1, 1, 1, 1), out.flip(-1), out)
    if dequantize:
        out = out / 256.0 * 255.0 + _rand(out.shape, generator, out) / 256.0
    return out if out is not x else x.clone()


class StepBatchSampler:
    """Deterministic batches addressed by global step (0-based).

    Epoch e uses torch.randperm(n) from a CPU generator seeded with a hash of (seed, e); step s falls in epoch
    s // steps_per_epoch at offset s % steps_per_epoch. Any step's batch is computed directly, so resuming at step
    s needs only s. (Same torch version for exact equality: torch does not promise randperm streams across
    releases.)

    drop_last=False (default, as the official training DataLoader: shuffle=True, drop_last unset): every index
    appears exactly once per epoch and the last batch of an epoch holds n % batch_size items when that is not 0.
    drop_last=True: every batch has batch_size items; the n % batch_size indices left at the end of each epoch's
    permutation are skipped for that epoch (different ones each epoch).
    """

    def __init__(self, n: int, batch_size: int, seed: int, drop_last: bool = False):
        if n < 1 or batch_size < 1:
            raise ValueError(f"need n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}")
        if drop_last and batch_size > n:
            raise ValueError(f"batch_size {batch_size} > n {n} with drop_last=True leaves no batch at all")
        self.n, self.batch_size, self.seed, self.drop_last = int(n), int(batch_size), int(seed), bool(drop_last)
        self.steps_per_epoch = n // batch_size if drop_last else -(-n // batch_size)
        self._cache: tuple[int, torch.Tensor] | None = None

    def epoch_seed(self, epoch: int) -> int:
        # A hash rather than seed * K + epoch, so that (seed, epoch) pairs never collide.
        digest = hashlib.sha256(f"scorerepro-batches:{self.seed}:{epoch}".encode()).digest()
        return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)

    def permutation(self, epoch: int) -> torch.Tensor:
        if self._cache is None or self._cache[0] != epoch:
            g = torch.Generator().manual_seed(self.epoch_seed(epoch))
            self._cache = (epoch, torch.randperm(self.n, generator=g))
        return self._cache[1]

    def locate(self, step: int) -> tuple[int, int]:
        """(epoch, batch index within the epoch) of a global step."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        return divmod(int(step), self.steps_per_epoch)

    def indices(self, step: int) -> torch.Tensor:
        """int64 indices of the batch used at global step `step`."""
        epoch, i = self.locate(step)
        start = i * self.batch_size
        return self.permutation(epoch)[start:start + self.batch_size].clone()

    def iter_from(self, step: int = 0) -> Iterator[tuple[int, torch.Tensor]]:
        """Endless (step, indices) pairs starting at `step`."""
        while True:
            yield step, self.indices(step)
            step += 1


def batch_indices(n: int, batch_size: int, seed: int, step: int, drop_last: bool = False) -> torch.Tensor:
    """Functional form of StepBatchSampler(n, batch_size, seed, drop_last).indices(step)."""
    return StepBatchSampler(n, batch_size, seed, drop_last).indices(step)
