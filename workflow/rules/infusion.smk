# Infusion training (seed 002: Bordes, Honari & Vincent 2017; src/scorerepro/papers/infusion): every `infusion_*`
# stage of dvc.yaml -- the main model's training, the reduced Table 4 sweep, the evaluation with its figures, and the
# paper's summary tables. Settings: params.yaml `infusion:`. Each rule mirrors the dvc.yaml stage of the same name.


INFUSION_DATASET = _required("infusion.model.dataset")
# DVC: the persistent model folders -> the marker each stage writes last (common.smk PERSISTENT_MARKERS)
INFUSION_MODEL_DONE = PERSISTENT_MARKERS["infusion_train"]
INFUSION_SWEEP_DONE = PERSISTENT_MARKERS["infusion_sweep"]

DEFAULT_RESOURCES.update({
    "infusion_train": dict(mem_mb=8000, runtime=2880, gpu=0),
    "infusion_sweep": dict(mem_mb=8000, runtime=2880, gpu=0),
    "infusion_evaluate": dict(mem_mb=16000, runtime=720, gpu=0),
    "infusion_summary": dict(mem_mb=2000, runtime=10, gpu=0),
})


rule infusion_train:
    input:
        dvc_inputs(INFUSION_MODEL_DONE, f"data/processed/{INFUSION_DATASET}", code("infusion_train")),
    output:
        INFUSION_MODEL_DONE,
        "results/infusion/train_loss.csv",
    params:
        dvc=dvc_params("threads", "seed", "device", "infusion.model", "infusion.eval.parzen_validation"),
    resources:
        **res("infusion_train"),
    shell:
        "scorerepro infusion train"


rule infusion_sweep:
    input:
        dvc_inputs(INFUSION_SWEEP_DONE, f"data/processed/{INFUSION_DATASET}", code("infusion_sweep")),
    output:
        INFUSION_SWEEP_DONE,
        "results/infusion/table4.csv",
        "results/infusion/table4_points.csv",
        "results/infusion/table4_heatmap.png",
    params:
        dvc=dvc_params("threads", "seed", "device", "infusion.model", "infusion.sweep", "infusion.eval.parzen_validation"),
    resources:
        **res("infusion_sweep"),
    shell:
        "scorerepro infusion sweep"


rule infusion_evaluate:
    input:
        dvc_inputs("samples/infusion/main", INFUSION_MODEL_DONE, f"data/processed/{INFUSION_DATASET}",
                   f"models/classifier/{INFUSION_DATASET}", code("infusion_evaluate")),
    output:
        directory("samples/infusion/main"),
        "results/infusion/metrics.json",
        directory("results/infusion/figures"),
    params:
        dvc=dvc_params("threads", "seed", "device", "infusion.model", "infusion.eval", "inception.batch_size"),
    resources:
        **res("infusion_evaluate"),
    shell:
        "scorerepro infusion evaluate"


rule infusion_summary:
    input:
        dvc_inputs("results/infusion/summary.csv", "results/infusion/metrics.json", "results/infusion/table4.csv",
                   "results/infusion/table4_points.csv", code("infusion_summary")),
    output:
        "results/infusion/summary.csv",
        "results/infusion/summary.md",
        "results/infusion/claims.csv",
        "results/infusion/leaderboard.csv",
    params:
        dvc=dvc_params("threads", "profile"),
    resources:
        **res("infusion_summary"),
    shell:
        "scorerepro infusion summary"
