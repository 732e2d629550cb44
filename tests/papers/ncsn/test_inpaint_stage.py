"""The inpainting stage on the tiny trained run (conftest.py): one chain per mask, each holding the known pixels of
its own mask, and one figure and summary row per mask."""

from __future__ import annotations

import json

import pytest
import torch

from scorerepro.papers.ncsn import sampling
from scorerepro.papers.ncsn.stages import inpaint

MASKS = ["right_half", "bottom_half", "center_square"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


def _add_test_split(root, n: int = 4) -> None:
    from scorerepro.core.fileio import sha256_file, write_json
    from scorerepro.data.preprocess import save_split

    d = root / "data" / "processed" / "mnist_embedded"
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    save_split(d / "test.pt", images, None)
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["splits"]["test"] = {"file": "test.pt", "shape": [n, 1, 28, 28], "sha256": sha256_file(d / "test.pt")}
    write_json(d / "manifest.json", manifest)


def test_each_mask_gets_a_chain_that_keeps_its_known_pixels(tiny_run, monkeypatch):
    _add_test_split(tiny_run.root)
    params = tiny_run.params()
    params["ncsn"]["experiments"]["tiny_ncsn"]["inpaint"] = {"masks": MASKS, "n_images": 2, "n_completions": 3,
                                                              "n_steps_each": 2}
    calls = []
    real = sampling.annealed_inpaint

    def recording(net, x_ref, mask, *args, **kwargs):
        res = real(net, x_ref, mask, *args, **kwargs)
        calls.append((x_ref.clone(), mask.clone(), res.samples.clone()))
        return res

    monkeypatch.setattr(sampling, "annealed_inpaint", recording)
    inpaint.run(params, "tiny_ncsn")

    assert len(calls) == len(MASKS)
    for kind, (x_ref, mask, out) in zip(MASKS, calls):
        assert x_ref.shape[0] == out.shape[0] == 2 * 3
        assert torch.equal(x_ref[0], x_ref[2]) and not torch.equal(x_ref[0], x_ref[3])  # 3 completions per image
        expected = inpaint.make_mask(kind, x_ref.shape[-2:], torch.Generator().manual_seed(params["seed"]))
        assert torch.equal(mask, expected)
        known = expected.bool().expand_as(x_ref)
        # Known pixels end as the reference plus the last level's noise (sigma_L = 0.01), clamped to [0, 1].
        assert (out[known] - x_ref[known].clamp(0, 1)).abs().max() < 0.06
        assert (out[~known] - x_ref[~known]).abs().mean() > 0.05  # unknown pixels were redrawn

    summary = json.loads((tiny_run.root / "results/ncsn/tiny_ncsn/inpainting/inpainting.json").read_text())
    assert list(summary) == MASKS
    assert all(v["n_images"] == 2 and v["n_completions"] == 3 for v in summary.values())
    for kind in MASKS:
        fig = "fig7" if kind == "right_half" else "fig18"
        assert (tiny_run.root / f"results/ncsn/tiny_ncsn/inpainting/{fig}_inpainting_{kind}.png").stat().st_size > 0
