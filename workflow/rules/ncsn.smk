# The NCSN experiments: training, checkpoint selection, sampling, evaluation, neighbours, inpainting, figures.
# Each rule mirrors the dvc.yaml stage of the same name (see common.smk for the mapping rules).


def processed_of(wildcards):
    return f"data/processed/{dataset_of(wildcards.experiment)}"


def reference_of(wildcards):
    return f"data/reference/{dataset_of(wildcards.experiment)}"


def classifier_of(wildcards):
    return f"models/classifier/{dataset_of(wildcards.experiment)}"


def shards_of(kind):
    """DVC dep samples/<experiment>/<kind> (a folder of other stages' outputs) -> the shard files."""
    return lambda wildcards: [f"samples/{wildcards.experiment}/{kind}/shard_{s}.pt" for s in SHARDS]


# DVC: outs models/<experiment> (persist: true, training resumes from its checkpoints) -> completed.json,
# which the training writes last; only that marker is removed before a rerun.
rule train:
    input:
        dvc_inputs(MODEL_DONE, processed_of, code("train")),
    output:
        MODEL_DONE,
        "results/{experiment}/fig12_loss.csv",
    params:
        dvc=dvc_params("seed", "device", "experiments.{experiment}.model", "experiments.{experiment}.noise",
                       "experiments.{experiment}.training"),
    resources:
        **res("train"),
    shell:
        "scorerepro train {wildcards.experiment}"


rule select_sample:
    input:
        dvc_inputs("samples/{experiment}/select/shard_{shard}.pt", MODEL_DONE, code("select")),
    output:
        "samples/{experiment}/select/shard_{shard}.pt",
    params:
        dvc=dvc_params("seed", "sharding", "experiments.{experiment}.sampling", "experiments.{experiment}.select"),
    resources:
        **res("select_sample"),
    shell:
        "scorerepro select {wildcards.experiment} --shard {wildcards.shard}"


rule select:
    input:
        dvc_inputs("results/{experiment}/selected.json", shards_of("select"), reference_of, classifier_of,
                   INCEPTION_DONE, code("select")),
    output:
        "results/{experiment}/selected.json",
        "results/{experiment}/fig13_fid_by_iteration.png",
        "results/{experiment}/fig13_fid_by_iteration.csv",
    params:
        dvc=dvc_params("experiments.{experiment}.select"),
    resources:
        **res("select"),
    shell:
        "scorerepro select {wildcards.experiment} --merge"


rule sample:
    input:
        dvc_inputs("samples/{experiment}/eval/shard_{shard}.pt", MODEL_DONE, "results/{experiment}/selected.json",
                   code("sample")),
    output:
        "samples/{experiment}/eval/shard_{shard}.pt",
    params:
        dvc=dvc_params("seed", "sharding", "experiments.{experiment}.sampling", "experiments.{experiment}.eval"),
    resources:
        **res("sample"),
    shell:
        "scorerepro sample {wildcards.experiment} --shard {wildcards.shard}"


rule evaluate:
    input:
        dvc_inputs("results/{experiment}/metrics.json", shards_of("eval"), reference_of, classifier_of,
                   INCEPTION_DONE, code("evaluate")),
    output:
        "results/{experiment}/metrics.json",
    params:
        dvc=dvc_params("inception.batch_size", "experiments.{experiment}.eval"),
    resources:
        **res("evaluate"),
    shell:
        "scorerepro evaluate {wildcards.experiment}"


rule neighbours:
    input:
        dvc_inputs("results/{experiment}/fig6_neighbours.png", shards_of("eval"), processed_of, reference_of,
                   INCEPTION_DONE, code("neighbours")),
    output:
        "results/{experiment}/fig6_neighbours.png",
        "results/{experiment}/neighbours.json",
    params:
        dvc=dvc_params("experiments.{experiment}.neighbours"),
    resources:
        **res("neighbours"),
    shell:
        "scorerepro neighbours {wildcards.experiment}"


rule inpaint:
    input:
        dvc_inputs("results/{experiment}/inpainting", MODEL_DONE, "results/{experiment}/selected.json",
                   processed_of, code("inpaint")),
    output:
        directory("results/{experiment}/inpainting"),
    params:
        dvc=dvc_params("seed", "experiments.{experiment}.inpaint"),
    resources:
        **res("inpaint"),
    shell:
        "scorerepro inpaint {wildcards.experiment}"


rule figures:
    input:
        dvc_inputs("results/{experiment}/fig5_samples.png", MODEL_DONE, "results/{experiment}/selected.json",
                   shards_of("eval"), "results/{experiment}/fig12_loss.csv", code("figures")),
    output:
        "results/{experiment}/fig5_samples.png",
        "results/{experiment}/fig5_intermediate.png",
        "results/{experiment}/fig12_loss.png",
    params:
        dvc=dvc_params("seed", "experiments.{experiment}.sampling"),
    resources:
        **res("figures"),
    shell:
        "scorerepro figures {wildcards.experiment}"
