# Data, Inception weights, reference statistics, the MNIST classifier: the first five stages of dvc.yaml.
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
        dvc=dvc_params("seed", "datasets.{dataset}"),
    resources:
        **res("preprocess"),
    shell:
        "scorerepro preprocess {wildcards.dataset}"


# DVC: outs models/inception (persist: true: a manually placed weights file is kept) -> its marker.
rule inception_weights:
    input:
        dvc_inputs(INCEPTION_DONE, code("inception-weights")),
    output:
        INCEPTION_DONE,
    params:
        dvc=dvc_params("inception.allow_download"),
    resources:
        **res("inception_weights"),
    shell:
        "scorerepro inception-weights"


rule reference_stats:
    input:
        dvc_inputs("data/reference/{dataset}", "data/processed/{dataset}", INCEPTION_DONE,
                   code("reference-stats")),
    output:
        directory("data/reference/{dataset}"),
    params:
        dvc=dvc_params("inception.batch_size", "inception.reference_max_images"),
    resources:
        **res("reference_stats"),
    shell:
        "scorerepro reference-stats {wildcards.dataset}"


rule classifier:
    input:
        dvc_inputs("models/classifier/{dataset}", "data/processed/{dataset}", code("train-classifier")),
    output:
        directory("models/classifier/{dataset}"),
        "results/classifier/{dataset}/metrics.json",
    params:
        dvc=dvc_params("seed", "classifier"),
    resources:
        **res("classifier"),
    shell:
        "scorerepro train-classifier {wildcards.dataset}"
