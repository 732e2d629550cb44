# Seed 003 (Abstreiter, Bauer & Mehrjou 2021; src/scorerepro/papers/score_repr): every `score_repr_*` stage of
# dvc.yaml. Per experiment: training, then evaluation (codes, silhouette, denoising, Eq. 6, diversity, leaderboard
# samples); the silhouette sweep (Fig. 4); the Gaussian toy (Eq. 6); the summary. Settings: params.yaml `score_repr:`.
# Each rule mirrors the dvc.yaml stage of the same name (see common.smk for the mapping rules).


SCORE_REPR_EXPERIMENTS = list(_required("score_repr.experiments"))
SCORE_REPR_SWEEP_DATASET = _required("score_repr.sweep.dataset")
SCORE_REPR_TOY_OUTPUTS = ["results/score_repr/toy/eq6_toy.png", "results/score_repr/toy/metrics.json"]
SCORE_REPR_SWEEP_OUTPUTS = ["results/score_repr/sweep/silhouette.csv", "results/score_repr/sweep/fig4_silhouette.png",
                            "results/score_repr/sweep/metrics.json"]
SCORE_REPR_EVALUATE_OUTPUTS = ["figure.png", "loss.csv", "metrics.json"]


def score_repr_dataset(kind):
    """data/processed/<dataset>, data/reference/<dataset>, models/classifier/<dataset> of the experiment."""
    return lambda wildcards: f"{kind}/{dataset_of('score_repr', wildcards.experiment)}"


rule score_repr_toy:
    input:
        dvc_inputs(SCORE_REPR_TOY_OUTPUTS[0], code("score_repr_toy")),
    output:
        SCORE_REPR_TOY_OUTPUTS,
    params:
        dvc=dvc_params("threads", "seed", "score_repr.threads", "score_repr.sde", "score_repr.toy"),
    resources:
        **res("score_repr_toy"),
    shell:
        "scorerepro score_repr toy"


# DVC: outs models/score_repr/<experiment> (persist: true, training resumes) -> completed.json, written last.
rule score_repr_train:
    input:
        dvc_inputs(SCORE_REPR_MODEL_DONE, score_repr_dataset("data/processed"), code("score_repr_train")),
    output:
        SCORE_REPR_MODEL_DONE,
    params:
        dvc=dvc_params("threads", "seed", "device", "score_repr.threads", "score_repr.sde", "score_repr.defaults.data",
                       "score_repr.defaults.model", "score_repr.defaults.training",
                       "score_repr.experiments.{experiment}.dataset", "score_repr.experiments.{experiment}.data",
                       "score_repr.experiments.{experiment}.model", "score_repr.experiments.{experiment}.training"),
    resources:
        **res("score_repr_train"),
    shell:
        "scorerepro score_repr train {wildcards.experiment}"


# DVC: outs models/score_repr/sweep (persist: true, each run resumes) -> completed.json, written last.
rule score_repr_sweep:
    input:
        dvc_inputs(SCORE_REPR_SWEEP_DONE, f"data/processed/{SCORE_REPR_SWEEP_DATASET}", code("score_repr_sweep")),
    output:
        SCORE_REPR_SWEEP_DONE,
        SCORE_REPR_SWEEP_OUTPUTS,
    params:
        dvc=dvc_params("threads", "seed", "device", "score_repr.threads", "score_repr.sde", "score_repr.sweep"),
    resources:
        **res("score_repr_sweep"),
    shell:
        "scorerepro score_repr sweep"


rule score_repr_evaluate:
    input:
        dvc_inputs("results/score_repr/experiments/{experiment}/figure.png", SCORE_REPR_MODEL_DONE,
                   score_repr_dataset("data/processed"), score_repr_dataset("data/reference"),
                   score_repr_dataset("models/classifier"), INCEPTION_DONE, code("score_repr_evaluate")),
    output:
        [f"results/score_repr/experiments/{{experiment}}/{name}" for name in SCORE_REPR_EVALUATE_OUTPUTS],
    params:
        dvc=dvc_params("threads", "seed", "device", "inception.batch_size", "score_repr.threads", "score_repr.sde",
                       "score_repr.defaults", "score_repr.experiments.{experiment}"),
    resources:
        **res("score_repr_evaluate"),
    shell:
        "scorerepro score_repr evaluate {wildcards.experiment}"


# DVC deps results/score_repr/{experiments,sweep,toy} (folders of other stages' outputs) -> those outputs.
rule score_repr_summary:
    input:
        dvc_inputs("results/score_repr/claims.csv",
                   [f"results/score_repr/experiments/{e}/{name}" for e in SCORE_REPR_EXPERIMENTS
                    for name in SCORE_REPR_EVALUATE_OUTPUTS],
                   SCORE_REPR_SWEEP_OUTPUTS, SCORE_REPR_TOY_OUTPUTS, code("score_repr_summary")),
    output:
        "results/score_repr/claims.csv",
        "results/score_repr/leaderboard.csv",
        "results/score_repr/summary.md",
    params:
        dvc=dvc_params("threads", "profile", "score_repr"),
    resources:
        **res("score_repr_summary"),
    shell:
        "scorerepro score_repr summary"
