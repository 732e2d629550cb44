# ae_mcmc (seed 001: Creswell, Arulkumaran & Bharath 2017; src/scorerepro/papers/ae_mcmc): every `ae_mcmc_*` stage
# of dvc.yaml. Four autoencoders trained, sampled by the MCMC chain and measured; figures; the paper's summary,
# claims and leaderboard rows. Settings: params.yaml `ae_mcmc:`. Each rule mirrors the dvc.yaml stage of the same
# name (see common.smk for the mapping rules).


AE_MCMC_MODELS = list(_required("ae_mcmc.experiments"))
AE_MCMC_DATASET = _required("ae_mcmc.defaults.dataset")
# models/ae_mcmc/<experiment> is a persistent DVC output (training resumes from it): Snakemake declares the
# completion marker the training writes last (PERSISTENT_MARKERS, common.smk).
AE_MCMC_MODEL_DONE = PERSISTENT_MARKERS["ae_mcmc_train"]
AE_MCMC_CHAINS = [f"results/ae_mcmc/{e}/chains.json" for e in AE_MCMC_MODELS]
DEFAULT_RESOURCES.update({
    "ae_mcmc_train": dict(mem_mb=16000, runtime=720, gpu=0),
    "ae_mcmc_chains": dict(mem_mb=16000, runtime=240, gpu=0),
    "ae_mcmc_figures": dict(mem_mb=4000, runtime=30, gpu=0),
    "ae_mcmc_summary": dict(mem_mb=2000, runtime=10, gpu=0),
})


rule ae_mcmc_train:
    input:
        dvc_inputs(AE_MCMC_MODEL_DONE, f"data/processed/{AE_MCMC_DATASET}", code("ae_mcmc_train")),
    output:
        AE_MCMC_MODEL_DONE,
        "results/ae_mcmc/{experiment}/loss.csv",
    params:
        dvc=dvc_params("threads", "seed", "device", "ae_mcmc.defaults", "ae_mcmc.experiments.{experiment}"),
    resources:
        **res("ae_mcmc_train"),
    shell:
        "scorerepro ae_mcmc train {wildcards.experiment}"


# DVC dep models/classifier (every dataset's classifier folder) -> each dataset's folder.
rule ae_mcmc_chains:
    input:
        dvc_inputs("samples/ae_mcmc/{experiment}/chains.pt", AE_MCMC_MODEL_DONE, f"data/processed/{AE_MCMC_DATASET}",
                   [f"models/classifier/{d}" for d in DATASETS], code("ae_mcmc_chains")),
    output:
        "samples/ae_mcmc/{experiment}/chains.pt",
        "results/ae_mcmc/{experiment}/chains.json",
    params:
        dvc=dvc_params("threads", "seed", "device", "ae_mcmc.defaults", "ae_mcmc.experiments.{experiment}", "ae_mcmc.chains"),
    resources:
        **res("ae_mcmc_chains"),
    shell:
        "scorerepro ae_mcmc chains {wildcards.experiment}"


# DVC dep samples/ae_mcmc -> every model's chains.pt.
rule ae_mcmc_figures:
    input:
        dvc_inputs("results/ae_mcmc/fig4_samples.png", [f"samples/ae_mcmc/{e}/chains.pt" for e in AE_MCMC_MODELS],
                   AE_MCMC_CHAINS, code("ae_mcmc_figures")),
    output:
        "results/ae_mcmc/fig4_samples.png",
        "results/ae_mcmc/fig2_interpolation.png",
        "results/ae_mcmc/chain_measures.png",
    params:
        dvc=dvc_params("threads", "ae_mcmc.experiments", "ae_mcmc.chains"),
    resources:
        **res("ae_mcmc_figures"),
    shell:
        "scorerepro ae_mcmc figures"


rule ae_mcmc_summary:
    input:
        dvc_inputs("results/ae_mcmc/summary.csv", AE_MCMC_CHAINS, code("ae_mcmc_summary")),
    output:
        "results/ae_mcmc/summary.csv",
        "results/ae_mcmc/summary.md",
        "results/ae_mcmc/claims.csv",
        "results/ae_mcmc/leaderboard.csv",
    params:
        dvc=dvc_params("threads", "profile", "ae_mcmc"),
    resources:
        **res("ae_mcmc_summary"),
    shell:
        "scorerepro ae_mcmc summary"
