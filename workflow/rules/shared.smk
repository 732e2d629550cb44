# The stages every paper shares: data, Inception weights, reference statistics and the MNIST classifier (the first
# five stages of dvc.yaml), and the cross-paper tables results/claims.* and results/leaderboard.* (its last two).
# Each rule mirrors the dvc.yaml stage of the same name (see common.smk for the mapping rules).


# DVC: outs data/raw/<dataset> (persist: true) -> its completion marker, written last by the stage.
rule download:
    input:
        dvc_inputs(RAW_DONE, code("download")),
    output:
        RAW_DONE,
    params:
        dvc=dvc_params("datasets.{dataset}"),
    resources:
        **res("download"),
    shell:
        "scorerepro download {wildcards.dataset}"


rule preprocess:
    input:
        dvc_inputs("data/processed/{dataset}", RAW_DONE, code("preprocess")),
    output:
        directory("data/processed/{dataset}"),
    params:
        dvc=dvc_params("threads", "seed", "datasets.{dataset}"),
    resources:
        **res("preprocess"),
    shell:
        "scorerepro preprocess {wildcards.dataset}"


# DVC: outs models/inception (persist: true: a manually placed weights file is kept) -> its marker.
rule inception_weights:
    input:
        dvc_inputs(INCEPTION_DONE, code("inception_weights")),
    output:
        INCEPTION_DONE,
    params:
        dvc=dvc_params("threads", "inception.allow_download"),
    resources:
        **res("inception_weights"),
    shell:
        "scorerepro inception_weights"


rule reference_stats:
    input:
        dvc_inputs("data/reference/{dataset}", "data/processed/{dataset}", INCEPTION_DONE,
                   code("reference_stats")),
    output:
        directory("data/reference/{dataset}"),
    params:
        dvc=dvc_params("threads", "datasets.{dataset}", "inception.batch_size", "inception.reference_max_images"),
    resources:
        **res("reference_stats"),
    shell:
        "scorerepro reference_stats {wildcards.dataset}"


rule classifier:
    input:
        dvc_inputs("models/classifier/{dataset}", "data/processed/{dataset}", code("classifier")),
    output:
        directory("models/classifier/{dataset}"),
        "results/classifier/{dataset}/metrics.json",
    params:
        dvc=dvc_params("threads", "seed", "classifier"),
    resources:
        **res("classifier"),
    shell:
        "scorerepro classifier {wildcards.dataset}"


# ---------------------------------------------------------------------------------------------------------------
# Tables across papers: each reads every paper's rows (results/<paper>/claims.csv, .../leaderboard.csv, written by
# the paper's summary stage), for every paper with a block in params.yaml (PAPERS in common.smk); dvc.yaml lists them by hand.
PAPER_CLAIMS_ROWS = [f"results/{paper}/claims.csv" for paper in PAPERS]
PAPER_LEADERBOARD_ROWS = [f"results/{paper}/leaderboard.csv" for paper in PAPERS]


rule claims:
    input:
        dvc_inputs("results/claims.csv", PAPER_CLAIMS_ROWS, code("claims")),
    output:
        "results/claims.csv",
        "results/claims.md",
    params:
        dvc=dvc_params("threads", "profile"),
    resources:
        **res("claims"),
    shell:
        "scorerepro claims"


# DVC dep results/classifier (every dataset's classifier metrics) -> the metrics files.
rule leaderboard:
    input:
        dvc_inputs("results/leaderboard.csv", PAPER_LEADERBOARD_ROWS,
                   [f"results/classifier/{d}/metrics.json" for d in DATASETS], code("leaderboard")),
    output:
        "results/leaderboard.csv",
        "results/leaderboard.md",
    params:
        dvc=dvc_params("threads", "profile"),
    resources:
        **res("leaderboard"),
    shell:
        "scorerepro leaderboard"
