# The Snakemake front end: the same DAG as dvc.yaml (the source of truth), one rule per DVC stage with the same name,
# shell command, inputs and outputs; tests/workflow/test_dag_agreement.py keeps the two in step.
#
#   snakemake --profile workflow/profiles/local              # this machine
#   snakemake --profile workflow/profiles/slurm              # a SLURM cluster (set the partition first)
#   snakemake --profile workflow/profiles/cluster-generic    # any batch system with a submit command
#   snakemake --report report.html                           # after a run: every figure and table, one page
#
# params.yaml is the config; it is validated (JSON schema + scorerepro's cross-field checks) before any job runs.
# Either front end may run after the other without redoing finished work: see workflow/scripts/dvc_interop.py.
# Rules: workflow/rules/common.smk (helpers), shared.smk (data, metrics, cross-paper tables), <paper>.smk.

configfile: "params.yaml"
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/shared.smk"
include: "workflow/rules/ncsn.smk"
include: "workflow/rules/infusion.smk"
include: "workflow/rules/score_repr.smk"
include: "workflow/rules/ae_mcmc.smk"
include: "workflow/rules/wmvl.smk"


# Every output of every rule, for every dataset, experiment, shard and toy study of params.yaml: what `dvc repro`
# builds (persistent output folders by their completion markers). Figures and tables are marked for the report
# (`snakemake --report report.html`, report_item in workflow/rules/common.smk).
rule all:
    default_target: True
    input:
        [report_item(f) for r in list(workflow.rules) if r.name != "all" for f in every_output(r)],
