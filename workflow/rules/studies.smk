# The toy studies, the sampling sensitivity grid and the summary tables.
# Each rule mirrors the dvc.yaml stage of the same name (see common.smk for the mapping rules).

TOY_OUTPUTS = ["results/toy/fig1_manifold/fig1_manifold.png", "results/toy/fig1_manifold/metrics.json"] + [
    f"results/toy/{study}/{name}" for study in TOY_STUDIES for name in (f"{study}.png", "metrics.json")
]
SENSITIVITY_OUTPUTS = ["results/sensitivity/fig8_sensitivity.png", "results/sensitivity/metrics.json"]


rule toy_manifold:
    input:
        dvc_inputs(TOY_OUTPUTS[0], f"data/processed/{TOY_MANIFOLD_DATASET}", code("toy")),
    output:
        TOY_OUTPUTS[0],
        TOY_OUTPUTS[1],
    params:
        dvc=dvc_params("seed", "device", "toy.fig1_manifold"),
    resources:
        **res("toy_manifold"),
    shell:
        "scorerepro toy fig1_manifold"


rule toy:
    input:
        dvc_inputs("results/toy/{study}/{study}.png", code("toy")),
    output:
        "results/toy/{study}/{study}.png",
        "results/toy/{study}/metrics.json",
    params:
        dvc=dvc_params("seed", "device", "toy.{study}"),
    resources:
        **res("toy"),
    shell:
        "scorerepro toy {wildcards.study}"


# DVC deps data/reference, models/classifier (folders of every dataset's outputs) -> each dataset's folder.
rule sensitivity:
    input:
        dvc_inputs(SENSITIVITY_OUTPUTS[0],
                   MODEL_DONE.format(experiment=SENSITIVITY_EXPERIMENT),
                   f"results/{SENSITIVITY_EXPERIMENT}/selected.json",
                   [f"data/reference/{d}" for d in DATASETS],
                   [f"models/classifier/{d}" for d in DATASETS],
                   INCEPTION_DONE, code("sensitivity")),
    output:
        SENSITIVITY_OUTPUTS,
    params:
        dvc=dvc_params("seed", "sensitivity"),
    resources:
        **res("sensitivity"),
    shell:
        "scorerepro sensitivity"


rule summary_rows:
    input:
        dvc_inputs("data/summary_rows/{experiment}.json", "results/{experiment}/metrics.json",
                   "results/{experiment}/selected.json", code("summary")),
    output:
        "data/summary_rows/{experiment}.json",
    params:
        dvc=dvc_params("experiments.{experiment}"),
    resources:
        **res("summary_rows"),
    shell:
        "scorerepro summary --rows {wildcards.experiment}"


SUMMARY_OUTPUTS = ["results/summary.csv", "results/summary.md", "results/claims.csv", "results/claims.md"]


# DVC deps data/summary_rows, results/toy, results/sensitivity, results/classifier -> the files in them.
rule summary:
    input:
        dvc_inputs(SUMMARY_OUTPUTS[0],
                   [f"data/summary_rows/{e}.json" for e in EXPERIMENTS],
                   TOY_OUTPUTS,
                   SENSITIVITY_OUTPUTS,
                   [f"results/classifier/{d}/metrics.json" for d in DATASETS], code("summary")),
    output:
        SUMMARY_OUTPUTS,
    params:
        dvc=dvc_params("profile"),
    resources:
        **res("summary"),
    shell:
        "scorerepro summary"
