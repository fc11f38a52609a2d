"""Report building blocks: number formatting, the PNG encoder, plots of degenerate input, safe paths."""

from __future__ import annotations

import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from sqlalchemy import insert

from reprovip.report import plots
from reprovip.report.context import alerts_of, verdict_of
from reprovip.report.fmt import duration, fmt, pct, size
from reprovip.report.maps import anatomy_path, draw_output_map, map_path
from reprovip.report.png import encode_png, overlay_indices, palette
from reprovip.store import BlobStore, Catalog
from reprovip.store import schema as s


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.912345, "0.9123"),
        ("Infinity", "∞"),
        ("-Infinity", "−∞"),
        (None, "–"),
        (float("nan"), "–"),
        (0.99999999265, "0.99999999"),
        (1.0, "1"),
        (-0.5, "-0.5"),
        (7, "7"),
        (False, "no"),
    ],
)
def test_fmt(value: object, text: str) -> None:
    assert fmt(value) == text


def test_pct_keeps_small_shares_visible() -> None:
    assert (pct(0.5), pct(4.4e-05), pct(0), pct("Infinity")) == ("50.0%", "0.0044%", "0.0%", "–")


def test_png_round_trip() -> None:
    values = np.array([[0.0, 0.5], [1.0, np.inf]])
    grey = np.array([[0.0, 1.0], [0.5, 0.0]])
    idx = overlay_indices(values, np.array([[True, False], [False, True]]), grey, 0.0, 1.0)
    # Not shown -> the anatomy's grey (0..63); shown -> 64..255 on the scale, +inf at its top.
    assert idx.tolist() == [[64, 63], [32, 255]]
    data = encode_png(idx, palette("viridis"))
    start = data.index(b"IDAT")
    size = int.from_bytes(data[start - 4 : start], "big")
    raw = zlib.decompress(data[start + 4 : start + 4 + size])
    assert raw == bytes([0, 64, 63, 0, 32, 255])  # filter byte 0, then the indices, row by row
    with pytest.raises(ValueError, match="non-empty 2-D array"):
        encode_png(np.zeros((0, 3), dtype=np.uint8), palette("viridis"))


@pytest.mark.parametrize(
    ("plot", "args"),
    [
        (plots.icc_forest, ([],)),
        (plots.icc_forest, ([{"label": "x", "value": None}],)),
        (plots.share_bars, ({},)),
        (plots.variance_bars, ([], ["subject"])),
        (plots.strip_plot, ({"subjects": []},)),
        (plots.bland_altman, ({"points": []},)),
        (plots.seg_bars, ([],)),
        (
            plots.trend,
            ([{"value": None}],),
        ),
        (plots.status_bar, ({},)),
    ],
)
def test_plots_of_nothing_are_none(plot, args) -> None:
    kwargs = {"title": "t"} if plot is plots.trend else {}
    assert plot(*args, **kwargs) is None


def test_plots_survive_degenerate_values() -> None:
    one = plots.icc_forest([{"label": "<x>", "value": 1.0, "ci_low": "-Infinity", "ci_high": 1.0}])
    assert one is not None and "&lt;x&gt;" in one and "◀" in one  # a CI below -1 is clipped and marked
    flat = plots.strip_plot(
        {
            "observation": "v",
            "conditions": ["-"],
            "subjects": [
                {
                    "subject": "a",
                    "values": [1.0, 1.0],
                    "conditions": [0, 0],
                    "repetitions": [0, 1],
                    "deviations": [0, 0],
                }
            ],
        }
    )
    # Two repetitions at the same spot: one dot, counted (not two dots drawn on top of each other).
    assert flat is not None and flat.count("<circle") == 1 and ">×2</text>" in flat
    seg = plots.seg_bars([{"label": "1", "dice_within_min": 0.0, "hd95_within_max": "Infinity"}])
    assert seg is not None and "∞" in seg


def test_verdict_and_alerts_without_outputs() -> None:
    assert verdict_of({})["status"] == "unknown"
    assert alerts_of({"alerts": [{"severity": "warn", "message": "m"}, "junk"]}) == (
        [{"output": None, "severity": "warn", "message": "m"}],
        True,
    )


def test_map_paths_stay_inside_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    inside = store / "results" / "s" / "analysis" / "img" / "sd.nii.gz"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"x")
    outside = tmp_path / "sd.nii.gz"
    outside.write_bytes(b"x")
    link = store / "link.nii.gz"
    link.symlink_to(outside)
    out = {
        "name": "img",
        "voxelwise": {"maps": {"sd": str(outside), "differ": str(link), "mask": str(inside)}},
    }
    assert map_path(store, out, "sd", study="s") == inside.resolve()  # found where the analysis writes it
    assert map_path(store, out, "sd") is None  # the document's path is outside
    assert map_path(store, out, "differ") is None  # a symlink out of the store is outside too
    assert map_path(store, out, "mask") == inside.resolve()
    assert map_path(store, out, "../sd") is None and map_path(store, out, "icc_a1") is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0 s"),
        (0.000412, "0.000412 s"),
        (1.23456, "1.23 s"),
        (59.94, "59.9 s"),
        (59.96, "1 min 00 s"),  # "60 s" is a minute
        (61, "1 min 01 s"),
        (3599.4, "59 min 59 s"),
        (3599.6, "1 h 00 min"),
        (7384, "2 h 03 min"),
        (90061, "25 h 01 min"),
        ("Infinity", "∞"),
        (None, "–"),
        (float("nan"), "–"),
        (-2.0, "–"),  # a clock that went back: no plausible-looking time
    ],
)
def test_duration_has_units(seconds: object, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 kB"),
        (1536, "1.54 kB"),
        (999_999, "1 MB"),  # never "1e+03 kB"
        (52_428_800, "52.4 MB"),  # 50 MiB of peak RSS
        (3_221_225_472, "3.22 GB"),
        (None, "–"),
        (-1, "–"),
        ("Infinity", "–"),
    ],
)
def test_size_in_decimal_si_units(nbytes: object, text: str) -> None:
    assert size(nbytes) == text


def _nifti(path: Path, data: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4)), str(path))
    return path


def test_maps_are_drawn_over_the_first_execution_image_only_inside_the_store(tmp_path: Path) -> None:
    """The anatomy under a map is the first completed execution's image, read from the blob store; a blob that
    is a symlink out of the store is never read (the map is then drawn over the mask, and says so)."""
    store = tmp_path / ".reprovip"
    folder = store / "results" / "st" / "analysis" / "image"
    differ = np.zeros((4, 5, 3))
    differ[1, 2, 1] = 1
    maps = {n: str(_nifti(folder / f"{n}.nii.gz", d)) for n, d in (("differ", differ), ("mask", np.ones((4, 5, 3))))}
    output = {"name": "image", "voxelwise": {"maps": maps}}
    assert anatomy_path(store, output, study="st") == (None, "the analysis mask (no anatomical image in the store)")
    cat = Catalog.for_store(store)
    sid = cat.ensure_study("st", {"name": "st"}, str(tmp_path))
    with cat.engine.begin() as conn:
        for i, subject in enumerate(["sub-02", "sub-01"]):
            conn.execute(
                insert(s.executions).values(
                    id=f"e{i}", study_id=sid, subject=subject, condition_key="c=1", repetition=0, status="done"
                )
            )
            blob = f"{i:02d}" * 32
            conn.execute(insert(s.outputs).values(execution_id=f"e{i}", name="image", blob=blob, suffix=".nii.gz"))
    cat.close()
    anatomy = np.arange(60, dtype=np.float64).reshape(4, 5, 3) + 1
    blob = _nifti(BlobStore(store).path("01" * 32, ".nii.gz"), anatomy)  # sub-01 comes first
    assert anatomy_path(store, output, study="st") == (blob.resolve(), "sub-01's image (c=1, repetition 0)")
    image = draw_output_map(store, output, "differ", study="st")
    assert image.title == "voxels where executions differ, over sub-01's image (c=1, repetition 0)"
    axial = zlib.decompress(_idat(image.slice("axial").png))
    rows = np.frombuffer(axial, dtype=np.uint8).reshape(5, 5)[:, 1:]  # 5 rows (y flipped) of 4 columns + filter
    assert rows[5 - 1 - 2, 1] == 64  # the differing voxel (x=1, y=2) in the differ colour
    grey = np.delete(rows.ravel(), (5 - 1 - 2) * 4 + 1)
    assert (grey < 64).all() and len(np.unique(grey)) == 19  # the anatomy's 19 other values, not a flat grey
    outside = _nifti(tmp_path / "outside.nii.gz", anatomy)
    blob.unlink()
    blob.symlink_to(outside)
    assert anatomy_path(store, output, study="st")[0] is None
    # A `mean` map written by the analysis is preferred (the mean over executions; docs/report.md).
    output["voxelwise"]["maps"]["mean"] = str(_nifti(folder / "mean.nii.gz", anatomy))
    assert anatomy_path(store, output, study="st") == (
        (folder / "mean.nii.gz").resolve(),
        "the mean image over executions",
    )


def _idat(png: bytes) -> bytes:
    start = png.index(b"IDAT")
    return png[start + 4 : start + 4 + int.from_bytes(png[start - 4 : start], "big")]
