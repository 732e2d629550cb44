"""dvc.yaml's stages, as DVC resolves them (foreach, matrix, ${...}), turned into Snakemake rule specifications.

dvc.yaml declares the DAG once; the Snakefile makes one rule per resolved stage from the `Rule`s returned by
`rules()`. What Snakemake needs differs from what DVC declares in four documented ways, all decided here:

* names: `ncsn_train@fig5_mnist` becomes the rule `ncsn_train__fig5_mnist` (`rule_name`; rule names must be
  identifiers); a stage without foreach/matrix keeps its name;
* a PERSISTENT output folder (persist: true: downloads, checkpoints a resumed training needs) is represented by the
  completion marker its stage writes last inside it (PERSISTENT_MARKERS), because Snakemake deletes a job's outputs
  before it runs the job; a killed job leaves no marker, so the next run reruns it and it resumes;
* a dependency on a folder that holds other stages' outputs (samples/ncsn/<exp>/select, results/classifier, ...)
  becomes those outputs, and one that lies inside another stage's output becomes that output;
* a stage's code file (workflow/code/<stage>.txt, written by stage code_deps) becomes the .py files of the stage's
  import closure (workflow/scripts/code_deps.py), and a dependency on source folders their .py files. Snakemake
  compares files by time, so the code file as an input would rerun every stage after any edit (the job of a rule
  whose input another job remakes runs too), and an ancient() code file is no way out: Snakemake then postpones
  the consumer to a later run. Hence no Snakemake edge to code_deps; the DVC interop knows it is upstream.

A non-persistent output without a file suffix is a folder (Snakemake's directory()).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import code_deps

DVC_FILE = "dvc.yaml"
PARAMS_FILE = "params.yaml"
LOG_DIR = "logs"
# stage kind (name before "@") -> the file its stage writes last inside its persistent output folder
PERSISTENT_MARKERS = {
    "download": "download.json",
    "inception_weights": "inception_weights.json",
    "ncsn_train": "outcome.json",
    "infusion_train": "outcome.json",
    "infusion_sweep": "sweep.json",
    "score_repr_train": "outcome.json",
    "score_repr_sweep": "completed.json",
    "ae_mcmc_train": "outcome.json",
    "wmvl_train": "outcome.json",
}


@dataclass(frozen=True)
class Out:
    path: str
    persist: bool


@dataclass(frozen=True)
class Stage:
    """One resolved dvc.yaml stage: what DVC runs and tracks."""
    name: str
    cmd: str
    deps: tuple[str, ...]
    params: tuple[str, ...]
    outs: tuple[Out, ...]

    @property
    def kind(self) -> str:
        return stage_kind(self.name)


@dataclass(frozen=True)
class Rule:
    """One Snakemake rule: the stage's command, its inputs and outputs in Snakemake's terms, its params keys."""
    name: str
    stage: str
    cmd: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    directories: frozenset[str]
    params: tuple[str, ...]
    log: str

    @property
    def kind(self) -> str:
        return stage_kind(self.stage)


class DagError(ValueError):
    """dvc.yaml declares something the Snakemake rules cannot represent."""


def stage_kind(stage: str) -> str:
    """ncsn_train for ncsn_train@fig5_mnist: the stage as dvc.yaml names it, before foreach/matrix."""
    return stage.split("@")[0]


def rule_name(stage: str) -> str:
    """The Snakemake rule of DVC stage `stage`: "@" becomes "__", any other character an identifier cannot hold
    becomes "_" (ncsn_select_sample@fig5_mnist-0 -> ncsn_select_sample__fig5_mnist_0)."""
    kind, _, instance = stage.partition("@")
    name = kind + (f"__{instance}" if instance else "")
    return re.sub(r"\W", "_", name)


def load_stages(root: str | Path = ".") -> list[Stage]:
    """The stages of root's dvc.yaml, resolved by DVC itself (a workspace without .dvc/ too). dvc.lock is not
    read: the DAG does not depend on it, and a damaged one must not stop the run that would record it anew."""
    from dvc.dependency.param import ParamsDependency
    from dvc.dvcfile import ProjectFile
    from dvc.repo import Repo
    from dvc.stage.loader import StageLoader

    stages = []
    with Repo(str(root), uninitialized=True) as repo:
        dvcfile = ProjectFile(repo, os.path.join(repo.root_dir, DVC_FILE))
        for s in StageLoader(dvcfile, dvcfile.contents).values():
            params = []
            for d in s.deps:
                if isinstance(d, ParamsDependency):
                    if PurePosixPath(d.def_path).name != PARAMS_FILE:
                        raise DagError(f"stage {s.name}: params from {d.def_path}; the rules read {PARAMS_FILE} only")
                    params += list(d.params)
            stages.append(Stage(
                name=s.name, cmd=s.cmd if isinstance(s.cmd, str) else " && ".join(s.cmd),
                deps=tuple(str(d.def_path) for d in s.deps if not isinstance(d, ParamsDependency)),
                params=tuple(params), outs=tuple(Out(str(o.def_path), bool(o.persist)) for o in s.outs)))
    return stages


def snakemake_output(stage: Stage, out: Out) -> str:
    """The path Snakemake declares for a DVC output: a persistent folder by its completion marker."""
    if not out.persist:
        return out.path
    if stage.kind not in PERSISTENT_MARKERS:
        raise DagError(f"stage {stage.name}: persistent output {out.path} needs its completion marker in "
                       "PERSISTENT_MARKERS (workflow/scripts/dvc_rules.py)")
    return f"{out.path}/{PERSISTENT_MARKERS[stage.kind]}"


def is_folder(out: Out) -> bool:
    return not out.persist and not PurePosixPath(out.path).suffix


def _under(path: str, folder: str) -> bool:
    return PurePosixPath(folder) in PurePosixPath(path).parents


class _Inputs:
    """Maps each DVC dependency to the files Snakemake takes as inputs (module docstring)."""

    def __init__(self, stages: list[Stage], code: dict[str, list[str]], root: Path):
        self.outputs = [(s, o) for s in stages for o in s.outs]
        self.code = code
        self.root = root

    def of(self, stage: Stage) -> tuple[str, ...]:
        files: list[str] = []
        for dep in stage.deps:
            files += [f for f in self._dep(stage, dep) if f not in files]
        return tuple(files)

    def _dep(self, stage: Stage, dep: str) -> list[str]:
        if _under(dep, code_deps.CODE_DIR):
            kind = PurePosixPath(dep).name.removesuffix(code_deps.CODE_SUFFIX)
            if kind not in self.code:
                raise DagError(f"stage {stage.name}: {dep} names no registered stage (pipeline/registry.py or a "
                               "paper's STAGES)")
            return self.code[kind]
        if dep == code_deps.CODE_PREFIX or _under(dep, code_deps.CODE_PREFIX):
            return code_deps.expand([dep], self.root)
        made = [snakemake_output(s, o) for s, o in self.outputs if o.path == dep or _under(o.path, dep)]
        if made:
            return made
        holder = [snakemake_output(s, o) for s, o in self.outputs if _under(dep, o.path)]
        return holder or [dep]


def rules(root: str | Path = ".", stages: list[Stage] | None = None) -> list[Rule]:
    """One Rule per resolved stage of root's dvc.yaml, in dvc.yaml's order."""
    root = Path(root)
    stages = load_stages(root) if stages is None else stages
    inputs = _Inputs(stages, code_deps.code_by_stage(root), root)
    out = []
    for s in stages:
        name = rule_name(s.name)
        out.append(Rule(
            name=name, stage=s.name, cmd=s.cmd, inputs=inputs.of(s),
            outputs=tuple(snakemake_output(s, o) for o in s.outs),
            directories=frozenset(o.path for o in s.outs if is_folder(o)),
            params=s.params, log=f"{LOG_DIR}/{name}.log"))
    _check_names(out)
    return out


def _check_names(made: list[Rule]) -> None:
    seen: dict[str, str] = {}
    for r in made:
        if r.name in seen or r.name == "all":
            raise DagError(f"stages {seen.get(r.name, 'all')} and {r.stage} both become Snakemake rule {r.name}: "
                           "rename one in params.yaml or dvc.yaml")
        if "__" in r.kind:
            raise DagError(f"stage {r.kind}: a stage name must not hold '__' (it separates the foreach key)")
        seen[r.name] = r.stage
