"""The ``bytes`` kind: compared by its hashes only; its semantic hash is the byte hash, it has no numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

import blake3
import pytest

from reprovip.cli.main import main
from reprovip.readers import KINDS, byte_hash, find_reader, load, semantic_hash
from reprovip.readers.opaque import BytesReader
from reprovip.spec.models import OUTPUT_KINDS

from .conftest import reader_error, regzip, volume, write_nifti

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _pairs(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """Pairs of files whose bytes differ while their decoded content does not."""
    nii = write_nifti(tmp_path / "a.nii.gz", volume())
    (tmp_path / "a.json").write_text('{"x": 1, "y": [2.5]}')
    (tmp_path / "b.json").write_text('{ "y": [2.50],   "x": 1 }')
    (tmp_path / "a.csv").write_text("a,b\nx,1\n")
    (tmp_path / "b.csv").write_text('"a","b"\r\n"x","1"\r\n')
    return {
        "nifti": (nii, regzip(nii, tmp_path / "b.nii.gz", mtime=1_700_000_000, level=1)),
        "json": (tmp_path / "a.json", tmp_path / "b.json"),
        "csv": (tmp_path / "a.csv", tmp_path / "b.csv"),
    }


@pytest.mark.parametrize("fmt", ["nifti", "json", "csv"])
def test_semantic_hash_of_bytes_is_the_byte_hash(tmp_path, fmt):
    """The blake3 package over the whole file is the oracle; the format's own semantic hash forgives the
    difference (gzip timestamp, key order, quoting), the ``bytes`` kind does not."""
    a, b = _pairs(tmp_path)[fmt]
    assert semantic_hash(a) == semantic_hash(b)
    for path in (a, b):
        assert semantic_hash(path, kind="bytes") == byte_hash(path) == blake3.blake3(path.read_bytes()).hexdigest()
    assert semantic_hash(a, kind="bytes") != semantic_hash(b, kind="bytes")


def test_bytes_is_read_for_any_suffix_and_never_inferred(tmp_path):
    digest = tmp_path / "sha256.bin"
    digest.write_bytes(b"\x00\x01" * 8)
    nii = write_nifti(tmp_path / "a.nii.gz", volume())
    for path in (digest, nii):
        reader, kind = find_reader(path, "bytes")
        assert isinstance(reader, BytesReader) and kind == "bytes"
    assert find_reader(nii)[1] == "image"
    with reader_error(digest, "unknown format (suffix '.bin'); declare the output's kind"):
        find_reader(digest)


@pytest.mark.parametrize("content", [b"digest 6c1fa9ea 12.5\n", b"\x00binary"])
def test_load_bytes_has_no_observations(tmp_path, content):
    """Raising, not returning no observations: an analysis that forgot to skip it reports an error."""
    path = tmp_path / "out.log"
    path.write_bytes(content)
    with reader_error(path, "an output of kind 'bytes' is compared bit for bit and has no numeric observations"):
        load(path, kind="bytes")


def test_empty_file_is_still_an_error(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    with reader_error(path, "file is empty (0 bytes)"):
        semantic_hash(path, kind="bytes")


def test_validate_accepts_bytes(tmp_path, capsys):
    """The bad-input case `output-kind-invalid` (`kind: byte`) becomes valid once the kind is spelled right."""
    folder = tmp_path / "study"
    shutil.copytree(CORPUS / "output-kind-invalid", folder)
    study = folder / "study.yaml"
    study.write_text(study.read_text().replace("kind: byte}", "kind: bytes}"))
    assert "kind: bytes}" in study.read_text()
    assert main(["validate", str(study)]) == 0
    assert "ok — 2 subjects x 1 conditions x 2 repetitions = 4 executions" in capsys.readouterr().out


def test_spec_and_readers_declare_the_same_kinds():
    assert OUTPUT_KINDS == KINDS
    assert "bytes" in KINDS
