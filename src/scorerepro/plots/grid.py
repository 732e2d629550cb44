"""Image batches tiled into one picture, laid out exactly as torchvision.utils.make_grid lays them out.

Written here rather than imported because `import torchvision` costs 1.5 s of CPU (it loads torchvision.ops, which
loads torch._dynamo and sympy), paid by each of the ~28 figure-drawing stages of the default profile; nothing else
in those stages needs torchvision. tests/test_plots_grid.py checks it against make_grid itself."""

from __future__ import annotations

import torch


def image_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 0.0) -> torch.Tensor:
    """(B, C, H, W) images as one (C', H', W') grid with `nrow` images per row, `padding` pixels of `pad_value`
    around each; one-channel images become three (C' = 3), and a single image comes back unpadded, as make_grid
    does."""
    if images.dim() != 4:
        raise ValueError(f"image_grid takes a (B, C, H, W) batch, got shape {tuple(images.shape)}")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[0] == 1:
        return images[0].clone()
    n, c, h, w = images.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    cell_h, cell_w = h + padding, w + padding
    grid = images.new_full((c, cell_h * rows + padding, cell_w * cols + padding), pad_value)
    for k in range(n):
        y, x = divmod(k, cols)
        grid[:, y * cell_h + padding: (y + 1) * cell_h, x * cell_w + padding: (x + 1) * cell_w] = images[k]
    return grid
