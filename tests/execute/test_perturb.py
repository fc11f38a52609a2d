"""``unperturbable`` says which inputs the ``perturb`` factor would copy unchanged, and agrees with ``perturb_file``.

A review: raw T1w images stored as int16 (as scanners write them) under ``perturb: [0, 8]`` were copied unchanged,
and the study read "bit-for-bit identical" with no warning.
"""

from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.execute.perturb import perturb_file, unperturbable


def _nifti(path: Path, data: np.ndarray, *, slope: float | None = None) -> Path:
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_data_dtype(data.dtype)
    if slope is not None:
        img.header.set_slope_inter(slope, 0.0)
    nib.save(img, path)
    return path


def _cases(root: Path) -> dict[str, tuple[Path, str | None]]:
    """Each input with the reason ``unperturbable`` must give (None: it holds floating-point values)."""
    rng = np.random.default_rng(0)
    raw = (rng.random((4, 4, 4)) * 1000).astype(np.int16)
    (root / "folder").mkdir()
    (root / "counts.txt").write_text("12 7 3\nsub-01 4\n")
    (root / "values.tsv").write_text("region\tvolume\nleft\t1204.5\n")
    (root / "blob.txt").write_bytes(b"\xff\xfe\x00\x81")
    np.save(root / "labels.npy", np.arange(8, dtype=np.int32))
    np.save(root / "field.npy", np.linspace(0, 1, 8))
    return {
        "int16 T1w": (_nifti(root / "t1w.nii.gz", raw), "holds int16 voxels, not floating-point ones"),
        "float32 T1w": (_nifti(root / "t1w_f.nii.gz", raw.astype(np.float32)), None),
        "scaled int16": (_nifti(root / "t1w_s.nii.gz", raw, slope=0.5), None),  # decodes to floats
        "int32 npy": (root / "labels.npy", "holds int32 values, not floating-point ones"),
        "float npy": (root / "field.npy", None),
        "integer text": (root / "counts.txt", "holds no decimal number outside comments (integers are left alone)"),
        "decimal tsv": (root / "values.tsv", None),
    }


def test_unperturbable_names_why_for_each_format(tmp_path: Path) -> None:
    cases = _cases(tmp_path)
    assert {k: unperturbable(p) for k, (p, _) in cases.items()} == {k: why for k, (_, why) in cases.items()}
    assert unperturbable(tmp_path / "folder") == "is not a file (only file inputs can be perturbed)"
    assert unperturbable(tmp_path / "blob.txt") == (
        "is a binary file of unknown format (use NIfTI, .npy, CSV/TSV or numeric text inputs)"
    )


@pytest.mark.parametrize("ulps", [1, 8])
def test_it_agrees_with_what_perturb_file_writes(tmp_path: Path, ulps: int) -> None:
    """Where ``unperturbable`` gives a reason, the perturbed copy equals the input value for value; where it gives
    None, at least one value moved (and by at most ``ulps`` spacings, the module's contract)."""
    out = tmp_path / "out"
    out.mkdir()
    for name, (path, why) in _cases(tmp_path).items():
        copy = perturb_file(path, out, ulps=ulps, seed=3)
        if path.name.endswith(".nii.gz"):
            before, after = (np.asarray(nib.load(p).dataobj) for p in (path, copy))
        elif path.suffix == ".npy":
            before, after = np.load(path), np.load(copy)
        else:
            before, after = (
                np.array([float(x) for x in p.read_text().split() if x[0].isdigit()]) for p in (path, copy)
            )
        unchanged = np.array_equal(before, after)
        assert unchanged == (why is not None), name
        if not unchanged:
            assert np.all(np.abs(after - before) <= ulps * np.spacing(before.astype(after.dtype))), name


def test_comments_versions_and_dates_are_no_decimal_numbers(tmp_path: Path) -> None:
    """Review O (c07): a CSV of integers whose comment read `# written by counter 6.0` was accepted and only its
    comment perturbed (the study read identical); a header cell `a_1.5` was renamed `a_1.4999999999999163`.
    Numbers that stand on their own, outside comments, are the ones perturbed."""
    counts = tmp_path / "counts.csv"
    counts.write_text("# written by counter 6.0\na_1.5,b\n3,4\n5,6\n")
    assert unperturbable(counts) == "holds no decimal number outside comments (integers are left alone)"
    values = tmp_path / "values.csv"
    values.write_text("# written by counter 6.0\na_1.5,v1.2.3,date\n2.5,7,30.11.2026\n")
    (tmp_path / "out").mkdir()
    out = perturb_file(values, tmp_path / "out", ulps=1000, seed=1)
    first, header, row = out.read_text().splitlines()
    assert (first, header) == ("# written by counter 6.0", "a_1.5,v1.2.3,date")
    cells = row.split(",")
    assert cells[0] != "2.5" and float(cells[0]) == pytest.approx(2.5, rel=1e-12) and cells[1:] == ["7", "30.11.2026"]
    log = tmp_path / "log.txt"
    log.write_text("# reprovip 6.0\nversion v1.2.3 on 30.11.2026: value 0.25\n")
    (tmp_path / "out2").mkdir()
    text = perturb_file(log, tmp_path / "out2", ulps=1000, seed=1).read_text().splitlines()
    assert text[0] == "# reprovip 6.0" and text[1].startswith("version v1.2.3 on 30.11.2026: value 0.2")
    assert text[1] != "version v1.2.3 on 30.11.2026: value 0.25"


def test_a_number_glued_to_its_unit_moves_and_keeps_its_unit(tmp_path: Path) -> None:
    """The text reader reads `45.30ms` as 45.3 (a review); perturbed, it stays a number with its unit (float()
    of the whole token would fail), and `5sec` (no point, though an `e`) stays an integer."""
    params = tmp_path / "params.txt"
    params.write_text("TE=45.30ms TR 5sec voxel 1.5mm3\n")
    (tmp_path / "out").mkdir()
    line = perturb_file(params, tmp_path / "out", ulps=1000, seed=1).read_text().strip()
    te, voxel = re.fullmatch(r"TE=(\S+)ms TR 5sec voxel (\S+)mm3", line).groups()
    assert te != "45.30" and float(te) == pytest.approx(45.3, rel=1e-12)
    assert voxel != "1.5" and float(voxel) == pytest.approx(1.5, rel=1e-12)


def test_zeros_stay_zeros_and_no_sign_changes(tmp_path: Path) -> None:
    """Review NN: a zero background became +-1e-45 (half negative), and an application counting voxels > 0
    read "numerically unstable". Zeros (and -0.0) stay as they are; the other voxels move, none changes sign."""
    rng = np.random.default_rng(1)
    data = rng.normal(0.0, 1e-30, size=(6, 6, 6)).astype(np.float32)  # tiny values: one ulp is their scale
    data[:3] = 0.0
    data[0, 0, 0] = -0.0
    (tmp_path / "out").mkdir()
    moved = np.asarray(
        nib.load(perturb_file(_nifti(tmp_path / "a.nii", data), tmp_path / "out", ulps=8, seed=3)).dataobj
    )
    assert np.array_equal(moved[:3].view(np.uint32), data[:3].view(np.uint32))  # bit for bit, -0.0 kept
    assert np.mean(moved[3:] != data[3:]) > 0.8 and np.all(np.sign(moved[3:]) == np.sign(data[3:]))
    np.save(tmp_path / "v.npy", np.array([0.0, 1.0, -2.0]))
    out = np.load(perturb_file(tmp_path / "v.npy", tmp_path / "out", ulps=4, seed=1))
    assert out[0] == 0.0 and out[1] != 1.0 and out[2] != -2.0
    (tmp_path / "t.txt").write_text("0.0 1.5\n")
    assert perturb_file(tmp_path / "t.txt", tmp_path / "out", ulps=4, seed=1).read_text().startswith("0.0 ")
