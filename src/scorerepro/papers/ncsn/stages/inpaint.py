"""Stage `inpaint <experiment>`: annealed Langevin inpainting of test images under several masks: the right half
(seed 000 Fig. 7) and other shapes (Fig. 18), several completions per image. One figure per mask in
results/<experiment>/inpainting/; a model whose training diverged gets the record there instead."""

from __future__ import annotations

import torch

from scorerepro.papers.ncsn import sampling
from scorerepro.data.loading import load_split
from scorerepro.core.fileio import write_json
from scorerepro.data.registry import image_shape
from scorerepro.papers.ncsn.experiment import experiment_settings, load_score_net, selected_checkpoint, sigmas_of
from scorerepro.papers.ncsn.stages.batched_sampling import image_chain_bounds
from scorerepro.pipeline.common import resolve_device, to_uint8
from scorerepro.pipeline.paths import processed_dir
from scorerepro.papers.ncsn.locations import model_dir, results_dir
from scorerepro.pipeline.divergence import upstream_divergence, write_diverged_outputs
from scorerepro.plots.images import inpainting_figure


def make_mask(kind: str, hw: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """1 = known pixel. Named after the region that is removed."""
    masks = {
        "right_half": lambda: sampling.right_half_mask(hw),
        "bottom_half": lambda: sampling.bottom_half_mask(hw),
        "center_square": lambda: sampling.center_square_mask(hw),
        "checkerboard": lambda: sampling.checkerboard_mask(hw),
        "random_pixels": lambda: sampling.random_pixels_mask(hw, 0.5, generator=generator),
    }
    if kind not in masks:
        raise ValueError(f"unknown inpainting mask {kind!r}; valid: {', '.join(masks)}")
    return masks[kind]().float()


def run(params: dict, experiment: str) -> None:
    exp = experiment_settings(params, experiment)
    name, cfg = exp["name"], exp["inpaint"]
    out = results_dir(name) / "inpainting"
    diverged = upstream_divergence(model_dir(name), results_dir(name) / "selected.json")
    if diverged is not None:  # the folder holds the record in place of figures
        return write_diverged_outputs(diverged, [out], f"ncsn inpaint {name}")
    device = resolve_device(params)
    net = load_score_net(exp, selected_checkpoint(exp), device)
    d = processed_dir(exp["dataset"])
    images, _ = load_split(d / "test.pt", d / "manifest.json")
    refs = images[: cfg["n_images"]].float().div(255).to(device)
    c = cfg["n_completions"]
    ref_batch = refs.repeat_interleave(c, dim=0)
    hw = image_shape(exp["dataset"])[1:]
    summary = {}
    for m_idx, kind in enumerate(cfg["masks"]):
        g = torch.Generator(device=device).manual_seed(params["seed"] * 1000 + m_idx)
        mask = make_mask(kind, hw, torch.Generator().manual_seed(params["seed"])).to(device)
        res = sampling.annealed_inpaint(net, ref_batch, mask, sigmas_of(exp).to(device),
                                        n_steps_each=cfg["n_steps_each"], step_lr=cfg["step_lr"], generator=g,
                                        clamp_output=True, bounds=image_chain_bounds(sigmas_of(exp)))
        done = res.samples.view(len(refs), c, *refs.shape[1:]).cpu()
        occluded = refs.cpu() * mask.cpu() + 0.5 * (1 - mask.cpu())  # grey where unknown
        fig = "fig7" if kind == "right_half" else "fig18"
        inpainting_figure(to_uint8(occluded), to_uint8(done), to_uint8(refs.cpu()),
                          out / f"{fig}_inpainting_{kind}.png", f"{name}: inpainting, {kind.replace('_', ' ')} removed")
        unknown = (1 - mask.cpu()).bool().expand_as(refs.cpu()[0])
        err = ((done - refs.cpu()[:, None]) ** 2)[..., unknown].mean().item()
        # Mean squared error on the filled pixels: a plain number beside the pictures (seed 000 suggested an
        # SNR as future work); diverse completions make it larger than a blurry mean would.
        summary[kind] = {"mse_unknown_pixels": err, "n_images": len(refs), "n_completions": c}
    write_json(out / "inpainting.json", summary)
    print(f"inpaint {name}: {', '.join(cfg['masks'])}")
