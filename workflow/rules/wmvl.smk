# WMVL (seed 004: Wang et al. 2020; src/scorerepro/papers/wmvl): every `wmvl_*` stage of dvc.yaml. The synthetic
# experiments, the MNIST VAEs/WAEs (train, evaluate) and the summary. Settings: params.yaml `wmvl:`.
# Each rule mirrors the dvc.yaml stage of the same name (see common.smk for the mapping rules).

WMVL_EXPERIMENTS = list(_required("wmvl.experiments"))
# The same list as the `wmvl_synthetic` foreach in dvc.yaml.
WMVL_STUDIES = ["banana", "cosine", "circle", "sphere"]
WMVL_DATASET = _required("wmvl.defaults.dataset")
WMVL_MODEL_DONE = PERSISTENT_MARKERS["wmvl_train"]
PAPER_WILDCARDS["wmvl"]["study"] = WMVL_STUDIES


# DVC: outs results/wmvl/synthetic/<study> (a folder: metrics.json and the figure).
rule wmvl_synthetic:
    wildcard_constraints:
        study=_alternatives(WMVL_STUDIES),  # NCSN's global `study` constraint names its toy studies
    input:
        dvc_inputs("results/wmvl/synthetic/{study}", code("wmvl_synthetic")),
    output:
        directory("results/wmvl/synthetic/{study}"),
    params:
        dvc=dvc_params("threads", "seed", "wmvl.threads", "wmvl.synthetic.{study}"),
    resources:
        **res("wmvl_synthetic"),
    shell:
        "scorerepro wmvl synthetic {wildcards.study}"


# DVC: outs models/wmvl/<experiment> (persist: true, training resumes from its checkpoints) -> completed.json.
rule wmvl_train:
    input:
        dvc_inputs(WMVL_MODEL_DONE, f"data/processed/{WMVL_DATASET}", code("wmvl_train")),
    output:
        WMVL_MODEL_DONE,
    params:
        dvc=dvc_params("threads", "seed", "wmvl.threads", "wmvl.defaults.model", "wmvl.defaults.training",
                       "wmvl.experiments.{experiment}.model", "wmvl.experiments.{experiment}.training"),
    resources:
        **res("wmvl_train"),
    shell:
        "scorerepro wmvl train {wildcards.experiment}"


# DVC dep models/classifier (a folder of every dataset's outputs) -> each dataset's folder.
rule wmvl_evaluate:
    input:
        dvc_inputs("results/wmvl/models/{experiment}/samples.png", WMVL_MODEL_DONE, f"data/processed/{WMVL_DATASET}",
                   [f"models/classifier/{d}" for d in DATASETS], code("wmvl_evaluate")),
    output:
        "results/wmvl/models/{experiment}/samples.png",
        "results/wmvl/models/{experiment}/metrics.json",
    params:
        dvc=dvc_params("threads", "seed", "wmvl.threads", "wmvl.defaults.eval", "wmvl.experiments.{experiment}.eval"),
    resources:
        **res("wmvl_evaluate"),
    shell:
        "scorerepro wmvl evaluate {wildcards.experiment}"


# DVC deps results/wmvl/synthetic, results/wmvl/models -> the files in them.
rule wmvl_summary:
    input:
        dvc_inputs("results/wmvl/summary.csv",
                   [f"results/wmvl/synthetic/{s}" for s in WMVL_STUDIES],
                   [f"results/wmvl/models/{e}/{f}" for e in WMVL_EXPERIMENTS for f in ("samples.png", "metrics.json")],
                   code("wmvl_summary")),
    output:
        "results/wmvl/summary.csv",
        "results/wmvl/summary.md",
        "results/wmvl/claims.csv",
        "results/wmvl/leaderboard.csv",
    params:
        dvc=dvc_params("threads", "profile", "wmvl"),
    resources:
        **res("wmvl_summary"),
    shell:
        "scorerepro wmvl summary"
