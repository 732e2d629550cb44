"""Pipeline stages: each module's `run(params, ...)` is one `scorerepro` subcommand and one DVC stage / Snakemake
rule. Stages read only validated params and their declared inputs, and write their declared outputs atomically."""
