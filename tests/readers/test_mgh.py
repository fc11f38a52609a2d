"""FreeSurfer MGH volumes (``.mgz``, ``.mgh``): read like NIfTI, checked against nibabel's own MGH reader.

FreeSurfer writes ``aseg.mgz``, ``brain.mgz`` and the other volumes of a subject as MGH (a 284-byte big-endian
header, the voxels, then scan parameters and tags such as the command line that made the file).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.errors import ReaderError
from reprovip.readers import load, read_image, semantic_hash
from reprovip.study import Study

VOX2RAS = np.array([[-1.0, 0.0, 0.0, 128.0], [0.0, 0.0, 1.0, -128.0], [0.0, -1.0, 0.0, 128.0], [0.0, 0.0, 0.0, 1.0]])


def write_mgh(path: Path, data: np.ndarray, *, tag: bytes = b"", affine: np.ndarray = VOX2RAS) -> Path:
    """An MGH volume as nibabel writes it, gzip-compressed for ``.mgz``, with ``tag`` appended after the footer as
    FreeSurfer appends its command-line tags (type 3, length, text)."""
    raw = nib.freesurfer.mghformat.MGHImage(data, affine).to_bytes()
    if tag:
        raw += (3).to_bytes(4, "big") + len(tag).to_bytes(8, "big") + tag
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".mgz" else raw)
    return path


def aseg() -> np.ndarray:
    labels = np.zeros((12, 10, 8), dtype=np.int32)
    labels[2:6, 2:8, 2:6] = 17  # Left-Hippocampus
    labels[6:10, 2:8, 2:6] = 53  # Right-Hippocampus
    return labels


def test_read_like_nibabel(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    brain = rng.random((12, 10, 8)).astype(np.float32) * 100
    path = write_mgh(tmp_path / "brain.mgz", brain)
    image = read_image(path)
    reference = nib.load(path)
    assert np.array_equal(image.data, reference.get_fdata(dtype=np.float32))
    assert np.array_equal(image.affine, reference.affine) and image.zooms == (1.0, 1.0, 1.0)
    loaded = load(path)
    assert loaded.kind == "image" and loaded.meta["format"] == "mgh" and loaded.meta["dtype"] == "float32"
    assert loaded.meta["units"] == {"space": "mm", "time": "msec"}
    labels = load(write_mgh(tmp_path / "aseg.mgz", aseg()), kind="labels")
    assert labels.values["data"].dtype == np.int32 and sorted(np.unique(labels.values["data"])) == [0, 17, 53]
    # uncompressed, and found by its content under another name
    assert np.array_equal(load(write_mgh(tmp_path / "aseg.mgh", aseg()), kind="labels").values["data"], aseg())
    assert load(write_mgh(tmp_path / "aseg.vol", aseg())).meta["format"] == "mgh"


def test_hash_sees_voxels_and_geometry_not_tags(tmp_path: Path) -> None:
    """The command-line tag FreeSurfer appends (host, time) is not content; voxels and vox2ras are."""
    first = write_mgh(tmp_path / "a.mgz", aseg(), tag=b"mri_convert brain.mgz on node01 at 2026/11/29 10:00")
    other = write_mgh(tmp_path / "b.mgz", aseg(), tag=b"mri_convert brain.mgz on node07 at 2026/11/30 23:59")
    assert first.read_bytes() != other.read_bytes()
    assert semantic_hash(first) == semantic_hash(other) == semantic_hash(write_mgh(tmp_path / "c.mgh", aseg()))
    changed = aseg()
    changed[10:12, 3, 2] = 17
    changed[3, 3, 3] = 53
    assert semantic_hash(write_mgh(tmp_path / "d.mgz", changed)) != semantic_hash(first)
    moved = VOX2RAS.copy()
    moved[0, 3] += 1.0
    assert semantic_hash(write_mgh(tmp_path / "e.mgz", aseg(), affine=moved)) != semantic_hash(first)


def test_cut_short_is_an_error(tmp_path: Path) -> None:
    raw = nib.freesurfer.mghformat.MGHImage(aseg(), VOX2RAS).to_bytes()
    path = tmp_path / "aseg.mgh"
    path.write_bytes(raw[:1000])
    with pytest.raises(ReaderError, match=r"aseg\.mgh: truncated: the header declares \(12, 10, 8\) int32 voxels"):
        load(path, kind="labels")
    path.write_bytes(raw[:200])
    with pytest.raises(ReaderError, match=r"aseg\.mgh: too short to be an MGH volume \(200 bytes\)"):
        read_image(path)


def test_a_freesurfer_segmentation_study(tmp_path: Path) -> None:
    """End to end (ingest, analyze): 3 subjects x 2 repetitions of aseg.mgz identical but for their tags are
    bit-for-bit identical; one hippocampus voxel relabelled in one repetition is found by the Dice of label 17.
    Each subject's segmentation has its own extent (the same one for all read as a tool ignoring its input)."""
    root = tmp_path / "study"
    for s in range(3):
        own = aseg()
        own[10:12, 2 + s, 2] = 17  # a subject's own anatomy
        for r in (1, 2):
            folder = root / "results" / f"sub-{s}" / f"run-{r}"
            folder.mkdir(parents=True)
            write_mgh(folder / "aseg.mgz", own, tag=f"mri_segment on node{r}".encode())
    (root / "study.yaml").write_text("outputs:\n  aseg: {path: aseg.mgz, kind: labels}\n")
    study = Study.load(root / "study.yaml")
    study.ingest("results/{subject}/run-{repetition}")
    document = study.analyze().document
    assert document["outputs"][0]["bitwise"]["identical"] is True
    assert document["verdict"]["status"] == "identical"

    changed = aseg()
    changed[10:12, 3, 2] = 17
    changed[3, 3, 3] = 53
    write_mgh(root / "results" / "sub-1" / "run-2" / "aseg.mgz", changed)
    study.ingest("results/{subject}/run-{repetition}")
    document = study.analyze().document
    (out,) = document["outputs"]
    assert out["bitwise"]["identical"] is False and document["verdict"]["status"] != "identical"
    # label 17 lost one of its 98 voxels in one execution to label 53 (96 voxels): Dice 2 * 97 / (98 + 97) and
    # 2 * 96 / (96 + 97), the least
    assert out["summary"]["dice_min"] == pytest.approx(2 * 96 / 193) and out["summary"]["dice_min_label"] == 53
    assert out["segmentation"]["labels"]["17"]["dice_within_min"] == pytest.approx(2 * 97 / 195)


def test_a_series_time_step_is_content(tmp_path: Path) -> None:
    """A 4-D MGH series at TR 2000 ms and one at 1000 ms with the same voxels: the TR is the first field after
    the voxels, and the hash left it out ("identical", a review); a 3-D volume's footer stays out."""
    series = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)

    def write(path: Path, tr: float, data: np.ndarray = series) -> Path:
        img = nib.freesurfer.mghformat.MGHImage(data, VOX2RAS)
        img.header["tr"] = tr
        raw = img.to_bytes()
        path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".mgz" else raw)
        return path

    slow, fast = write(tmp_path / "a.mgz", 2000.0), write(tmp_path / "b.mgz", 1000.0)
    assert semantic_hash(slow) != semantic_hash(fast)
    assert semantic_hash(slow) == semantic_hash(write(tmp_path / "c.mgh", 2000.0))  # streamed, uncompressed
    volume = series[..., 0]
    assert semantic_hash(write(tmp_path / "d.mgz", 2000.0, volume)) == semantic_hash(
        write(tmp_path / "e.mgz", 1000.0, volume)
    )
    from reprovip.readers import load_image_with_hash

    assert load_image_with_hash(slow)[1] == semantic_hash(slow)  # the one-pass hash agrees with the streamed one
