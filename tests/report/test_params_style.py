"""The profiles, and the params.yaml `scorerepro use-profile` makes of each, are written the way DVC writes
params.yaml, so `dvc exp run -S` changes only what it sets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
import restyle_params  # noqa: E402

from scorerepro.profiles import available_profiles, profile_text  # noqa: E402

PROFILES = sorted((REPO / "workflow" / "params").glob("*.yaml")) + [REPO / "params.yaml"]


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_dvcs_rewrite_leaves_the_profile_unchanged(path):
    text = path.read_text()
    assert restyle_params.dvc_dump(text) == text, f"run workflow/scripts/restyle_params.py {path.name}"


@pytest.mark.parametrize("profile", available_profiles(REPO / "workflow" / "params"))
def test_dvcs_rewrite_leaves_the_params_yaml_use_profile_writes_unchanged(profile):
    text = profile_text(profile, REPO / "workflow" / "params")
    assert restyle_params.dvc_dump(text) == text


def test_setting_one_param_the_way_dvc_exp_run_does_changes_two_lines(tmp_path):
    from dvc.utils.serialize import modify_yaml

    params = tmp_path / "params.yaml"
    before = (REPO / "params.yaml").read_text()
    params.write_text(before)
    with modify_yaml(str(params)) as data:  # what `dvc exp run -S '+ncsn.experiments.fig5_mnist...'` calls
        data["ncsn"]["experiments"]["fig5_mnist"]["sampling"]["step_lr"] = 5e-5
    after = params.read_text()
    changed = set(after.splitlines()) ^ set(before.splitlines())
    assert len(changed) <= 3, changed
    from scorerepro.config import read_params_yaml

    assert read_params_yaml(params)["ncsn"]["experiments"]["fig5_mnist"]["sampling"] == {"step_lr": 5e-5}


def test_restyling_keeps_every_value_and_unfolds_only_long_lines():
    text = ("a: {x: 1, y: [1, 2]}  # short: stays\n"
            "b: {" + ", ".join(f"key_{i}: {i}.5" for i in range(12)) + "}\n")
    new = restyle_params.restyle(text)
    assert yaml.safe_load(new) == yaml.safe_load(text)
    assert new.splitlines()[0] == "a: {x: 1, y: [1, 2]}  # short: stays"
    assert "  key_11: 11.5" in new and max(map(len, new.splitlines())) <= 80
