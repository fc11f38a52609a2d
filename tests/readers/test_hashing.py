"""byte_hash streams in 1 MiB chunks; semantic_hash dispatches through the registry."""

from __future__ import annotations

import blake3
import numpy as np
import pytest

from reprovip.readers import byte_hash, semantic_hash
from reprovip.readers.hashing import CHUNK

from .conftest import reader_error, volume, write_nifti


@pytest.mark.parametrize("size", [1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7])
def test_byte_hash_is_blake3_of_the_bytes(tmp_path, size):
    """The blake3 package hashing the whole content at once is the oracle."""
    content = np.random.default_rng(size).bytes(size)
    path = tmp_path / "blob.bin"
    path.write_bytes(content)
    assert byte_hash(path) == blake3.blake3(content).hexdigest()


def test_byte_hash_missing_file(tmp_path):
    with reader_error(tmp_path / "gone.nii.gz", "file not found"):
        byte_hash(tmp_path / "gone.nii.gz")


def test_semantic_hash_per_format(tmp_path):
    (tmp_path / "a.txt").write_text("1 2")
    (tmp_path / "a.csv").write_text("1,2\n")
    (tmp_path / "a.json").write_text("[1, 2]")
    write_nifti(tmp_path / "a.nii", volume())
    assert semantic_hash(tmp_path / "a.txt") is None
    digests = [semantic_hash(tmp_path / n) for n in ("a.csv", "a.json", "a.nii")]
    assert all(len(d) == 64 for d in digests) and len(set(digests)) == 3
    assert semantic_hash(tmp_path / "a.csv", kind="text") is None


@pytest.mark.parametrize(("name", "phrase"), [("gone.json", "file not found"), ("e.csv", "file is empty")])
def test_semantic_hash_errors(tmp_path, name, phrase):
    (tmp_path / "e.csv").write_bytes(b"")
    with reader_error(tmp_path / name, phrase):
        semantic_hash(tmp_path / name)
