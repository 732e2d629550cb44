"""scorerepro.plots.grid.image_grid against the function it stands in for, torchvision.utils.make_grid."""

from __future__ import annotations

import pytest
import torch
from torchvision.utils import make_grid

from scorerepro.plots.grid import image_grid


@pytest.mark.parametrize("n, c, h, w, nrow, padding, pad_value", [
    (100, 1, 28, 28, 10, 2, 1.0),   # the sample grids
    (7, 1, 8, 8, 3, 1, 1.0),        # a last row that is not full
    (5, 3, 32, 32, 8, 2, 0.0),      # colour, fewer images than a row
    (12, 3, 5, 7, 4, 0, 0.5),       # no padding, non-square images
    (1, 1, 28, 28, 8, 2, 1.0),      # a single image comes back unpadded
])
def test_image_grid_equals_torchvisions_make_grid(n, c, h, w, nrow, padding, pad_value):
    images = torch.rand((n, c, h, w), generator=torch.Generator().manual_seed(n))
    ours = image_grid(images, nrow=nrow, padding=padding, pad_value=pad_value)
    theirs = make_grid(images, nrow=nrow, padding=padding, pad_value=pad_value)
    assert ours.shape == theirs.shape
    assert torch.equal(ours, theirs)


def test_image_grid_refuses_a_batch_without_a_channel_axis():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        image_grid(torch.zeros(4, 28, 28))


def test_drawing_a_figure_does_not_import_torchvision():
    import subprocess
    import sys

    code = ("import sys; import scorerepro.plots.images, scorerepro.papers.ae_mcmc.stages.figures; "
            "print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
