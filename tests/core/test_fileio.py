"""scorerepro.core.fileio: outputs appear whole or not at all, a failed write names its output, hashes are stable."""

from __future__ import annotations

import errno
import hashlib
import stat

import pytest
import torch

from scorerepro.core.fileio import atomic_path, save_torch, sha256_file, write_json, write_text


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_write_lands_under_its_name_readable_by_the_group_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "sub" / "a.json"
    write_json(out, {"b": 1, "a": [1, 2]})
    assert out.read_text() == '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}\n'  # key order kept
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert _leftovers(out.parent) == []


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    out = tmp_path / "a.txt"
    write_text(out, "old")
    with pytest.raises(KeyError), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise KeyError("killed mid-write")
    assert out.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_a_write_error_without_a_file_name_is_raised_naming_the_output(tmp_path):
    out = tmp_path / "full.bin"
    with pytest.raises(OSError) as info, atomic_path(out):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(out)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_torch_saves_runtime_error_over_a_full_disk_becomes_the_oserror(tmp_path):
    """torch.save reports a failed write as RuntimeError("... unexpected pos") raised while handling the OSError."""
    out = tmp_path / "ckpt.pt"
    with pytest.raises(OSError) as info, atomic_path(out):
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc] . unexpected pos") from None
    assert info.value.errno == errno.EDQUOT and info.value.filename == str(out)


def test_errors_that_name_their_file_or_are_not_os_errors_pass_unchanged(tmp_path):
    named = FileNotFoundError(errno.ENOENT, "No such file", "/some/input")
    with pytest.raises(FileNotFoundError) as info, atomic_path(tmp_path / "x"):
        raise named
    assert info.value is named
    with pytest.raises(RuntimeError, match="plain bug"), atomic_path(tmp_path / "y"):
        raise RuntimeError("plain bug")


def test_saved_tensors_hash_the_same_whatever_the_file_is_called(tmp_path):
    obj = {"x": torch.arange(6.0).reshape(2, 3)}
    save_torch(tmp_path / "one.pt", obj)
    save_torch(tmp_path / "two.pt", obj)
    assert sha256_file(tmp_path / "one.pt") == sha256_file(tmp_path / "two.pt")
    assert torch.equal(torch.load(tmp_path / "two.pt", weights_only=True)["x"], obj["x"])


def test_sha256_file_reads_in_chunks_and_matches_hashlib(tmp_path):
    data = bytes(range(256)) * 1000
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f", chunk=1000) == hashlib.sha256(data).hexdigest()
