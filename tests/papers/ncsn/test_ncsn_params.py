"""NCSN's params: validation names the key it refuses, the profiles hold the paper's settings, the schema knows every
dataset and describes every key."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from scorerepro.config import ParamsError, experiment, load_params, validate_params
from scorerepro.profiles import available_profiles, load_profile, profile_text

REPO = Path(__file__).resolve().parents[3]
PROFILES = REPO / "workflow" / "params"


@pytest.fixture(scope="module")
def quick() -> dict:
    return load_params(REPO / "params.yaml")


def _invalid(params: dict, mutate) -> str:
    p = copy.deepcopy(params)
    mutate(p)
    with pytest.raises(ParamsError) as e:
        validate_params(p)
    return str(e.value)


def test_params_yaml_is_the_quick_profile():
    assert (REPO / "params.yaml").read_text() == (PROFILES / "quick.yaml").read_text()


@pytest.mark.parametrize("profile", available_profiles(PROFILES))
def test_every_profile_is_valid(profile):
    load_profile(profile, PROFILES)


def test_unknown_dataset_names_the_key(quick):
    msg = _invalid(quick, lambda p: p["ncsn"]["experiments"]["fig5_mnist"].__setitem__("dataset", "imagenet"))
    assert "experiments.fig5_mnist.dataset" in msg and "imagenet" in msg


def test_undeclared_dataset_names_the_key(quick):
    def mutate(p):
        p["ncsn"]["experiments"]["fig5_mnist"]["dataset"] = "cifar10"
    msg = _invalid(quick, mutate)
    assert "experiments.fig5_mnist.dataset" in msg and "not declared" in msg


def test_sigma_order_names_both_keys(quick):
    def mutate(p):
        p["ncsn"]["experiments"]["fig5_mnist"]["noise"].update(sigma_begin=0.01, sigma_end=1.0)
    msg = _invalid(quick, mutate)
    assert "experiments.fig5_mnist.noise.sigma_begin" in msg and "sigma_end" in msg


def test_negative_count_names_the_key(quick):
    msg = _invalid(quick, lambda p: p["ncsn"]["experiments"]["fig5_mnist"]["eval"].__setitem__("n_samples", -5))
    assert "experiments.fig5_mnist.eval.n_samples" in msg


def test_missing_key_names_the_key(quick):
    msg = _invalid(quick, lambda p: p["ncsn"]["defaults"]["training"].pop("lr"))
    assert "ncsn.defaults.training.lr" in msg and "missing" in msg


def test_nan_in_params_is_refused_with_its_key(quick):
    msg = _invalid(quick, lambda p: p["ncsn"]["defaults"]["noise"].__setitem__("sigma_end", float("nan")))
    assert "ncsn.defaults.noise.sigma_end" in msg and "finite" in msg


def test_exponent_floats_as_dvc_writes_them_are_numbers(tmp_path, quick):
    """`dvc exp run -S ...step_lr=1e-5` writes `1e-05`, a string to PyYAML's YAML 1.1 rules."""
    text = (REPO / "params.yaml").read_text().replace("step_lr: 1.0e-04", "step_lr: 1e-05", 1)  # ncsn.defaults
    assert "step_lr: 1e-05" in text
    path = tmp_path / "params.yaml"
    path.write_text(text)
    params = load_params(path)
    lrs = [experiment(params, "ncsn", n)["sampling"]["step_lr"] for n in params["ncsn"]["experiments"]]
    assert 1e-05 in lrs and all(isinstance(v, float) for v in lrs)


def test_paper_profiles_use_the_official_settings():
    """ermongroup/ncsn configs/anneal.yml, read as facts."""
    for profile, ngf in (("paper_cifar10", 128), ("paper_celeba", 128), ("paper_mnist", 64)):
        p = load_profile(profile, PROFILES)
        main = experiment(p, "ncsn", next(n for n in p["ncsn"]["experiments"] if n.startswith("fig5_")))
        main.pop("name")
        assert main["model"] == {"arch": "refinenet", "ngf": ngf}
        assert main["noise"] == {"schedule": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10}
        t = main["training"]
        assert (t["batch_size"], t["n_iters"], t["snapshot_freq"], t["lr"], t["beta1"], t["anneal_power"]) == \
            (128, 200000, 5000, 0.001, 0.9, 2.0)
        assert t["flip"] == (profile != "paper_mnist") and t["dequantize"]
        assert (main["sampling"]["n_steps_each"], main["sampling"]["step_lr"]) == (100, 2e-5)
        if profile != "paper_mnist":
            assert main["select"] == {"n_samples": 1000, "metric": "fid_inception"}
            assert main["eval"]["n_samples"] == 50000
    base = experiment(load_profile("paper_mnist", PROFILES), "ncsn", "fig4_mnist_baseline")
    assert base["noise"]["num_levels"] == 1 and base["noise"]["sigma_begin"] == 0.01
    assert (base["sampling"]["n_steps_each"], base["sampling"]["step_lr"]) == (1000, 2e-5)


def test_gpu_profile_is_the_papers_mnist_network_in_one_short_lease(quick, tmp_path, monkeypatch):
    """The gpu_h100 profile: all five papers in one `dvc repro` sized for 9 minutes of one H100/H200
    (benchmarks/gpu_lease_repro.sh). NCSN's fig5_mnist at the official MNIST RefineNet (ngf 64, batch 128, 10
    geometric sigmas, the paper's sampler) with the fast training options that pay at its size (bf16,
    channels_last, fused Adam; no torch.compile: its 142 s first step pays only beyond ~2,700 iterations, nor for
    sampling: 61 s per process), selection over at least 2 checkpoints; offline (no Inception anywhere); every
    other paper's block is the quick profile's with a subset of its experiments, each as quick has it;
    installable with use-profile."""
    from scorerepro.profiles import use_profile

    gpu = load_profile("gpu_h100", PROFILES)
    assert gpu["profile"] == "gpu_h100"
    assert not gpu["inception"]["allow_download"]
    assert all(not d.get("inception_reference", True) for d in gpu["datasets"].values())
    for paper in ("ae_mcmc", "infusion", "score_repr", "wmvl"):
        g, q = gpu[paper], quick[paper]
        assert {k: v for k, v in g.items() if k not in ("experiments", "sweep")} == \
            {k: v for k, v in q.items() if k not in ("experiments", "sweep")}, paper
        assert all(q["experiments"][name] == e for name, e in g.get("experiments", {}).items()), paper
    assert gpu["ncsn"]["toy"] == quick["ncsn"]["toy"]
    assert list(gpu["ncsn"]["experiments"]) == ["fig5_mnist"]
    main = experiment(gpu, "ncsn", "fig5_mnist")
    t, s = main["training"], main["sampling"]
    assert main["dataset"] == "mnist_embedded"  # the full MNIST cannot be carried to the GPU machine
    assert (main["model"]["arch"], main["model"]["ngf"]) == ("refinenet", 64)
    assert (t["amp_bf16"], t["channels_last"], t["fused_adam"], t["compile"]) == (True, True, True, False)
    assert (s["amp_bf16"], s["channels_last"], s["compile"]) == (True, True, False)
    assert (t["batch_size"], t["lr"], t["beta1"], t["anneal_power"]) == (128, 0.001, 0.9, 2.0)
    assert main["noise"] == {"schedule": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10}
    assert (s["n_steps_each"], s["step_lr"]) == (100, 2e-5)
    assert not main["eval"]["inception"] and main["select"]["metric"] == "fid_mnist_classifier"
    assert -(-t["n_iters"] // t["snapshot_freq"]) >= 2
    monkeypatch.chdir(REPO)
    use_profile("gpu_h100", str(tmp_path / "params.yaml"))
    assert (tmp_path / "params.yaml").read_text() == profile_text("gpu_h100", PROFILES)


def test_schema_knows_every_registered_dataset():
    from scorerepro.data.registry import DATASET_NAMES

    schema = json.loads((REPO / "workflow" / "schemas" / "params.schema.json").read_text())
    assert schema["properties"]["datasets"]["propertyNames"]["enum"] == list(DATASET_NAMES)
    exp = schema["$defs"]["ncsn"]["properties"]["experiments"]["additionalProperties"]["properties"]
    assert exp["dataset"]["enum"] == list(DATASET_NAMES)


def test_every_schema_key_has_a_description():
    schema = json.loads((REPO / "workflow" / "schemas" / "params.schema.json").read_text())
    missing = []

    def walk(node, path):
        if not isinstance(node, dict):
            return
        for key, sub in node.get("properties", {}).items():
            if "description" not in sub:
                missing.append(f"{path}.{key}")
            walk(sub, f"{path}.{key}")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.*")
        for i, sub in enumerate(node.get("allOf", [])):
            walk(sub, path)

    walk(schema, "")
    for name, sub in schema["$defs"].items():
        walk(sub, f"$defs.{name}")
    assert not missing


def test_cuda_graphs_without_compile_is_refused_by_key(quick):
    msg = _invalid(quick, lambda p: p["ncsn"]["experiments"]["fig5_mnist"]["sampling"].update(cuda_graphs=True))
    assert "experiments.fig5_mnist.sampling.cuda_graphs" in msg and "compile: true" in msg
