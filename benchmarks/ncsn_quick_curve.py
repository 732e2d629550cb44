"""Wall time against MNIST-classifier FID for the quick profile's NCSN image model on the CPU: trains the RefineNet on
mnist_embedded with the pipeline's loss (dsm_loss, geometric sigmas 1 -> 0.01, anneal power 2, Adam), and at each
evaluation point samples with the pipeline's annealed Langevin sampler (sample_batches' chain, clamped output) and
scores the samples with pipeline.scoring.score (classifier FID against the training reference). One `RESULT {json}`
line per (training setting, evaluation point, sampling setting); asserts nothing.

    python benchmarks/ncsn_quick_curve.py --ngf 8 --batch-size 32 --iters 600 --eval-at 200,400,600 \
        --samplers 5:2e-5,5:1e-4 --n-samples 100
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch

from scorerepro.config import load_params
from scorerepro.papers.ncsn.losses import dsm_loss
from scorerepro.papers.ncsn.nets import build_model
from scorerepro.papers.ncsn.noise import make_sigmas
from scorerepro.papers.ncsn.sampling import annealed_langevin
from scorerepro.pipeline.common import load_train_images, to_uint8
from scorerepro.pipeline.scoring import score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ngf", type=int, default=8)
    ap.add_argument("--arch", default="refinenet")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ema", type=float, default=None, help="EMA rate of the sampled weights (None: raw weights)")
    ap.add_argument("--iters", type=int, default=600)
    ap.add_argument("--eval-at", default="200,400,600")
    ap.add_argument("--samplers", default="5:2e-5", help="comma list of n_steps_each:step_lr")
    ap.add_argument("--n-samples", type=int, default=100)
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    params = load_params("params.yaml")
    device = torch.device("cpu")
    torch.manual_seed(args.seed)
    spec = {"arch": args.arch, "ngf": args.ngf, "channels": 1, "image_size": 28,
            "num_classes": 1 if args.arch == "refinenet_baseline" else args.levels}
    model = build_model(spec)
    ema = copy.deepcopy(model) if args.ema else None
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sigmas = make_sigmas("geometric", 1.0, 0.01, args.levels)
    images = load_train_images("mnist_embedded").float() / 255.0
    g = torch.Generator().manual_seed(args.seed)
    eval_at = sorted(int(s) for s in args.eval_at.split(","))
    train_s = 0.0
    for it in range(1, args.iters + 1):
        t = time.perf_counter()
        idx = torch.randint(0, len(images), (args.batch_size,), generator=g)
        x = images[idx]
        x = (x * 255.0 + torch.rand(x.shape, generator=g)) / 256.0
        labels = torch.randint(0, len(sigmas), (args.batch_size,), generator=g)
        loss = dsm_loss(model, x, sigmas, labels=labels, anneal_power=2.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(p, 1 - args.ema)
        train_s += time.perf_counter() - t
        if it not in eval_at:
            continue
        net = (ema or model).eval()
        for sampler in args.samplers.split(","):
            steps, lr = sampler.split(":")
            t = time.perf_counter()
            sg = torch.Generator().manual_seed(1234)
            x0 = torch.rand((args.n_samples, 1, 28, 28), generator=sg)
            try:
                res = annealed_langevin(net, x0, sigmas, n_steps_each=int(steps), step_lr=float(lr), generator=sg,
                                        clamp_output=True)
                m = score(to_uint8(res.samples), "mnist_embedded", params, device, inception=False)
                fid = m["fid_mnist_classifier"]
            except Exception as e:  # noqa: BLE001 - a diverged sampler is a point of the curve too
                fid = float("nan")
                print("diverged:", e)
            sample_s = time.perf_counter() - t
            print("RESULT " + json.dumps({"ngf": args.ngf, "arch": args.arch, "batch": args.batch_size,
                                          "lr": args.lr, "ema": args.ema, "iter": it, "train_s": round(train_s, 1),
                                          "loss": round(float(loss), 2), "n_steps_each": int(steps),
                                          "step_lr": float(lr), "n_samples": args.n_samples,
                                          "sample_s": round(sample_s, 1), "fid": round(fid, 2)}), flush=True)
        model.train()


if __name__ == "__main__":
    main()
