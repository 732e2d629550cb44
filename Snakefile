# The Snakemake front end of the NCSN study: the same DAG as dvc.yaml (the source of truth), one rule per DVC
# stage with the same name, shell command, inputs and outputs; tests/test_dag_agreement.py keeps the two in step.
#
#   snakemake --profile workflow/profiles/local              # this machine
#   snakemake --profile workflow/profiles/slurm              # a SLURM cluster (set the partition first)
#   snakemake --profile workflow/profiles/cluster-generic    # any batch system with a submit command
#
# params.yaml is the config; it is validated (JSON schema + scorerepro's cross-field checks) before any job runs.
# Either front end may run after the other without redoing finished work: see workflow/scripts/dvc_interop.py.

configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/ncsn.smk"
include: "workflow/rules/studies.smk"


# Every output of every stage, so that `snakemake` (target `all`) builds what `dvc repro` builds.
rule all:
    default_target: True
    input:
        SUMMARY_OUTPUTS,
        expand("results/{experiment}/{name}", experiment=EXPERIMENTS,
               name=["metrics.json", "selected.json", "fig13_fid_by_iteration.png", "fig13_fid_by_iteration.csv",
                     "fig6_neighbours.png", "neighbours.json", "inpainting", "fig5_samples.png",
                     "fig5_intermediate.png", "fig12_loss.png", "fig12_loss.csv"]),
        expand("data/summary_rows/{experiment}.json", experiment=EXPERIMENTS),
        expand("results/classifier/{dataset}/metrics.json", dataset=DATASETS),
        TOY_OUTPUTS,
        SENSITIVITY_OUTPUTS,
