# Shared by the Snakefile: the params check, the rules' specifications from dvc.yaml, their inputs, params,
# resources and shell command, the DVC interop hooks (workflow/scripts/dvc_interop.py) and the report's items.
#
# The rules are dvc.yaml's stages as DVC resolves them, one rule per stage (workflow/scripts/dvc_rules.py says how
# each DVC declaration becomes a Snakemake one). One difference deserves its place here, because getting it wrong
# destroys work: a PERSISTENT DVC output folder (persist: true) is NOT declared as a Snakemake output. Snakemake
# deletes a job's outputs before it runs the job, so `directory("models/ncsn/<experiment>")` would throw away the
# checkpoints a resumed training needs (and the `update()` flag is no better: it copies the whole folder to a
# backup first and, when the job fails, restores that backup over the newer checkpoints). The rule declares instead
# the completion marker the stage writes last inside that folder (dvc_rules.PERSISTENT_MARKERS); only the marker is
# deleted before a rerun, and downstream rules depend on the marker. A killed job leaves no marker, so the next run
# reruns it and it resumes.

import atexit
import fnmatch
import os
import re
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

sys.path.insert(0, os.path.join(workflow.basedir, "workflow", "scripts"))
import dvc_interop  # noqa: E402
import dvc_rules  # noqa: E402

from scorerepro.config import experiment as merged_experiment  # noqa: E402
from scorerepro.config import paper_blocks, read_params_yaml, validate_params  # noqa: E402
from scorerepro import reporting  # noqa: E402
from scorerepro.core.fileio import write_text as write_text_atomic  # noqa: E402

SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "params.schema.json")

# ---------------------------------------------------------------------------------------------------------------
# params.yaml is the config, and it is the file every `scorerepro` command reads: Snakemake's config must not
# differ from it (a `--config key=value` or `--configfile` would change what Snakemake thinks the jobs do, not
# what they do). Only the optional `resources` block below is Snakemake's own.
_on_disk = yaml.safe_load(open("params.yaml")) if os.path.exists("params.yaml") else None
_config_params = {k: v for k, v in config.items() if k != "resources"}
if _on_disk is not None and _config_params != {k: v for k, v in _on_disk.items() if k != "resources"}:
    raise WorkflowError(
        "the Snakemake config differs from params.yaml, which is what every scorerepro stage reads: edit "
        "params.yaml (or `scorerepro use-profile ...`) instead of passing --config/--configfile")
# Snakemake's reader (YAML 1.1) takes `1e-05`, as `dvc exp run -S` writes it, for a string; use the values every
# scorerepro stage reads instead.
if _on_disk is not None:
    _resources = config.get("resources")
    config.clear()
    config.update(read_params_yaml("params.yaml"))
    if _resources is not None:
        config["resources"] = _resources
    _config_params = {k: v for k, v in config.items() if k != "resources"}
# The schema, then scorerepro's cross-field checks (finite numbers, declared datasets, experiment names that are
# not reserved for other outputs such as results/ncsn/toy, and each paper's own checks).
validate(_config_params, SCHEMA, set_default=False)
validate_params(_config_params, SCHEMA, source="params.yaml (Snakemake config)")

# The papers params.yaml has a block for (the report's landing page has a table per paper).
PAPERS = paper_blocks(config)


# ---------------------------------------------------------------------------------------------------------------
# The rules' specifications: every stage of dvc.yaml, resolved by DVC with this params.yaml.
try:
    RULES = dvc_rules.rules(workflow.basedir)
except dvc_rules.DagError as _e:
    raise WorkflowError(f"dvc.yaml: {_e}")
except Exception as _e:  # DVC's own words: a ${...} params.yaml lacks, a malformed stage
    raise WorkflowError(f"dvc.yaml cannot be resolved with this params.yaml ({type(_e).__name__}: {_e})")
STAGE_OF_RULE = {r.name: r.stage for r in RULES}


def _lookup(key):
    value = config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise WorkflowError(f"params.yaml: {key} is missing (a params key of a dvc.yaml stage)")
        value = value[part]
    return value


def params_values(keys):
    """A rule's `params: dvc=...`: {key: params.yaml value} for the stage's DVC params, which Snakemake records
    and compares on the next run (its params rerun trigger sees exactly the changes DVC sees)."""
    return {k: _lookup(k) for k in keys}


# A rule's shell command: the stage's command (params.cmd), its output shown and kept in the rule's log.
SHELL_COMMAND = "({params.cmd}) 2>&1 | tee {log}"


# Python buffers its output into a pipe: unbuffered, a job's progress reaches the screen (and the log) as it comes.
# A prefix of our own replaces Snakemake's bash strict mode, hence restated: pipefail makes a failing stage fail
# its job despite the tee.
shell.prefix("set -euo pipefail; export PYTHONUNBUFFERED=1; ")

# ---------------------------------------------------------------------------------------------------------------
# DVC interop, step 1: which stages DVC holds up to date, and which of those have nothing but up-to-date stages
# upstream ("trusted": only their inputs may be ancient()); main process only, see dvc_interop.py.
# The workflow lock (dvc_interop.WorkflowLock) comes first: while `dvc repro` or another snakemake works here,
# this run refuses at once, naming it; once held, `dvc repro` refuses too, naming this run, until the run ends.
WORKFLOW_LOCK = dvc_interop.WorkflowLock(os.getcwd())
if workflow.is_main_process and dvc_interop.enabled() and dvc_interop.is_dvc_repo(os.getcwd()):
    try:
        WORKFLOW_LOCK.acquire()
    except dvc_interop.WorkflowBusy as _busy:
        raise WorkflowError(dvc_interop.busy_message(str(_busy)))
    except Exception as _e:  # a broken dvc.yaml: read_state below says so and plain Snakemake rules decide
        print(f"dvc_interop: workflow lock not taken ({type(_e).__name__}: {_e})", file=sys.stderr)
    atexit.register(WORKFLOW_LOCK.release)
    # Every snakemake that could own Snakemake's own locks holds the workflow lock; it is ours now, so those
    # locks were left by a run that was killed.
    if WORKFLOW_LOCK.held and dvc_interop.clear_dead_snakemake_locks(os.getcwd()):
        print("dvc_interop: removed the Snakemake locks a killed run left (no live front end holds this "
              "workspace)", file=sys.stderr)



if workflow.is_main_process:
    DVC_STATE = dvc_interop.read_state(os.getcwd(), repo=WORKFLOW_LOCK.repo)
    if DVC_STATE.unmakeable:
        raise WorkflowError("DVC calls these stages stale, and they cannot be remade: their inputs do not exist "
                            "and no stage makes them (a misspelt name in params.yaml?): " + "; ".join(
                                f"{stage}: {', '.join(deps)}" for stage, deps in sorted(DVC_STATE.unmakeable.items())))
    if DVC_STATE.asked:
        print(f"dvc_interop: {DVC_STATE.note}", file=sys.stderr)
    else:
        print(dvc_interop.fallback_message(DVC_STATE), file=sys.stderr)
    if DVC_STATE.up_to_date:
        _dropped = dvc_interop.forget_stale_metadata(workflow, DVC_STATE, [
            path
            for stage in sorted(DVC_STATE.up_to_date)
            for out in DVC_STATE.stages[stage]
            for path in [out] + [os.path.join(out, m) for m in set(dvc_rules.PERSISTENT_MARKERS.values())]
        ])
        if _dropped:
            print(f"dvc_interop: dropped Snakemake metadata of {len(_dropped)} output(s) that DVC rewrote, or that "
                  "Snakemake reran on DVC's word, since it recorded them", file=sys.stderr)
else:
    DVC_STATE = dvc_interop.DvcState(os.getcwd(), note="not the main Snakemake process")

_FORCED_CHECKED = []


def _distrust_forced():
    """--forcerun RULE|FILE, --force TARGET, --forceall: Snakemake reruns those jobs (and, by its own rule, what
    depends on them) whatever DVC says, so nothing downstream of them may keep ancient() inputs. The DAG settings
    exist only once the DAG is built, hence here (first input function call) and not at parse time."""
    if _FORCED_CHECKED or not DVC_STATE.trusted:
        return
    _FORCED_CHECKED.append(True)
    ds = getattr(workflow, "dag_settings", None)
    if ds is None:
        return
    if ds.forceall:
        forced = set(DVC_STATE.stages)
    else:
        named = set(ds.forcerun) | (set(ds.targets) if ds.forcetargets else set())
        forced = {STAGE_OF_RULE[n] for n in named if n in STAGE_OF_RULE}
        forced |= {s for s in DVC_STATE.stages if dvc_rules.stage_kind(s) in named}
        forced |= {DVC_STATE.stage_of(os.path.normpath(n)) for n in named} - {None}
    lost = DVC_STATE.distrust(forced)
    if lost:
        print(f"dvc_interop: forced reruns: mtimes decide for {len(lost)} stage(s) DVC holds up to date",
              file=sys.stderr)



def dvc_inputs(spec):
    """Input function of the rule `spec` (a dvc_rules.Rule). When DVC says its stage is up to date and so is every
    stage upstream of it, every input is wrapped in ancient(): its modification time (new after `dvc checkout`)
    cannot trigger a rerun. (Not when only the stage itself is: an upstream job will run, and then this one must
    run after it, which ancient() inputs would prevent.) When DVC says the stage changed, the interop stamp (newer
    than any output) is added: Snakemake reruns the job even where it has no metadata of its own (outputs made by
    `dvc repro`)."""

    def files(wildcards):
        _distrust_forced()
        if spec.stage in DVC_STATE.trusted:
            return [ancient(f) for f in spec.inputs]
        if spec.stage in DVC_STATE.changed:
            return [*spec.inputs, dvc_interop.STAMP]
        return list(spec.inputs)

    return files


# ---------------------------------------------------------------------------------------------------------------
# Resources: every rule declares mem_mb, runtime (minutes) and gpu (count; the SLURM executor turns `gpu` into
# sbatch --gpus, 0 means none), from the table below: the first row whose stage-name patterns match the stage's
# name (before "@") wins. Override with an optional `resources:` block in the config, keyed by stage name, pattern
# or rule name (`--config 'resources={ncsn_train: {runtime: 4320}}'`), or a profile's set-resources (rule names).


def _training_gpus(spec):
    """ncsn_train@<experiment>: the experiment's training.gpus (over ncsn.defaults) in params.yaml."""
    return merged_experiment(config, "ncsn", spec.stage.partition("@")[2])["training"]["gpus"]


RESOURCES = [  # stage-name patterns, mem_mb, runtime, gpu (a number, or a function of the rule)
    ("download inception_weights", 4000, 120, 0),
    ("preprocess", 16000, 120, 0),
    ("reference_stats", 16000, 120, 1),
    ("classifier", 8000, 120, 0),
    ("ncsn_train", 32000, 2880, _training_gpus),
    ("ncsn_select_sample ncsn_sample", 16000, 720, 1),
    ("ncsn_select ncsn_evaluate score_repr_evaluate", 16000, 240, 1),
    ("ncsn_neighbours", 16000, 120, 0),
    ("ncsn_inpaint ncsn_figures", 8000, 240, 1),
    ("ncsn_toy_manifold", 8000, 240, 0),
    ("ncsn_toy wmvl_synthetic", 4000, 120, 0),
    ("ncsn_sensitivity", 16000, 1440, 1),
    ("score_repr_train", 8000, 1440, 1),
    ("score_repr_sweep", 8000, 2880, 1),
    ("score_repr_toy", 2000, 30, 0),
    ("ae_mcmc_train infusion_evaluate", 16000, 720, 0),
    ("ae_mcmc_chains", 16000, 240, 0),
    ("ae_mcmc_figures", 4000, 30, 0),
    ("infusion_train infusion_sweep", 8000, 2880, 0),
    ("wmvl_train", 4000, 1440, 0),
    ("wmvl_evaluate", 4000, 240, 0),
    ("*", 2000, 10, 0),  # code_deps, the summaries, the tables across papers
]
_RESOURCE_OVERRIDES = config.get("resources") or {}


def _matches(key, spec):
    return key == spec.name or any(fnmatch.fnmatchcase(spec.kind, p) for p in key.split())


_unknown = sorted(k for k in _RESOURCE_OVERRIDES if not any(_matches(k, r) for r in RULES))
if _unknown:
    raise WorkflowError(f"config `resources`: {_unknown} match no stage or rule (stages: "
                        f"{', '.join(sorted({r.kind for r in RULES}))})")


def resources_of(spec):
    _, mem_mb, runtime, gpu = next(row for row in RESOURCES
                                   if any(fnmatch.fnmatchcase(spec.kind, p) for p in row[0].split()))
    values = dict(mem_mb=mem_mb, runtime=runtime, gpu=gpu(spec) if callable(gpu) else gpu)
    for key, override in _RESOURCE_OVERRIDES.items():
        if _matches(key, spec):
            values.update(override or {})
    return values


# A profile's placeholder left in place (workflow/executors/slurm: `slurm_partition=CHANGE_ME`): said loudly at
# parse time (a dry run shows what would be submitted), and refused before the first job is submitted.
RESOURCE_PLACEHOLDER = "CHANGE_ME"


def _placeholders_in_settings():
    rs = workflow.resource_settings
    found = [f"default-resources: {a}" for a in (getattr(rs.default_resources, "args", None) or [])
             if RESOURCE_PLACEHOLDER in str(a)]
    for rule_name, values in dict(rs.overwrite_resources or {}).items():
        for key, value in dict(values).items():
            raw = getattr(value, "raw", value)
            if RESOURCE_PLACEHOLDER in str(raw):
                found.append(f"set-resources: {rule_name}: {key}={raw}")
    return found


def _placeholders_in_jobs(jobs):
    return sorted({f"{key}={value}" for job in jobs for key, value in dict(job.resources).items()
                   if isinstance(value, str) and RESOURCE_PLACEHOLDER in value})


def placeholder_message(found):
    return (f"resources still hold the profile's placeholder {RESOURCE_PLACEHOLDER}: {'; '.join(found)}. Set your "
            "site's values (workflow/executors/slurm/config.yaml: slurm_partition, and slurm_account where your "
            "site needs one) or pass them, e.g. --default-resources slurm_partition=gpu")


if workflow.is_main_process and _placeholders_in_settings():
    print("\n".join(["", "!" * 100, f"WARNING: {placeholder_message(_placeholders_in_settings())}.",
                      "A run (not a dry run) refuses to submit any job until they are set.", "!" * 100, ""]),
          file=sys.stderr)


def _stale_but_skipped():
    """Stages DVC calls stale, in this run's DAG or upstream of it, whose jobs Snakemake would not run (a
    producer dropped from the DAG because its output exists, say): running the rest would label old results
    with new params."""
    if not DVC_STATE.asked:
        return []
    in_dag = set(dvc_interop.stages_for_outputs([str(f) for j in workflow.dag.jobs for f in j.output],
                                                DVC_STATE.stages))
    above = set().union(in_dag, *(dvc_interop._closure(s, DVC_STATE.upstream) for s in in_dag))
    running = set(dvc_interop.stages_for_outputs([str(f) for j in workflow.dag.needrun_jobs() for f in j.output],
                                                 DVC_STATE.stages))
    return sorted((DVC_STATE.changed & above) - running)


def _refresh_code_files():
    """Stage code_deps, run first and recorded, as `dvc repro` runs it first: Snakemake has no edge to it (see
    dvc_rules.py), yet every stage is downstream of it in DVC's graph, so a stale code_deps would keep every stage
    this run makes out of dvc.lock. Its command is this script call. The stages whose code changed rerun anyway:
    their .py inputs are newer, and DVC's stale code_deps left them untrusted (mtimes decide)."""
    if not WORKFLOW_LOCK.held or dvc_rules.code_deps.CODE_STAGE not in STAGE_OF_RULE.values():
        return
    if DVC_STATE.asked and dvc_rules.code_deps.CODE_STAGE not in DVC_STATE.changed:
        return
    changed = dvc_rules.code_deps.write_code_files(os.getcwd())
    print(f"dvc_interop: code_deps: {len(changed)} code file(s) rewritten", file=sys.stderr)
    try:
        dvc_interop.commit(os.getcwd(), [dvc_rules.code_deps.CODE_DIR], log=lambda m: print(m, file=sys.stderr))
    except dvc_interop.CommitFailed:
        return  # said; the closing commit will hold back what it cannot record
    DVC_STATE.changed.discard(dvc_rules.code_deps.CODE_STAGE)


onstart:
    _found = _placeholders_in_jobs(workflow.dag.needrun_jobs())
    if _found:
        raise WorkflowError(f"refusing to submit: {placeholder_message(_found)}")
    _refresh_code_files()
    _skipped = _stale_but_skipped()
    if _skipped:
        _hint = (f"; add {dvc_rules.code_deps.CODE_DIR} to the targets to rewrite the code files"
                 if dvc_rules.code_deps.CODE_STAGE in _skipped else "")
        raise WorkflowError(f"refusing to run: DVC calls {len(_skipped)} stage(s) stale that this run would not "
                            f"remake: {', '.join(_skipped)} (`dvc status` says why){_hint}")

# ---------------------------------------------------------------------------------------------------------------
# Snakemake's report: `snakemake --report report.html` (after a run) collects every figure (.png) and table (.csv)
# under results/ into one HTML page, one category per paper plus one for the tables across papers. The items are
# marked on the inputs of rule `all` (Snakefile; a report flag on an input counts as on an output), so the paper
# rule files need no report() of their own: a new paper's figures appear by their path, results/<paper>/...
# tests/workflow/test_e2e.py checks that the report holds every figure and the claims table.
REPORT_SUFFIXES = (".png", ".csv")
# results/ folders that are not a paper's: shared stages' results
SHARED_RESULTS = {"classifier"}
# Made at parse time for the report (git-ignored under .snakemake/): the landing page's tables, which
# workflow/report/workflow.rst includes, and one caption per pattern of workflow/report/captions.yaml. Docutils
# would read the CSVs' text as reStructuredText (a "|" is a substitution), hence HTML made by scorerepro.reporting.
REPORT_DIR = os.path.join(".snakemake", "report")
REPORT_CAPTIONS = reporting.load_captions(os.path.join(workflow.basedir, reporting.CAPTIONS))
# The report flags figures on rule all's inputs, so the rule in a caption's context is `all`: the run is named by
# the profile and by the folder in the figure's path (its experiment or study).
CAPTION_RUN_LINE = ("\n\n*From which run:* the ``{{ snakemake.config['profile'] }}`` profile of params.yaml; the "
                    "folder in the file's path names the experiment or study.\n")


def _write_if_changed(path, text):
    if not os.path.isfile(path) or open(path).read() != text:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_text_atomic(path, text)


def _prepare_report_files():
    tables = reporting.tables_fragment(Path("results"), tuple(PAPERS))
    _write_if_changed(os.path.join(REPORT_DIR, "tables.html"), tables)
    for i, (_, text) in enumerate(REPORT_CAPTIONS):
        _write_if_changed(os.path.join(REPORT_DIR, f"caption_{i}.rst"), reporting.rst_escape(text) + CAPTION_RUN_LINE)


if workflow.is_main_process:
    _prepare_report_files()


def _folder_caption(parts):
    """One caption for a folder output's figures (Snakemake gives a report item one): a line per file pattern of
    captions.yaml inside the folder; None when there is none."""
    rel = "/".join(parts[1:])
    lines = [f"- ``{os.path.basename(pat)}``: {reporting.rst_escape(text)}" for pat, text in REPORT_CAPTIONS
             if fnmatch.fnmatchcase(rel, os.path.dirname(pat))]
    if not lines:
        return None
    path = os.path.join(REPORT_DIR, "caption_" + re.sub(r"[^A-Za-z0-9]", "_", rel) + ".rst")
    if workflow.is_main_process:
        _write_if_changed(path, "\n\n".join(lines) + "\n" + CAPTION_RUN_LINE)  # Jinja trims a newline per tag
    return os.path.join(workflow.basedir, path)


def _caption(parts):
    """The caption file of the figure results/<parts...>, or None when captions.yaml has no pattern for it."""
    rel = "/".join(parts[1:])
    for i, (pattern, _) in enumerate(REPORT_CAPTIONS):
        if fnmatch.fnmatchcase(rel, pattern):
            return os.path.join(workflow.basedir, REPORT_DIR, f"caption_{i}.rst")
    return None


def report_item(path):
    """`path` (an output of some rule) flagged as a report item when it is a figure or table under results/:
    category = the paper (results/<paper>/...), "all papers" (results/claims.csv, leaderboard.csv) or "shared"
    (results/classifier/...); subcategory = the experiment or study folder (or "tables"). A folder output (NCSN's
    inpainting/) contributes its PNGs. Other paths are returned unchanged."""
    parts = str(path).split("/")
    if parts[0] != "results":
        return path
    folder = not os.path.splitext(parts[-1])[1]
    if not folder and not parts[-1].endswith(REPORT_SUFFIXES):
        return path
    if len(parts) == 2:
        category, sub = "all papers", "tables"
    elif parts[1] in SHARED_RESULTS:
        category, sub = "shared", "/".join(parts[1:-1])
    else:
        category = parts[1]
        sub = "/".join(parts[2:-1]) if len(parts) > 3 else "tables"
    if folder:
        return report(path, category=category, subcategory="/".join(parts[2:]), patterns=["{name}.png"],
                      caption=_folder_caption(parts))
    return report(path, category=category, subcategory=sub,
                  caption=_caption(parts) if parts[-1].endswith(".png") else None)



def every_output():
    """Every output of every rule: what `dvc repro` builds (persistent output folders by their markers). Not the
    code files: onstart brings them current before any job (_refresh_code_files). As a target of `all`, stage
    code_deps would also rerun whenever a .py file is newer than them (a fresh copy of the tree, say), at any
    point of the run, and rewrite them after the outputs made from that code (`snakemake code_deps` still runs it)."""
    return [path for spec in RULES if spec.stage != dvc_rules.code_deps.CODE_STAGE for path in spec.outputs]


# ---------------------------------------------------------------------------------------------------------------
# DVC interop, step 2: when the run ends, dvc.lock records the stages whose jobs ran in it, and only those (a
# failed run: those that finished). After --touch nothing ran, so nothing is recorded. A failed commit fails the
# run. Then the workflow lock is released (atexit too, for runs that end without a hook).
def _record_in_dvc():
    if not workflow.is_main_process:
        return
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if getattr(workflow, "touch", False):
        log("dvc_interop: --touch ran no job: dvc.lock not updated")
        return
    ran = [str(f) for job in workflow.dag.finished_jobs for f in job.output]
    dag = [str(f) for job in workflow.dag.jobs for f in job.output]
    try:
        dvc_interop.commit(os.getcwd(), ran, log=log, parsed_params_digest=DVC_STATE.params_digest,
                           dag_outputs=dag)
    except dvc_interop.CommitFailed as e:
        return str(e)
    finally:
        WORKFLOW_LOCK.release()


onsuccess:
    _failed = _record_in_dvc()
    if _failed:  # the jobs succeeded, but dvc.lock does not say so: not a success
        raise WorkflowError(_failed)


onerror:
    _record_in_dvc()
