"""How a pipeline stage is declared for the CLI: which function runs it and which positional arguments it takes.
A stage's subcommand has the stage's name (dvc.yaml `<paper>_<stage>`, or the bare name for shared stages). A paper's
other commands (tools that are no stage) are declared as a Command."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    module: str  # imported only when the stage runs, so `scorerepro --help` stays fast
    function: str
    help: str
    args: tuple[str, ...] = ()  # positional arguments, passed by name; `shard` is parsed as an int
    trains: bool = False  # it trains a model: takes --record-divergence (the DAG passes it)


@dataclass(frozen=True)
class Command:
    """A paper's command that is no stage of the DAG (a tool, e.g. `scorerepro ncsn model-summary`). Its module
    defines HELP, add_arguments(parser) and run(args) -> exit code, and imports nothing heavy at its top: the CLI
    imports it to build its parser."""

    module: str


SHARED_STAGES = {
    "download": Stage("scorerepro.stages.datasets", "download", "fetch a dataset source into data/raw/<dataset>",
                      ("dataset",)),
    "preprocess": Stage("scorerepro.stages.datasets", "preprocess",
                        "turn data/raw/<dataset> into verified uint8 tensor files", ("dataset",)),
    "inception_weights": Stage("scorerepro.stages.inception_weights", "run",
                               "resolve the FID Inception weights into models/inception"),
    "reference_stats": Stage("scorerepro.stages.reference_stats", "run",
                             "feature statistics of a dataset's training split", ("dataset",)),
    "classifier": Stage("scorerepro.stages.classifier", "run",
                        "train the MNIST classifier used for the classifier FID/IS", ("dataset",)),
    "claims": Stage("scorerepro.stages.claims_table", "run",
                    "results/claims.csv and .md: every paper's claims, measured, yes / no / untested"),
    "leaderboard": Stage("scorerepro.stages.leaderboard", "run",
                         "results/leaderboard.csv and .md: every generator scored by the same metrics"),
}
