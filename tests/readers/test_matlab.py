"""MATLAB reader: ANTs' MATLAB 4 transforms and SPM-like MATLAB 5 structs as arrays, a hash without the header's
time, FSL's text `.mat` left to the table reader."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio

from reprovip.readers import load, semantic_hash
from reprovip.readers.registry import find_reader

from .conftest import reader_error

ANTS = {"AffineTransform_double_3_3": np.arange(12.0).reshape(12, 1) / 7, "fixed": np.array([[1.0], [-2.0], [3.5]])}


def _spm(path: Path, beta: float = 2.0, swd: str = "/data/sub-01") -> Path:
    cells = np.array([np.array([1.0, 2.0]), "T1w"], dtype=object)
    sio.savemat(path, {"SPM": {"xX": {"X": np.eye(2)}, "swd": swd, "beta": [1.0, beta]}, "vols": cells, "ok": True})
    return path


def test_an_ants_affine_is_read_by_its_variables(tmp_path: Path) -> None:
    """ANTs and ITK write `0GenericAffine.mat` in MATLAB 4 format: declared `text` it was "binary content"."""
    path = tmp_path / "0GenericAffine.mat"
    sio.savemat(path, ANTS, format="4")
    loaded = load(path)
    assert loaded.kind == "array" and sorted(loaded.values) == ["AffineTransform_double_3_3", "fixed"]
    assert np.array_equal(loaded.values["AffineTransform_double_3_3"], ANTS["AffineTransform_double_3_3"])
    assert loaded.meta["text"] == {} and loaded.meta["n_nonfinite"] == 0


def test_structs_cells_and_text_are_named_as_matlab_names_them(tmp_path: Path) -> None:
    loaded = load(_spm(tmp_path / "SPM.mat"), kind="array")
    values = {k: v.ravel(order="F").tolist() for k, v in loaded.values.items()}
    assert values == {"SPM.xX.X": [1.0, 0.0, 0.0, 1.0], "SPM.beta": [1.0, 2.0], "vols{1}": [1.0, 2.0], "ok": [1]}
    assert sorted(loaded.meta["text"]) == ["SPM.swd", "SPM.xX:class", "SPM:class", "vols:class", "vols{2}"]


def test_the_hash_is_the_variables_not_the_header_time(tmp_path: Path) -> None:
    """scipy writes the creation time in the 116-byte header: equal variables saved a second apart were
    "run-to-run nondeterminism" as bytes (a review)."""
    a = _spm(tmp_path / "a.mat")
    time.sleep(1.1)
    b = _spm(tmp_path / "b.mat")
    changed, renamed = _spm(tmp_path / "c.mat", beta=2.5), _spm(tmp_path / "d.mat", swd="/data/sub-02")
    assert a.read_bytes() != b.read_bytes()
    assert semantic_hash(a) == semantic_hash(b) != semantic_hash(changed) != semantic_hash(renamed) != semantic_hash(a)


def test_fsl_s_text_mat_is_no_matlab_file(tmp_path: Path) -> None:
    path = tmp_path / "flirt.mat"
    path.write_text("1.01 0 0 -2.5\n0 1 0 0\n0 0 1 0\n0 0 0 1\n")
    assert find_reader(path, "table")[0].name == "table"
    assert float(load(path, kind="table").values["0/4"]) == -2.5
    with reader_error(path, "or be a MATLAB 4 or 5 file (FSL's text .mat matrices are `kind: table`)"):
        load(path, kind="array")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64" + bytes(600),
            "a MATLAB 7.3 file (HDF5), which reprovip does not read",
        ),
        (b"MATLAB 5.0 MAT-file, Platform: posix" + bytes(90) + b"\x01\x02", "MATLAB file cannot be read"),
    ],
)
def test_a_v7_3_or_damaged_file_is_one_line(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "r.mat"
    path.write_bytes(content)
    with reader_error(path, problem):
        load(path, kind="array")


def test_what_matlab_code_tells_apart_is_no_identical_file(tmp_path: Path) -> None:
    """Review T: a 2x1 struct array for a 1x2, a 3x1 cell for a 1x3, a sparse matrix for a dense one, an extra
    empty variable: the same numbers, and "bit-for-bit identical". (SciPy reads a logical as uint8: not told.)"""
    from scipy import sparse

    def saved(name: str, **variables: object) -> str | None:
        sio.savemat(tmp_path / name, variables)
        return semantic_hash(tmp_path / name)

    struct = np.zeros((1, 2), dtype=[("beta", object)])
    struct["beta"] = [[np.array([[1.0]]), np.array([[2.0]])]]
    base = saved("a.mat", s=struct, c=np.array([[1.0, 2.0]], dtype=object), m=np.array([[True]]), x=np.eye(2))
    variants = [
        saved("b.mat", s=struct.T, c=np.array([[1.0, 2.0]], dtype=object), m=np.array([[True]]), x=np.eye(2)),
        saved("c.mat", s=struct, c=np.array([[1.0], [2.0]], dtype=object), m=np.array([[True]]), x=np.eye(2)),
        saved("e.mat", s=struct, c=np.array([[1.0, 2.0]], dtype=object), m=np.array([[True]]), x=sparse.eye(2)),
        saved("f.mat", s=struct, c=np.array([[1.0, 2.0]], dtype=object), m=np.array([[True]]), x=np.eye(2), K=[]),
    ]
    assert base == saved("a2.mat", s=struct, c=np.array([[1.0, 2.0]], dtype=object), m=np.array([[True]]), x=np.eye(2))
    assert len({base, *variants}) == 5
    assert "K:class" in load(tmp_path / "f.mat").meta["text"]


def test_a_huge_sparse_matrix_is_read_by_its_non_zeros(tmp_path: Path) -> None:
    """Review T: a 100000 x 100000 sparse matrix with 5 non-zeros (400 kB) was made dense: MemoryError, exit 4."""
    from scipy import sparse

    matrix = sparse.coo_matrix(
        ([1.0, 2.0, 3.0, 4.0, 5.0], ([0, 7, 99, 5000, 99999], [3, 3, 8, 42, 99999])), (100000, 100000)
    )
    sio.savemat(tmp_path / "big.mat", {"W": matrix})
    loaded = load(tmp_path / "big.mat")
    assert sorted(loaded.values["W"].tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0] and "W:class" in loaded.meta["text"]


def test_a_v7_3_file_declared_another_kind_is_told_what_works(tmp_path: Path) -> None:
    path = tmp_path / "r.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64" + bytes(600))
    with reader_error(path, "a MATLAB 7.3 file (HDF5), which reprovip does not read; save it in MATLAB's version 7"):
        load(path, kind="text")


def test_a_nifti_named_otherwise_and_declared_text_is_named_as_nifti(tmp_path: Path) -> None:
    import nibabel as nib

    path = tmp_path / "brain.dat"
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4)), tmp_path / "brain.nii")
    (tmp_path / "brain.nii").rename(path)
    with reader_error(path, "a nifti file declared `kind: text`; declare the output `kind: image`"):
        load(path, kind="text")
