# NCSN (seed 000: Song & Ermon 2019; src/scorerepro/papers/ncsn): every `ncsn_*` stage of dvc.yaml. The image
# experiments (training, checkpoint selection, sampling, evaluation, neighbours, inpainting, figures), the toy
# studies, the sampling sensitivity grid and the paper's summary tables. Settings: params.yaml `ncsn:`.
# Each rule mirrors the dvc.yaml stage of the same name (see common.smk for the mapping rules).


NCSN_EXPERIMENTS = list(_required("ncsn.experiments"))
# The toy studies without inputs: the same list as the `ncsn_toy` foreach in dvc.yaml (fig1_manifold has its own
# stage, ncsn_toy_manifold, because it reads a dataset).
TOY_STUDIES = ["fig2_scores", "fig3_langevin", "fig11_step_sweep"]
TOY_MANIFOLD_DATASET = _required("ncsn.toy.fig1_manifold.dataset")
SENSITIVITY_EXPERIMENT = _required("ncsn.sensitivity.experiment")
PAPER_WILDCARDS["ncsn"]["study"] = TOY_STUDIES


wildcard_constraints:
    study=_alternatives(TOY_STUDIES),


def processed_of(wildcards):
    return f"data/processed/{dataset_of('ncsn', wildcards.experiment)}"


def reference_of(wildcards):
    return f"data/reference/{dataset_of('ncsn', wildcards.experiment)}"


def classifier_of(wildcards):
    return f"models/classifier/{dataset_of('ncsn', wildcards.experiment)}"


def shards_of(kind):
    """DVC dep samples/ncsn/<experiment>/<kind> (a folder of other stages' outputs) -> the shard files."""
    return lambda wildcards: [f"samples/ncsn/{wildcards.experiment}/{kind}/shard_{s}.pt" for s in SHARDS]


# ---------------------------------------------------------------------------------------------------------------
# the image experiments (params.yaml ncsn.defaults, ncsn.experiments)


# DVC: outs models/ncsn/<experiment> (persist: true, training resumes from its checkpoints) -> completed.json,
# which the training writes last; only that marker is removed before a rerun.
rule ncsn_train:
    input:
        dvc_inputs(NCSN_MODEL_DONE, processed_of, code("ncsn_train")),
    output:
        NCSN_MODEL_DONE,
        "results/ncsn/{experiment}/fig12_loss.csv",
    params:
        dvc=dvc_params("threads", "seed", "device", "ncsn.defaults.model", "ncsn.defaults.noise", "ncsn.defaults.training",
                       "ncsn.experiments.{experiment}.model", "ncsn.experiments.{experiment}.noise",
                       "ncsn.experiments.{experiment}.training"),
    resources:
        **res("ncsn_train"),
    shell:
        "scorerepro ncsn train {wildcards.experiment}"


rule ncsn_select_sample:
    input:
        dvc_inputs("samples/ncsn/{experiment}/select/shard_{shard}.pt", NCSN_MODEL_DONE,
                   code("ncsn_select_sample")),
    output:
        "samples/ncsn/{experiment}/select/shard_{shard}.pt",
    params:
        dvc=dvc_params("threads", "seed", "sharding", "ncsn.defaults.sampling", "ncsn.defaults.select",
                       "ncsn.experiments.{experiment}.sampling", "ncsn.experiments.{experiment}.select"),
    resources:
        **res("ncsn_select_sample"),
    shell:
        "scorerepro ncsn select_sample {wildcards.experiment} {wildcards.shard}"


# DVC dep samples/ncsn/<experiment>/select -> its shard files; models/inception -> its marker.
rule ncsn_select:
    input:
        dvc_inputs("results/ncsn/{experiment}/selected.json", shards_of("select"), reference_of, classifier_of,
                   INCEPTION_DONE, code("ncsn_select")),
    output:
        "results/ncsn/{experiment}/selected.json",
        "results/ncsn/{experiment}/fig13_fid_by_iteration.png",
        "results/ncsn/{experiment}/fig13_fid_by_iteration.csv",
    params:
        dvc=dvc_params("threads", "ncsn.defaults.select", "ncsn.experiments.{experiment}.select"),
    resources:
        **res("ncsn_select"),
    shell:
        "scorerepro ncsn select {wildcards.experiment}"


rule ncsn_sample:
    input:
        dvc_inputs("samples/ncsn/{experiment}/eval/shard_{shard}.pt", NCSN_MODEL_DONE,
                   "results/ncsn/{experiment}/selected.json", code("ncsn_sample")),
    output:
        "samples/ncsn/{experiment}/eval/shard_{shard}.pt",
    params:
        dvc=dvc_params("threads", "seed", "sharding", "ncsn.defaults.sampling", "ncsn.defaults.eval",
                       "ncsn.experiments.{experiment}.sampling", "ncsn.experiments.{experiment}.eval"),
    resources:
        **res("ncsn_sample"),
    shell:
        "scorerepro ncsn sample {wildcards.experiment} {wildcards.shard}"


rule ncsn_evaluate:
    input:
        dvc_inputs("results/ncsn/{experiment}/metrics.json", shards_of("eval"), reference_of, classifier_of,
                   INCEPTION_DONE, code("ncsn_evaluate")),
    output:
        "results/ncsn/{experiment}/metrics.json",
    params:
        dvc=dvc_params("threads", "inception.batch_size", "ncsn.defaults.eval", "ncsn.experiments.{experiment}.eval"),
    resources:
        **res("ncsn_evaluate"),
    shell:
        "scorerepro ncsn evaluate {wildcards.experiment}"


rule ncsn_neighbours:
    input:
        dvc_inputs("results/ncsn/{experiment}/fig6_neighbours.png", shards_of("eval"), processed_of, reference_of,
                   INCEPTION_DONE, code("ncsn_neighbours")),
    output:
        "results/ncsn/{experiment}/fig6_neighbours.png",
        "results/ncsn/{experiment}/neighbours.json",
    params:
        dvc=dvc_params("threads", "ncsn.defaults.neighbours", "ncsn.experiments.{experiment}.neighbours"),
    resources:
        **res("ncsn_neighbours"),
    shell:
        "scorerepro ncsn neighbours {wildcards.experiment}"


rule ncsn_inpaint:
    input:
        dvc_inputs("results/ncsn/{experiment}/inpainting", NCSN_MODEL_DONE,
                   "results/ncsn/{experiment}/selected.json", processed_of, code("ncsn_inpaint")),
    output:
        directory("results/ncsn/{experiment}/inpainting"),
    params:
        dvc=dvc_params("threads", "seed", "ncsn.defaults.inpaint", "ncsn.experiments.{experiment}.inpaint"),
    resources:
        **res("ncsn_inpaint"),
    shell:
        "scorerepro ncsn inpaint {wildcards.experiment}"


rule ncsn_figures:
    input:
        dvc_inputs("results/ncsn/{experiment}/fig5_samples.png", NCSN_MODEL_DONE,
                   "results/ncsn/{experiment}/selected.json", shards_of("eval"),
                   "results/ncsn/{experiment}/fig12_loss.csv", "results/ncsn/{experiment}/metrics.json",
                   code("ncsn_figures")),
    output:
        "results/ncsn/{experiment}/fig5_samples.png",
        "results/ncsn/{experiment}/fig5_intermediate.png",
        "results/ncsn/{experiment}/fig12_loss.png",
    params:
        dvc=dvc_params("threads", "seed", "ncsn.defaults.sampling", "ncsn.experiments.{experiment}.sampling"),
    resources:
        **res("ncsn_figures"),
    shell:
        "scorerepro ncsn figures {wildcards.experiment}"


# ---------------------------------------------------------------------------------------------------------------
# the toy studies (params.yaml ncsn.toy) and the sensitivity grid (ncsn.sensitivity)

NCSN_TOY_OUTPUTS = [
    f"results/ncsn/toy/{study}/{name}"
    for study in ["fig1_manifold", *TOY_STUDIES] for name in (f"{study}.png", "metrics.json")
]
NCSN_SENSITIVITY_OUTPUTS = ["results/ncsn/sensitivity/fig8_sensitivity.png", "results/ncsn/sensitivity/metrics.json"]


rule ncsn_toy_manifold:
    input:
        dvc_inputs(NCSN_TOY_OUTPUTS[0], f"data/processed/{TOY_MANIFOLD_DATASET}", code("ncsn_toy_manifold")),
    output:
        NCSN_TOY_OUTPUTS[0],
        NCSN_TOY_OUTPUTS[1],
    params:
        dvc=dvc_params("threads", "seed", "device", "ncsn.toy.fig1_manifold"),
    resources:
        **res("ncsn_toy_manifold"),
    shell:
        "scorerepro ncsn toy_manifold"


rule ncsn_toy:
    input:
        dvc_inputs("results/ncsn/toy/{study}/{study}.png", code("ncsn_toy")),
    output:
        "results/ncsn/toy/{study}/{study}.png",
        "results/ncsn/toy/{study}/metrics.json",
    params:
        dvc=dvc_params("threads", "seed", "device", "ncsn.toy.{study}"),
    resources:
        **res("ncsn_toy"),
    shell:
        "scorerepro ncsn toy {wildcards.study}"


# DVC deps data/reference, models/classifier (folders of every dataset's outputs) -> each dataset's folder.
rule ncsn_sensitivity:
    input:
        dvc_inputs(NCSN_SENSITIVITY_OUTPUTS[0],
                   NCSN_MODEL_DONE.format(experiment=SENSITIVITY_EXPERIMENT),
                   f"results/ncsn/{SENSITIVITY_EXPERIMENT}/selected.json",
                   [f"data/reference/{d}" for d in DATASETS],
                   [f"models/classifier/{d}" for d in DATASETS],
                   INCEPTION_DONE, code("ncsn_sensitivity")),
    output:
        NCSN_SENSITIVITY_OUTPUTS,
    params:
        dvc=dvc_params("threads", "seed", "ncsn.sensitivity"),
    resources:
        **res("ncsn_sensitivity"),
    shell:
        "scorerepro ncsn sensitivity"


# ---------------------------------------------------------------------------------------------------------------
# NCSN's tables: results/ncsn/summary.*, and its rows of the cross-paper claims table and leaderboard (shared.smk)


rule ncsn_summary_rows:
    input:
        dvc_inputs("data/ncsn/summary_rows/{experiment}.json", "results/ncsn/{experiment}/metrics.json",
                   "results/ncsn/{experiment}/selected.json", code("ncsn_summary_rows")),
    output:
        "data/ncsn/summary_rows/{experiment}.json",
    params:
        dvc=dvc_params("threads", "profile", "ncsn.defaults", "ncsn.experiments.{experiment}"),
    resources:
        **res("ncsn_summary_rows"),
    shell:
        "scorerepro ncsn summary_rows {wildcards.experiment}"


# DVC deps data/ncsn/summary_rows, results/ncsn/toy, results/ncsn/sensitivity, results/classifier -> the files
# in them.
rule ncsn_summary:
    input:
        dvc_inputs("results/ncsn/summary.csv",
                   [f"data/ncsn/summary_rows/{e}.json" for e in NCSN_EXPERIMENTS],
                   NCSN_TOY_OUTPUTS,
                   NCSN_SENSITIVITY_OUTPUTS,
                   [f"results/classifier/{d}/metrics.json" for d in DATASETS], code("ncsn_summary")),
    output:
        "results/ncsn/summary.csv",
        "results/ncsn/summary.md",
        "results/ncsn/claims.csv",
        "results/ncsn/leaderboard.csv",
    params:
        dvc=dvc_params("threads", "profile", "ncsn"),
    resources:
        **res("ncsn_summary"),
    shell:
        "scorerepro ncsn summary"
