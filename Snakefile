# The Snakemake front end of the DAG that dvc.yaml declares: one rule per dvc.yaml stage as DVC resolves it
# (foreach, matrix and ${...} with this params.yaml), with the same command, inputs, outputs and params.
# workflow/scripts/dvc_rules.py turns a stage into a rule's specification (names, persistent folders, code);
# workflow/rules/common.smk holds the params check, resources, logs, the DVC interop hooks and the report's items.
#
#   snakemake --profile workflow/executors/local              # this machine
#   snakemake --profile workflow/executors/slurm              # a SLURM cluster (set the partition first)
#   snakemake --profile workflow/executors/cluster-generic    # any batch system with a submit command
#   snakemake --report report.html                           # after a run: every figure and table, one page
#
# params.yaml is the config; it is validated (JSON schema + scorerepro's cross-field checks) before any job runs.
# Either front end may run after the other without redoing finished work: see workflow/scripts/dvc_interop.py.
# A rule is named after its stage (ncsn_train@fig5_mnist -> ncsn_train__fig5_mnist) and logs to logs/<rule>.log.

configfile: "params.yaml"
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# Each value reaches its rule through the rule's directives, evaluated in this iteration (dvc_inputs makes a
# function per rule), so no rule sees a later iteration's `spec`. The shell command is the exception Snakemake
# makes: it evaluates `shell:` again when the job runs, so the stage's command travels in `params.cmd`.
for spec in RULES:

    rule:
        name:
            spec.name
        input:
            dvc_inputs(spec),
        output:
            [directory(path) if path in spec.directories else path for path in spec.outputs],
        params:
            dvc=params_values(spec.params),
            cmd=spec.cmd,
        log:
            spec.log,
        resources:
            **resources_of(spec),
        shell:
            SHELL_COMMAND


# Every output of every rule: what `dvc repro` builds. Figures and tables are marked for the report
# (`snakemake --report report.html`, report_item in workflow/rules/common.smk).
rule all:
    default_target: True
    input:
        [report_item(path) for path in every_output()],
