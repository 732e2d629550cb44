"""Does bf16 sampling move the result? Classifier FID of fp32 vs bf16 samples from one trained MNIST network.

Draws N samples (default 2,000) with the pipeline's own sampler,
scorerepro.papers.ncsn.stages.batched_sampling.sample_batches, three ways: fp32 with seed A, fp32 with seed B, and bf16
autocast (exp["sampling"]["amp_bf16"] = true) with seed A; scores each with the MNIST classifier (classifier_scores:
FID against the classifier's train statistics classifier_train.npz, IS). The bf16 effect |FID(bf16, A) - FID(fp32,
A)| is compared with the seed-to-seed spread |FID(fp32, A) - FID(fp32, B)| (the largest over the B seeds when
several are given): bf16 "does not move the result" when its effect is no larger than that spread. Also printed: the
mean absolute pixel difference and the share of samples given the same class by the classifier, bf16 vs fp32 from
the same seed (same starting noise and Langevin noise), against the same figures for two fp32 seeds.

Note: sample_batches applies amp_bf16 only on CUDA; on the CPU the "bf16" run is fp32 and identical to fp32 A,
so the verdict is only meaningful on a GPU. ``--also channels_last,compile,cuda_graphs`` adds the other speed options
of the sample stage to the bf16 run, so the check then covers the fastest configuration. Prints figures and one
"RESULT {json}" line per run plus a final verdict line; asserts nothing.

    # CPU smoke test (the quick profile's fig5_mnist checkpoint and classifier, as produced by the pipeline):
    python benchmarks/precision_check.py --device cpu --quick --experiment fig5_mnist
    # GPU, after `scorerepro ncsn train <exp>` and `scorerepro classifier mnist_embedded`:
    python benchmarks/precision_check.py --device cuda --experiment fig5_mnist --params params.yaml \
        --checkpoint models/fig5_mnist/final.pt --n-samples 2000 --n-steps-each 100
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch

import _common as C
from scorerepro.config import experiment, load_params
from scorerepro.metrics.fid import load_statistics
from scorerepro.metrics.mnist_classifier import classifier_features, classifier_scores, load_classifier
from scorerepro.papers.ncsn.stages.batched_sampling import sample_batches
from scorerepro.papers.ncsn.experiment import load_score_net
from scorerepro.pipeline.paths import classifier_dir, model_dir
from scorerepro.pipeline.scoring import CLASSIFIER_FILE, CLASSIFIER_STATS


def main() -> None:
    C.line_buffered()
    ap = C.argument_parser(__doc__, "100 samples, 2 steps per level (CPU smoke)")
    ap.add_argument("--params", default="params.yaml", help="params file holding the experiment")
    ap.add_argument("--experiment", required=True, help="an MNIST experiment of the params file, e.g. fig5_mnist")
    ap.add_argument("--checkpoint", default=None, help="default models/<experiment>/final.pt")
    ap.add_argument("--classifier", default=None, help="default models/classifier/<dataset>/classifier.pt")
    ap.add_argument("--stats", default=None, help="default models/classifier/<dataset>/classifier_train.npz")
    ap.add_argument("--n-samples", type=int, default=None, help="samples per run (default 2,000; quick: 100)")
    ap.add_argument("--n-steps-each", type=int, default=None,
                    help="Langevin steps per level (default: the experiment's sampling.n_steps_each; quick: 2)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="sampling batch (default: min(n-samples, 1000)); the same for every run")
    ap.add_argument("--seeds", default="1,2", help="fp32 seeds A,B[,...]; bf16 uses A")
    ap.add_argument("--also", default="",
                    help="comma list of further sampling speed options for the bf16 run, e.g. "
                         "channels_last,compile,cuda_graphs: then the check covers the whole fast configuration")
    ap.add_argument("--budget-s", type=float, default=None, help="start no new run after this many s")
    args = ap.parse_args()
    device = C.check_device(args.device)
    budget = C.Budget(args.budget_s)

    params = load_params(args.params)
    exp = experiment(params, "ncsn", args.experiment)
    dataset = exp["dataset"]
    checkpoint = Path(args.checkpoint or model_dir("ncsn", exp["name"]) / "final.pt")
    clf_path = Path(args.classifier or classifier_dir(dataset) / CLASSIFIER_FILE)
    stats_path = Path(args.stats or classifier_dir(dataset) / CLASSIFIER_STATS)
    n = args.n_samples or (100 if args.quick else 2000)
    steps = args.n_steps_each or (2 if args.quick else exp["sampling"]["n_steps_each"])
    bs = args.batch_size or min(n, 1000)
    also = [o.strip() for o in args.also.split(",") if o.strip()]
    unknown = sorted(set(also) - {"channels_last", "compile", "cuda_graphs"})
    if unknown:
        raise SystemExit(f"--also: unknown option(s) {unknown}; choose from channels_last, compile, cuda_graphs")
    seeds = [int(s) for s in args.seeds.split(",")]
    if len(seeds) < 2:
        raise SystemExit("--seeds needs at least two fp32 seeds (A,B)")
    if device.type != "cuda":
        print("note: sample_batches applies amp_bf16 on CUDA only, so on the CPU the bf16 run is plain fp32 and the "
              "verdict below is not evidence about bf16")

    net = load_score_net(exp, checkpoint, device)
    clf, _ = load_classifier(clf_path, device)
    ref = load_statistics(stats_path)
    print(f"experiment {exp['name']} ({dataset}), checkpoint {checkpoint}, classifier {clf_path}, stats {stats_path}")
    print(f"device {C.device_name(device)}; torch {torch.__version__}; {n} samples per run, batch {bs}, "
          f"{steps} steps per level x {exp['noise']['num_levels']} levels, step_lr {exp['sampling']['step_lr']}")
    base = {"bench": "precision", "device": C.device_name(device), "torch": torch.__version__,
            "experiment": exp["name"], "checkpoint": str(checkpoint), "n_samples": n, "batch_size": bs,
            "n_steps_each": steps, "bf16_run_options": ["amp_bf16", *also]}
    print(f"the bf16 run samples with: {', '.join(base['bf16_run_options'])}")

    runs = [("fp32", seeds[0])] + [("bf16", seeds[0])] + [("fp32", s) for s in seeds[1:]]
    scores: dict[tuple[str, int], dict] = {}
    samples: dict[tuple[str, int], torch.Tensor] = {}
    labels: dict[tuple[str, int], np.ndarray] = {}

    def one(precision: str, seed: int) -> dict:
        e = copy.deepcopy(exp)
        e["sampling"]["amp_bf16"] = precision == "bf16"
        for option in also:
            e["sampling"][option] = precision == "bf16"
        C.sync(device)
        t0 = time.perf_counter()
        x, _ = sample_batches(net, e, 0, n, seed, device, n_steps_each=steps, batch_size=bs, progress=False)
        C.sync(device)
        dt = time.perf_counter() - t0
        sc = classifier_scores(clf, x, ref)
        _, probs = classifier_features(clf, x)
        samples[(precision, seed)] = x
        labels[(precision, seed)] = probs.argmax(1)
        scores[(precision, seed)] = sc
        print(f"[{precision} seed {seed}] FID(classifier) {sc['fid_mnist_classifier']:.4f}, IS "
              f"{sc['is_mnist_classifier_mean']:.4f} +- {sc['is_mnist_classifier_std']:.4f}; sampling {dt:.1f} s "
              f"({n / dt:.1f} samples/s)")
        return {**sc, "sampling_s": round(dt, 2), "samples_per_s": round(n / dt, 3),
                "amp_bf16_effective": precision == "bf16" and device.type == "cuda"}

    for precision, seed in runs:
        if budget.exceeded():
            print(f"budget of {args.budget_s} s exceeded: skipping {precision} seed {seed}")
            C.result({**base, "precision": precision, "seed": seed, "skipped": "budget"})
            continue
        C.run_guarded(f"{precision} seed {seed}", lambda: one(precision, seed),
                      {**base, "precision": precision, "seed": seed})

    a, bf = ("fp32", seeds[0]), ("bf16", seeds[0])
    others = [("fp32", s) for s in seeds[1:] if ("fp32", s) in scores]
    if a not in scores or bf not in scores or not others:
        print("verdict: not enough runs finished to compare")
        C.result({**base, "verdict": "incomplete"})
        return

    def fid(k):
        return scores[k]["fid_mnist_classifier"]

    def pix(k1, k2):
        return float((samples[k1] - samples[k2]).abs().mean())

    def agree(k1, k2):
        return float((labels[k1] == labels[k2]).mean())

    d_bf16 = abs(fid(bf) - fid(a))
    d_seed = max(abs(fid(k) - fid(a)) for k in others)
    same = d_bf16 <= d_seed
    verdict = ("bf16 does not move the result: its FID shift is within the fp32 seed-to-seed spread" if same else
               "bf16 moves FID by more than the fp32 seed-to-seed spread: draw more samples / seeds, or keep fp32")
    if device.type != "cuda":
        verdict += " (CPU: the bf16 run was fp32, not evidence)"
    rec = {**base, "fid_fp32_A": fid(a), "fid_bf16_A": fid(bf), **{f"fid_fp32_seed{k[1]}": fid(k) for k in others},
           "abs_diff_bf16_vs_fp32_A": d_bf16, "abs_diff_fp32_seeds_max": d_seed,
           "pixel_mad_bf16_vs_fp32_A": pix(bf, a), "pixel_mad_fp32_A_vs_B": pix(others[0], a),
           "label_agreement_bf16_vs_fp32_A": agree(bf, a), "label_agreement_fp32_A_vs_B": agree(others[0], a),
           "bf16_within_seed_spread": same, "verdict": verdict}
    print(f"|FID(bf16,A) - FID(fp32,A)| = {d_bf16:.4f}   vs   max |FID(fp32,A) - FID(fp32,B)| = {d_seed:.4f}")
    print(f"mean |pixel| difference: bf16 vs fp32 same seed {rec['pixel_mad_bf16_vs_fp32_A']:.4f}; fp32 seed A vs B "
          f"{rec['pixel_mad_fp32_A_vs_B']:.4f}")
    print(f"same classifier label: bf16 vs fp32 same seed {rec['label_agreement_bf16_vs_fp32_A']:.3f}; fp32 seed A "
          f"vs B {rec['label_agreement_fp32_A_vs_B']:.3f}")
    print(f"verdict: {verdict}")
    C.result(rec)


if __name__ == "__main__":
    main()
