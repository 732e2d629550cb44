"""Pipeline pieces that need no stage run: params validation, profiles, sharded sampling, the CLI's tools."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from scorerepro.config import ParamsError, experiment, load_params, validate_params
from scorerepro.papers.ncsn.stages.batched_sampling import sample_batches, sampling_score_net
from scorerepro.papers.ncsn.experiment import model_spec
from scorerepro.pipeline.common import shard_range
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


def test_cli_stops_before_any_work_on_bad_params(tmp_path, quick):
    bad = copy.deepcopy(quick)
    bad["ncsn"]["experiments"]["fig5_mnist"]["training"]["n_iters"] = 0
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(bad))
    res = subprocess.run([sys.executable, "-m", "scorerepro.cli", "ncsn", "train", "fig5_mnist", "--params", str(path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "experiments.fig5_mnist.training.n_iters" in res.stderr
    assert not (tmp_path / "models").exists()


def test_paper_profiles_use_the_official_settings():
    """FACTS.md / ermongroup/ncsn configs/anneal.yml, read as facts."""
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


def test_use_profile_copies_a_valid_profile_and_refuses_unknown(tmp_path, monkeypatch):
    from scorerepro.profiles import use_profile

    monkeypatch.chdir(REPO)
    target = tmp_path / "params.yaml"
    use_profile("paper_cifar10", str(target))
    assert target.read_text() == profile_text("paper_cifar10", PROFILES)
    with pytest.raises(ValueError, match="available"):
        use_profile("no_such_profile", str(target))


def test_shards_partition_the_samples():
    for n in (1, 7, 100, 1001):
        for shards in ([0], [0, 1], [0, 1, 2], list(range(8))):
            ranges = [shard_range(n, shards, s) for s in shards]
            assert ranges[0][0] == 0 and ranges[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    with pytest.raises(ValueError, match="shard 5"):
        shard_range(10, [0, 1], 5)


class _LinearScore(torch.nn.Module):
    """A score net whose output depends on the labels, so level bookkeeping matters."""

    def forward(self, x, labels):
        return -(x - 0.5) * (1.0 + labels.view(-1, *[1] * (x.dim() - 1)).float())


def test_sharded_sampling_equals_one_job(quick):
    exp = experiment(quick, "ncsn", "fig5_mnist")
    exp["sampling"].update(n_steps_each=3, batch_size=4)
    net, dev = _LinearScore(), torch.device("cpu")
    whole, _ = sample_batches(net, exp, 0, 10, seed=3, device=dev, progress=False)
    parts = [sample_batches(net, exp, *shard_range(10, [0, 1, 2], s), seed=3, device=dev, progress=False)[0]
             for s in (0, 1, 2)]
    assert torch.equal(torch.cat(parts), whole)
    # The batch size does not change which random numbers sample j gets only when batches align; a different
    # seed must change the samples.
    other, _ = sample_batches(net, exp, 0, 10, seed=4, device=dev, progress=False)
    assert not torch.equal(other, whole)
    assert whole.min() >= 0 and whole.max() <= 1


def _sha256(t: torch.Tensor) -> str:
    import hashlib

    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


def test_a_sane_chain_gives_the_samples_it_gave_before_the_divergence_bounds():
    """sample_batches now holds every chain to image_chain_bounds. The check only reads the
    state, so a sane chain's samples, snapshots and inpainted pixels are bit-identical to the code before it: the
    hashes below were made by that code (commit 2064acd) on the CPU, where these element-wise updates and the
    generator's numbers are the same on every machine."""
    from scorerepro.papers.ncsn.experiment import sigmas_of
    from scorerepro.papers.ncsn.sampling import annealed_inpaint, right_half_mask
    from scorerepro.papers.ncsn.stages.batched_sampling import image_chain_bounds

    exp = experiment(load_params(REPO / "tests" / "fixtures" / "tiny_params.yaml"), "ncsn", "tiny_ncsn")
    exp["sampling"].update(n_steps_each=4, batch_size=4)
    sig = sigmas_of(exp)

    class Net(torch.nn.Module):
        def forward(self, x, labels):
            return -(x - 0.5) / sig[labels].view(-1, 1, 1, 1) ** 2

    samples, snaps = sample_batches(Net(), exp, 0, 10, seed=3, device=torch.device("cpu"), snapshots=True,
                                    progress=False)
    assert _sha256(samples) == "49e81247ef3aa58b04a44726274e5b0759735556e9ddd6d36325925d55239660"
    assert _sha256(snaps) == "20e4bbef131e5db37275522a58817892f780296559b30d6a1c9961943033d415"
    ref = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    res = annealed_inpaint(Net(), ref, right_half_mask(ref.shape), sig, n_steps_each=4, step_lr=2e-5,
                           generator=torch.Generator().manual_seed(5), clamp_output=True,
                           bounds=image_chain_bounds(sig))
    assert _sha256(res.samples) == "56e0b1c631e023f7ade9f173b469d87758d8760eabc098368b66b3b5bc35a95c"


def test_a_refinenet_chain_is_the_same_with_and_without_the_bounds(quick):
    from scorerepro.papers.ncsn.experiment import sigmas_of
    from scorerepro.papers.ncsn.nets import build_model
    from scorerepro.papers.ncsn.sampling import annealed_langevin

    exp = experiment(quick, "ncsn", "fig5_mnist")
    exp["sampling"].update(n_steps_each=2, batch_size=3)
    torch.manual_seed(0)
    net = build_model({**model_spec(exp), "ngf": 4}).eval()
    bounded, _ = sample_batches(net, exp, 0, 3, seed=5, device=torch.device("cpu"), progress=False)
    g = torch.Generator().manual_seed(5 * 1_000_003)  # batch 0 of seed 5, as sample_batches seeds it
    x0 = torch.rand((3, 1, 28, 28), generator=g)
    with torch.no_grad():
        free = annealed_langevin(net, x0, sigmas_of(exp), 2, exp["sampling"]["step_lr"], generator=g,
                                 clamp_output=True).samples
    assert torch.equal(bounded, free)


def test_channels_last_sampling_gives_the_same_samples(quick):
    from scorerepro.papers.ncsn.nets import build_model

    exp = experiment(quick, "ncsn", "fig5_mnist")
    exp["sampling"].update(n_steps_each=2, batch_size=3)
    torch.manual_seed(0)
    net = build_model({**model_spec(exp), "ngf": 4}).eval()
    dev = torch.device("cpu")
    plain, _ = sample_batches(net, exp, 0, 3, seed=5, device=dev, progress=False)
    exp["sampling"]["channels_last"] = True
    nhwc, _ = sample_batches(net, exp, 0, 3, seed=5, device=dev, progress=False)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in net.parameters() if p.dim() == 4)
    # Same random numbers, same update; only the convolution algorithms may round differently.
    torch.testing.assert_close(nhwc, plain, atol=1e-5, rtol=0)


@pytest.mark.parametrize("options, mode", [({"compile": True}, None),
                                           ({"compile": True, "cuda_graphs": True}, "reduce-overhead")])
def test_sampling_compile_options_reach_torch_compile(monkeypatch, options, mode):
    calls = []

    def fake_compile(model, **kwargs):
        calls.append(kwargs)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    net = _LinearScore()
    assert sampling_score_net(net, {"amp_bf16": False, **options}, torch.device("cuda")) is net
    assert calls == [{"dynamic": False, "mode": mode}]
    # CUDA graphs are a CUDA feature: on the CPU the compiled network runs in the default mode.
    sampling_score_net(net, {"amp_bf16": False, **options}, torch.device("cpu"))
    assert calls[-1] == {"dynamic": False, "mode": None}


def test_cuda_graphs_without_compile_is_refused(quick):
    with pytest.raises(ParamsError, match="cuda_graphs"):
        sampling_score_net(_LinearScore(), {"cuda_graphs": True}, torch.device("cpu"))
    msg = _invalid(quick, lambda p: p["ncsn"]["experiments"]["fig5_mnist"]["sampling"].update(cuda_graphs=True))
    assert "experiments.fig5_mnist.sampling.cuda_graphs" in msg and "compile: true" in msg


def test_model_spec_fills_dataset_and_levels(quick):
    spec = model_spec(experiment(quick, "ncsn", "fig5_mnist"))
    assert (spec["channels"], spec["image_size"], spec["num_classes"]) == (1, 28, 10)
    base = model_spec(experiment(quick, "ncsn", "fig4_mnist_baseline"))
    assert base["arch"] == "refinenet_baseline" and "num_classes" not in base


def test_model_summary_cli_prints_official_budget():
    res = subprocess.run([sys.executable, "-m", "scorerepro.cli", "ncsn", "model-summary", "refinenet_mnist"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    # ermongroup/ncsn CondRefineNetDilated, MNIST (ngf 64): parameter count tallied in tests/test_models.py.
    assert out["params"] == 7_638_657
    assert 3.7e9 < out["flops_per_image"] < 3.9e9


def test_model_summary_at_the_top_level_says_where_it_moved(capsys):
    from scorerepro.cli import main

    assert main(["model-summary", "refinenet_mnist"]) == 2
    assert "run `scorerepro ncsn model-summary ...`" in capsys.readouterr().err


def test_exponent_floats_as_dvc_writes_them_are_numbers(tmp_path, quick):
    """`dvc exp run -S ...step_lr=1e-5` writes `1e-05`, a string to PyYAML's YAML 1.1 rules."""
    text = (REPO / "params.yaml").read_text().replace("step_lr: 1.0e-04", "step_lr: 1e-05", 1)  # ncsn.defaults
    assert "step_lr: 1e-05" in text
    path = tmp_path / "params.yaml"
    path.write_text(text)
    params = load_params(path)
    lrs = [experiment(params, "ncsn", n)["sampling"]["step_lr"] for n in params["ncsn"]["experiments"]]
    assert 1e-05 in lrs and all(isinstance(v, float) for v in lrs)


@pytest.mark.parametrize("dataset, flip", [("cifar10", True), ("mnist_embedded", False)])
def test_neighbours_stage_searches_mirrored_samples_for_flip_trained_datasets(tmp_path, monkeypatch, quick,
                                                                              dataset, flip):
    from scorerepro.papers.ncsn.stages import neighbours as stage
    from scorerepro.pipeline.paths import reference_dir
    from scorerepro.pipeline.scoring import INCEPTION_FEATURES

    monkeypatch.chdir(tmp_path)
    train = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    samples = train[:6].flip(-1).clone()  # each sample is a training image, mirrored
    monkeypatch.setattr(stage, "load_sample_shards", lambda folder, *checks: samples)
    monkeypatch.setattr(stage, "eval_settings", lambda params, exp: {})  # no selected.json here
    monkeypatch.setattr(stage, "load_train_images", lambda ds: train)
    # Stand-in for the Inception: pixels as features, so a mirrored copy is at distance 0 only after the flip.
    monkeypatch.setattr(stage, "inception_features", lambda imgs, batch, device: {"pool3": imgs.float().flatten(1)})
    reference_dir(dataset).mkdir(parents=True)
    torch.save(train.float().flatten(1), reference_dir(dataset) / INCEPTION_FEATURES)
    params = copy.deepcopy(quick)
    exp = params["ncsn"]["experiments"]["fig5_mnist"]
    exp["dataset"], exp["neighbours"] = dataset, {"n_samples": 6, "k": 3}
    params["device"] = "cpu"
    stage.run(params, "fig5_mnist")
    record = json.loads((tmp_path / "results" / "ncsn" / "fig5_mnist" / "neighbours.json").read_text())
    inc = record["inception_pool3"]
    assert record["inception_flip"] is flip
    firsts = [row[0] for row in inc["indices"]]
    if flip:
        assert firsts == list(range(6)) and all(row[0] < 1e-3 for row in inc["distances"])
        assert all(row[0] for row in inc["reached_by_mirrored_sample"])
    else:
        assert all(row[0] > 1.0 for row in inc["distances"]) and not any(map(any, inc["reached_by_mirrored_sample"]))
    assert (tmp_path / "results" / "ncsn" / "fig5_mnist" / "fig6_neighbours.png").is_file()


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


def test_nan_in_params_is_refused_with_its_key(quick):
    msg = _invalid(quick, lambda p: p["ncsn"]["defaults"]["noise"].__setitem__("sigma_end", float("nan")))
    assert "ncsn.defaults.noise.sigma_end" in msg and "finite" in msg


def test_override_lays_over_defaults_and_another_arch_replaces_the_network(quick):
    exp = experiment(quick, "ncsn", "fig4_mnist_baseline")
    assert exp["noise"] == {"schedule": "geometric", "sigma_begin": 0.01, "sigma_end": 0.01, "num_levels": 1}
    assert exp["training"] == quick["ncsn"]["defaults"]["training"]
    resnet = experiment(quick, "ncsn", "sec6_3_mnist_cond_resnet")["model"]
    assert resnet == {"arch": "cond_resnet", "nf": 8, "width_factor": 1}  # no ngf from the default RefineNet


def test_cli_help_lists_the_papers():
    res = subprocess.run([sys.executable, "-m", "scorerepro.cli", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and "ncsn" in res.stdout and "seed 000" in res.stdout
    res = subprocess.run([sys.executable, "-m", "scorerepro.cli", "ncsn", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert all(s in res.stdout for s in ("train", "select_sample", "summary_rows", "toy_manifold"))
