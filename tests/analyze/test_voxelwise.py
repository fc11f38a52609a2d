"""Voxelwise maps on real NIfTI files: float64 precision, non-finite voxels masked per voxel, maps equal to the
scalar metric functions of :mod:`reprovip.metrics` applied voxel by voxel (the oracle, itself checked against
pingouin and significantdigits in tests/metrics)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from reprovip.analyze import voxelwise
from reprovip.analyze.design import Design, Record, build_design
from reprovip.analyze.voxelwise import voxelwise_maps
from reprovip.cli.main import main
from reprovip.metrics import icc_all, repeatability, significant_digits, variance_components
from reprovip.study import Study

SPATIAL = (4, 3, 2)
DIGITS_52_BITS = 52 * np.log10(2)  # Parker digits of identical float64 (or integer) executions: 15.654


def _design(root: Path, x: np.ndarray, factor: str = "threads") -> Design:
    """Write ``x`` of shape ``(*SPATIAL, n, *levels, k)`` as one NIfTI file per execution; return the design."""
    n, levels, k = x.shape[3], x.shape[4:-1], x.shape[-1]
    records = []
    for s in range(n):
        for cell in np.ndindex(*levels):
            labels = tuple((factor, str(level)) for level in cell)
            for r in range(k):
                path = root / "in" / f"sub-{s}" / f"cell-{'-'.join(map(str, cell))}" / f"run-{r}.nii.gz"
                path.parent.mkdir(parents=True, exist_ok=True)
                nib.save(nib.Nifti1Image(x[(slice(None),) * 3 + (s, *cell, r)], np.eye(4)), path)
                key = ",".join(f"{f}={lv}" for f, lv in labels) or "-"
                records.append(Record(f"sub-{s}", labels, key, r, path, None, None, None))
    return build_design(records)


def _run(root: Path, x: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray], list[dict[str, Any]]]:
    design = _design(root, x)
    errors: list[dict[str, Any]] = []
    res = voxelwise_maps(design, list(design.complete), root / "maps", errors=errors)
    maps = {name: np.asarray(nib.load(p).dataobj).reshape(-1) for name, p in res["maps"].items()}
    return res, maps, errors


def _flat(x: np.ndarray) -> np.ndarray:
    """``(voxels, n, executions)`` in the maps' voxel order (C order of the spatial axes)."""
    return x.reshape(int(np.prod(SPATIAL)), x.shape[3], -1)


def _scalar_maps(x: np.ndarray, factors: list[str]) -> dict[str, np.ndarray]:
    """The oracle: each map computed by the scalar metric functions on the stacked float64 data."""
    flat = _flat(x)
    out = {
        "sd": np.asarray(repeatability(flat).wsd),
        "icc_a1": np.asarray(icc_all(flat)["ICC(A,1)"].icc),
        "sigdigits": np.min(significant_digits(flat, axis=-1), axis=-1),
    }
    vc = variance_components(x.reshape(flat.shape[0], *x.shape[3:]), factors)
    for i, src in enumerate(vc.sources):
        out[f"share_{src.replace(':', 'x')}"] = np.asarray(vc.share)[:, i]
    return out


def _one_ulp_study(dtype: type) -> np.ndarray:
    """n=4 subjects x k=3: values 100..200; half the voxels have one execution 1 ulp (or 1) above the others."""
    rng = np.random.default_rng(7)
    x = np.repeat(rng.uniform(100, 200, size=(*SPATIAL, 4, 1)), 3, axis=-1).astype(dtype)
    step = np.nextafter(x[..., 1], np.inf) if dtype is np.float64 else x[..., 1] + 1
    x[:2, ..., 1] = step[:2]  # voxels with first index 0 or 1 differ in every subject
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.int16])
def test_tiny_differences_give_positive_sd_and_full_precision_digits(tmp_path: Path, dtype: type) -> None:
    """float64 executions 1 ulp apart differ, with the exact pooled within-subject SD: executions (a, a + d, a)
    have variance d^2 / 3 (ddof 1), so sd = sqrt(mean over subjects of d^2 / 3), d exact (adjacent floats).
    Identical float64 and integer voxels get 52 bits = 15.65 decimal digits, as significant_digits
    (significantdigits' nmant rule). The old code cast blocks to float32: sd 0 where differ was 1, and 6.9
    digits on identical voxels."""
    x = _one_ulp_study(dtype)
    res, maps, errors = _run(tmp_path, x)
    differ = maps["differ"] == 1
    assert errors == [] and res["subjects"] == 4
    assert differ.sum() == 12 and np.all(maps["sd"][differ] > 0) and np.all(maps["sd"][~differ] == 0)
    d = _flat(x).astype(np.float64)[:, :, 1] - _flat(x).astype(np.float64)[:, :, 0]
    exact_sd = np.sqrt(np.mean(d**2 / 3, axis=-1))
    np.testing.assert_allclose(maps["sd"], exact_sd, rtol=1e-6, atol=0)
    assert res["summary"]["sd_max"] == pytest.approx(float(exact_sd.max()), rel=1e-12, abs=0)
    np.testing.assert_allclose(maps["sigdigits"][~differ], DIGITS_52_BITS, rtol=1e-6)
    if dtype is np.float64:
        # Parker bits -log2((d / sqrt(3)) / |a|) > 52.6 for 1 ulp at 100..200: capped at the 52 mantissa bits.
        # (significant_digits itself rounds its mean at the values' magnitude, an error of up to 2 ulp that
        # dominates a 1-ulp spread, so it is compared on the identical voxels only.)
        np.testing.assert_allclose(maps["sigdigits"][differ], DIGITS_52_BITS, rtol=1e-6)
        differ_or_not = ~differ
    else:
        differ_or_not = np.ones_like(differ)
    scalar = _scalar_maps(x, [])["sigdigits"]
    np.testing.assert_allclose(maps["sigdigits"][differ_or_not], scalar[differ_or_not], rtol=1e-6, atol=0)


def test_maps_equal_the_scalar_metrics_voxel_by_voxel(tmp_path: Path) -> None:
    """float64 data with execution noise (1e-6) below float32 resolution at 100 (7.6e-6): every map (sd,
    sigdigits, icc_a1, share_*) equals the scalar functions of reprovip.metrics voxel by voxel, to the float32
    storage of the map file; the float64 summaries to 1e-7 (the scalar functions round their means at the
    magnitude of the values minus the first one, ~4e-15 here: a 4e-9 relative error on these deviations)."""
    rng = np.random.default_rng(3)
    n, levels, k = 5, 2, 2
    subject = rng.uniform(100, 120, size=(*SPATIAL, n, 1, 1))
    x = subject + 1e-6 * rng.normal(size=(*SPATIAL, n, levels, k)) + 3e-6 * np.arange(levels)[:, None]
    res, maps, _ = _run(tmp_path, x)
    oracle = _scalar_maps(x, ["threads"])
    assert set(oracle) == {m for m in maps if m not in ("differ", "nonfinite_differ", "mask")}
    for name, expected in oracle.items():
        np.testing.assert_allclose(maps[name], expected, rtol=1e-6, atol=1e-12, err_msg=name)
    assert np.all(maps["sd"] > 0) and np.all(maps["differ"] == 1)
    assert res["summary"]["sd_max"] == pytest.approx(float(oracle["sd"].max()), rel=1e-7, abs=0)
    assert res["summary"]["icc_a1_min"] == pytest.approx(float(oracle["icc_a1"].min()), rel=1e-7, abs=0)
    assert res["summary"]["sigdigits_median"] == pytest.approx(float(np.median(oracle["sigdigits"])), rel=1e-7, abs=0)


def test_shares_summarise_the_voxels_that_differ(tmp_path: Path) -> None:
    """Executions differ (threads=1 noise) in 3 of 24 voxels: the summary's share of each source is its median
    over those 3 voxels (the oracle: variance_components voxel by voxel). A median over the whole mask gave the
    residual 0% of the variance, and the attribution said "run-to-run nondeterminism (0.0% of the variance)"."""
    rng = np.random.default_rng(11)
    n, levels, k = 5, 2, 3
    x = rng.uniform(100, 120, size=(*SPATIAL, n, 1, 1)) + np.zeros((*SPATIAL, n, levels, k))
    x[0, 0, :, :, 1] += rng.normal(0, 5, size=(2, n, k))  # voxels (0,0,0) and (0,0,1)
    x[1, 2, 0, :, 1] += rng.normal(0, 5, size=(n, k))
    res, maps, _ = _run(tmp_path, x)
    oracle = _scalar_maps(x, ["threads"])
    moving = maps["differ"] == 1
    assert moving.sum() == 3
    for src in ("subject", "threads", "subjectxthreads", "residual"):
        expected = float(np.median(oracle[f"share_{src}"][moving]))
        assert res["summary"][f"share_{src}_median"] == pytest.approx(expected, rel=1e-6, abs=1e-12), src
    assert res["summary"]["share_residual_median"] > 0.1  # 0 over the whole mask (21 voxels of 24 agree)


def test_extreme_magnitudes_keep_their_sd_in_the_map_file(tmp_path: Path) -> None:
    """float64 values around 1e-30 that differ by 1 ulp have an SD (~1e-46) below float32's smallest
    subnormal: the sd map is then written in float64 rather than flushed to 0 where differ is 1."""
    x = _one_ulp_study(np.float64) * 1e-32
    res, maps, _ = _run(tmp_path, x)
    differ = maps["differ"] == 1
    assert maps["sd"].dtype == np.float64 and np.all(maps["sd"][differ] > 0)
    d = _flat(x)[:, :, 1] - _flat(x)[:, :, 0]  # exact: adjacent floats (see the 1-ulp test above)
    np.testing.assert_allclose(maps["sd"], np.sqrt(np.mean(d**2 / 3, axis=-1)), rtol=1e-12, atol=0)


def test_voxels_whose_difference_underflows_are_counted(tmp_path: Path) -> None:
    """Values around 1e-169 that differ by half their size have a within-subject SD that underflows to 0:
    those voxels are counted (a review's float64 image differing in every voxel passed `voxel_sd_max <= ...`
    and `voxel_sigdigits_min >= 10`); 1e-30 values 1 ulp apart keep a positive SD and are not counted."""
    x = _one_ulp_study(np.float64)
    x[..., 1] *= 1.5
    res, maps, _ = _run(tmp_path / "tiny", x * 1e-171)
    assert res["summary"]["differ_sd_zero_voxels"] == int(np.prod(SPATIAL))
    assert res["summary"]["sd_max"] == 0.0 and res["summary"]["differ_fraction"] == 1.0
    small, _, _ = _run(tmp_path / "small", _one_ulp_study(np.float64) * 1e-32)
    assert small["summary"]["differ_sd_zero_voxels"] == 0


def _finite_study() -> np.ndarray:
    rng = np.random.default_rng(11)
    x = rng.uniform(50, 60, size=(*SPATIAL, 4, 1)) + rng.normal(0, 0.1, size=(*SPATIAL, 4, 3))
    return x.astype(np.float32)


def test_a_nan_voxel_in_one_execution_is_a_mapped_finding_and_the_subject_is_kept(tmp_path: Path) -> None:
    """One NaN voxel in one execution of one subject: the subject stays (4 subjects), the voxel is counted in
    nonfinite_voxels and nonfinite_differ_voxels, mapped in nonfinite_differ and differ, NaN in the metric
    maps; every other voxel's metrics equal the scalar functions over all 4 subjects. The old code left the
    subject out (an error) and gave metrics over 3 subjects."""
    x = _finite_study()
    x[1, 2, 0, 2, 1] = np.nan
    res, maps, errors = _run(tmp_path, x)
    v = np.ravel_multi_index((1, 2, 0), SPATIAL)
    assert errors == [] and res["subjects"] == 4
    s = res["summary"]
    assert (s["nonfinite_voxels"], s["nonfinite_differ_voxels"], s["nonfinite_everywhere_voxels"]) == (1, 1, 0)
    assert np.flatnonzero(maps["nonfinite_differ"]).tolist() == [v] and maps["differ"][v] == 1
    assert (s["voxels_with_metrics"], s["voxels_without_metrics"]) == (23, 1)
    oracle = _scalar_maps(np.nan_to_num(x), [])
    others = np.arange(24) != v
    for name in ("sd", "icc_a1", "sigdigits", "share_subject"):
        assert np.isnan(maps[name][v])
        np.testing.assert_allclose(maps[name][others], oracle[name][others], rtol=1e-5, atol=1e-9, err_msg=name)
    assert s["sd_max"] == pytest.approx(float(oracle["sd"][others].max()), rel=1e-9, abs=0)


def _payload_nan(payload: int) -> np.float32:
    return np.array([0x7FC00000 | payload], dtype=np.uint32).view(np.float32)[0]


def test_nonfinite_values_compare_as_values(tmp_path: Path) -> None:
    """Per voxel and subject: the same NaN in every execution is no difference (counted, excluded from the
    metrics); NaN against inf, and +inf against -inf, differ and are nonfinite_differ findings; NaNs whose
    sign or payload differ (x86's default NaN 0xFFC00000 from a SIMD 0/0 beside numpy's 0x7FC00000) are one
    NaN: review PH's failed-fit mask, the same under threads 1 and 2, read "not reproducible"."""
    x = _finite_study()
    same_nan, nan_inf, payloads, infs = (0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0)
    for p in (same_nan, nan_inf, payloads, infs):
        x[p] = x[p][:, :1]  # identical finite executions: any difference below is a non-finite one
    x[(*same_nan, 3)] = np.nan  # subject 3 only, all 3 executions: the same NaN
    x[(*nan_inf, 0)] = [np.nan, np.inf, np.nan]
    negative = np.array([0xFFC00000], dtype=np.uint32).view(np.float32)[0]
    x[(*payloads, 1)] = [_payload_nan(1), _payload_nan(2), negative]
    x[(*infs, 2)] = [np.inf, np.inf, -np.inf]
    res, maps, errors = _run(tmp_path, x)
    idx = [np.ravel_multi_index(p, SPATIAL) for p in (same_nan, nan_inf, payloads, infs)]
    assert errors == [] and res["subjects"] == 4
    s = res["summary"]
    assert (s["nonfinite_voxels"], s["nonfinite_differ_voxels"], s["nonfinite_everywhere_voxels"]) == (4, 2, 0)
    assert maps["differ"][idx].tolist() == [0, 1, 0, 1]
    assert maps["nonfinite_differ"][idx].tolist() == [0, 1, 0, 1]
    assert np.all(np.isnan(maps["sd"][idx])) and s["voxels_with_metrics"] == 20


def test_nan_payloads_alone_warn_that_files_differ(tmp_path: Path) -> None:
    """End to end: files differing only in their NaNs' sign bit are bit-for-bit different with every voxel the
    same: a warning that says where the difference may be, exit 0 (review PH: "not reproducible", exit 1)."""
    x = _finite_study()[..., :3, :1].repeat(2, axis=-1)  # the repetitions identical
    x[:2] = np.nan
    x[..., 1].view(np.uint32)[np.isnan(x[..., 1])] = 0xFFC00000
    doc = _ingested(tmp_path, x).analyze().document
    (out,) = doc["outputs"]
    assert out["summary"]["voxel_nonfinite_differ_voxels"] == 0 and out["summary"]["voxel_differ_fraction"] == 0
    assert not out["bitwise"]["identical"]
    (why,) = [r for r in out["verdict"]["reasons"] if not r["passed"]]
    assert why["severity"] == "warn" and "the sign or payload of NaN voxels (one NaN)" in why["message"]
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("warn", 0)


def test_a_voxel_nan_everywhere_is_excluded_and_counted(tmp_path: Path) -> None:
    """NaN in every execution of every subject (a pipeline's background): excluded from the metrics and the
    mask, counted in nonfinite_voxels and nonfinite_everywhere_voxels, not a difference. The old code left
    every subject out and skipped the maps."""
    x = _finite_study()
    x[3, 1, 1] = np.nan
    res, maps, errors = _run(tmp_path, x)
    v = np.ravel_multi_index((3, 1, 1), SPATIAL)
    s = res["summary"]
    assert errors == [] and res["subjects"] == 4
    assert (s["nonfinite_voxels"], s["nonfinite_differ_voxels"], s["nonfinite_everywhere_voxels"]) == (1, 0, 1)
    assert maps["differ"][v] == 0 and maps["mask"][v] == 0 and not maps["nonfinite_differ"].any()
    assert np.isnan(maps["sd"][v]) and (s["mask_voxels"], s["voxels_with_metrics"]) == (23, 23)
    others = np.arange(24) != v
    np.testing.assert_allclose(maps["icc_a1"][others], _scalar_maps(np.nan_to_num(x), [])["icc_a1"][others], rtol=1e-5)


def _ingested(root: Path, x: np.ndarray) -> Study:
    """A study ingested from ``x`` of shape ``(*SPATIAL, subjects, repetitions)``, one NIfTI per execution."""
    for s in range(x.shape[3]):
        for r in range(x.shape[4]):
            out = root / "results" / f"sub-{s}" / f"run-{r + 1}"
            out.mkdir(parents=True)
            nib.save(nib.Nifti1Image(x[..., s, r], np.eye(4)), out / "img.nii.gz")
    study = root / "study.yaml"
    study.write_text("outputs:\n  img: {path: img.nii.gz, kind: image}\n")
    assert main(["ingest", str(study), "--pattern", "results/{subject}/run-{repetition}"]) == 0
    return Study.load(study)


def test_analyze_reports_nonfinite_voxels_and_keeps_the_subject(tmp_path: Path) -> None:
    """End to end (ingested NIfTI files, ``reprovip analyze``): one NaN voxel in one execution of 3 subjects x
    2 repetitions reaches the document as ``summary.voxel_nonfinite_differ_voxels`` with no error and all 3
    subjects analysed."""
    x = _finite_study()[..., :3, :2]
    x[0, 0, 0, 1, 0] = np.nan
    out = _ingested(tmp_path, x).analyze().document["outputs"][0]
    assert out["errors"] == [] and out["voxelwise"]["subjects"] == 3
    assert out["summary"]["voxel_nonfinite_differ_voxels"] == 1 and out["summary"]["voxel_nonfinite_voxels"] == 1


def test_a_subject_nan_everywhere_is_named_and_warned(tmp_path: Path) -> None:
    """One subject's image NaN at every voxel of every execution (nothing computed for it) read "reproducible
    (bit-for-bit identical)" with no word (review DD; the table twin warns): the summary names the subject and
    the built-in check warns, in ``check`` and in the stored document alike."""
    x = _finite_study()[..., :3, :2]
    x[..., :] = x[..., :1]  # every repetition identical
    x[..., 1, :] = np.nan
    res, _, errors = _run(tmp_path / "direct", x)
    assert errors == [] and res["summary"]["nonfinite_subjects"] == ["sub-1"]
    doc = _ingested(tmp_path, x).analyze().document
    reasons = doc["outputs"][0]["verdict"]["reasons"]
    (warned,) = [r for r in reasons if r["criterion"] == "something finite in every subject's images"]
    assert warned["severity"] == "warn" and not warned["passed"]
    assert "for 1 subject(s): sub-1;" in warned["message"]
    assert doc["verdict"]["status"] == "warn"


def test_a_subject_nan_everywhere_leaves_the_others_maps(tmp_path: Path) -> None:
    """Review ZZ: one subject NaN at every voxel left no voxel finite in every subject: no voxel metric at all,
    and "4096 of the 4096 voxels that differ have no voxel metric", not analysable. It is left out of the maps
    (named, a warning) and the others are measured as without it."""
    x = _finite_study()
    x[..., 1, :] = np.nan
    res, maps, errors = _run(tmp_path / "nan", x)
    alone, alone_maps, _ = _run(tmp_path / "without", np.delete(_finite_study(), 1, axis=3))
    assert errors == [] and res["summary"]["nonfinite_subjects"] == ["sub-1"] and res["subjects"] == 3
    assert res["summary"]["voxels_with_metrics"] == alone["summary"]["voxels_with_metrics"] == 24
    np.testing.assert_array_equal(maps["icc_a1"], alone_maps["icc_a1"])
    doc = _ingested(tmp_path / "study", x[..., :2]).analyze().document
    (warned,) = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"].startswith("something finite")]
    assert warned["severity"] == "warn" and doc["outputs"][0]["verdict"]["status"] != "error"


def test_a_subject_zero_everywhere_is_left_out_of_the_maps_and_warned(tmp_path: Path) -> None:
    """Review DG: one subject's image 0 at every voxel of every execution (a silent failure), kept, lifted a
    failing study's median voxel ICC from 0.718 to a pass. Beside subjects with a signal, it is left out of the
    maps as a subject NaN everywhere is, and named in a warning; the others are measured as without it."""
    x = _finite_study()
    x[..., 1, :] = 0.0
    res, maps, errors = _run(tmp_path / "zero", x)
    alone, alone_maps, _ = _run(tmp_path / "without", np.delete(_finite_study(), 1, axis=3))
    assert errors == [] and res["summary"]["zero_subjects"] == ["sub-1"] and res["subjects"] == 3
    np.testing.assert_array_equal(maps["icc_a1"], alone_maps["icc_a1"])
    doc = _ingested(tmp_path / "study", x).analyze().document
    (warned,) = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"].startswith("something in every")]
    assert (
        warned["severity"] == "warn"
        and "every voxel of every execution is 0 for 1 subject(s): sub-1;" in warned["message"]
    )
    half = _finite_study()
    half[..., :2, :] = 0.0  # half the subjects without a signal: kept (not "a few among others")
    assert _run(tmp_path / "half", half)[0]["summary"]["zero_subjects"] == []


def test_voxels_where_the_icc_is_not_estimable_are_counted(tmp_path: Path) -> None:
    """A voxel equal in every execution of every subject has ICC 0/0 (not estimable, NaN in the map, as
    reprovip.metrics.icc_all says): the summary counts it instead of silently computing its median without it."""
    rng = np.random.default_rng(5)
    n, levels, k = 4, 2, 2
    x = rng.uniform(100, 120, size=(*SPATIAL, n, 1, 1)) + 1e-3 * rng.normal(size=(*SPATIAL, n, levels, k))
    x[0, 0, 0] = 7.0  # the same value everywhere
    res, maps, _ = _run(tmp_path, x)
    oracle = icc_all(_flat(x))["ICC(A,1)"]
    assert int(np.sum(~np.asarray(oracle.estimable))) == 1 and np.isnan(maps["icc_a1"][0])
    assert res["summary"]["icc_a1_undefined_voxels"] == 1 and res["summary"]["sd_undefined_voxels"] == 0


def _maps_of(root: Path, design: Design, subjects: list[str] | None = None) -> tuple[dict[str, Any], dict, list]:
    errors: list[dict[str, Any]] = []
    res = voxelwise_maps(design, subjects or list(design.complete), root, errors=errors)
    return res, {name: np.asarray(nib.load(p).dataobj) for name, p in res["maps"].items()}, errors


def _alias_cell_zero(design: Design) -> Design:
    """The same design where every repetition of cell 0 is the subject's first file of that cell, as in a
    content-addressed store where byte-identical outputs share one blob."""
    grid = {}
    for s, cells in design.grid.items():
        first = {cell: rec for (cell, rep), rec in cells.items() if rep == 0}
        grid[s] = {
            (cell, rep): (replace(rec, path=first[cell].path) if cell == design.cells[0] else rec)
            for (cell, rep), rec in cells.items()
        }
    return replace(design, grid=grid)


def test_a_file_shared_by_executions_is_read_once_with_the_same_maps(tmp_path: Path, monkeypatch) -> None:
    """Byte-identical outputs (one blob, one path) are decompressed once per subject (the first subject's and
    the others' first once more, for the reference mask); the maps and summary are bit for bit those of the same values read from
    separate files (the plain path)."""
    rng = np.random.default_rng(11)
    n, k = 4, 3
    x = rng.uniform(50, 60, size=(*SPATIAL, n, 1, 1)) + 1e-3 * rng.normal(size=(*SPATIAL, n, 2, k))
    x[..., 0, :] = x[..., 0, :1]  # cell 0 deterministic: its k executions equal
    design = _design(tmp_path, x)
    plain, plain_maps, _ = _maps_of(tmp_path / "plain", design)
    reads: list[Path] = []
    real = voxelwise._image_read  # every read of a volume, for its voxels alone (_volume) or its header too
    monkeypatch.setattr(voxelwise, "_image_read", lambda path, *rest: reads.append(path) or real(path, *rest))
    shared, shared_maps, errors = _maps_of(tmp_path / "shared", _alias_cell_zero(design))
    reference = (1 + k) + (n - 1)  # the first subject's files, then each other subject's first
    assert errors == [] and len(reads) == n * (1 + k) + reference and len(set(reads)) == n * (1 + k)  # not n * 2k
    assert shared["summary"] == plain["summary"] and shared_maps.keys() == plain_maps.keys()
    for name, values in plain_maps.items():
        np.testing.assert_array_equal(shared_maps[name], values, err_msg=name)


def test_unreadable_volumes_leave_their_subject_out_and_are_named(tmp_path: Path) -> None:
    """A volume cut short in the middle of a subject, and another subject's first volume corrupted: each
    subject is left out with its file named (the first bad file in block order), and the maps equal those
    of the study without them, bit for bit."""
    rng = np.random.default_rng(5)
    x = rng.uniform(50, 60, size=(*SPATIAL, 5, 1, 1)) + 1e-3 * rng.normal(size=(*SPATIAL, 5, 2, 2))
    design = _design(tmp_path, x)
    cut = design.grid["sub-1"][(design.cells[1], 0)].path
    bad_first = design.grid["sub-3"][(design.cells[0], 0)].path
    cut.write_bytes(cut.read_bytes()[:-20])
    bad_first.write_bytes(b"not a NIfTI file")
    res, maps, errors = _maps_of(tmp_path / "maps", design)
    assert [(e["subject"], e["error"].split(":")[0]) for e in errors] == [
        ("sub-1", str(cut)),
        ("sub-3", str(bad_first)),
    ]
    assert "truncated gzip stream" in errors[0]["error"] and res["subjects"] == 3
    _, kept_maps, _ = _maps_of(tmp_path / "kept", design, ["sub-0", "sub-2", "sub-4"])
    for name, values in kept_maps.items():
        np.testing.assert_array_equal(maps[name], values, err_msg=name)


def test_differences_outside_the_voxels_with_metrics_are_counted(tmp_path: Path) -> None:
    """Metrics cover the non-zero voxels of the first subject's volumes and of the others' first: a voxel zero
    there but differing between the later executions of another subject is counted, so the verdict can warn that
    no metric criterion sees it."""
    rng = np.random.default_rng(7)
    n, levels, k = 3, 2, 2
    x = rng.uniform(100, 120, size=(*SPATIAL, n, 1, 1)) + np.zeros((*SPATIAL, n, levels, k))
    x[0, 0, 0, 0] = 0.0  # zero in the first subject: outside the reference region
    x[0, 0, 0, 1] = rng.uniform(1, 2, size=(levels, k))  # differs between the executions of subject 2
    x[0, 0, 0, 1, 0, 0] = 0.0  # but its first
    x[0, 0, 0, 2] = 0.0  # and zero in the third subject
    res, maps, _ = _run(tmp_path, x)
    assert maps["differ"][0] == 1 and res["summary"]["differ_without_metrics"] == 1
    assert res["summary"]["differ_fraction"] > 0


def test_a_subject_on_its_own_grid_is_named_with_what_to_do(tmp_path: Path) -> None:
    """Images in each subject's native space: the odd grid is reported with the fix (resample to a template,
    or compare files only), not only as a file that could not be read."""
    x = np.random.default_rng(6).uniform(50, 60, size=(*SPATIAL, 3, 2))
    design = _design(tmp_path, x)
    for rec in design.grid["sub-2"].values():  # a grid shifted by 2 mm
        img = nib.load(rec.path)
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj), img.affine + np.pad([[2.0]], ((0, 3), (3, 0)))), rec.path)
    _, _, errors = _maps_of(tmp_path / "maps", design)
    # each execution named, not only its subject (a review could not tell which file was on another grid), and
    # every one of them (reviews counted 4 of 8 files off the grid)
    assert [(e["condition"], e["repetition"]) for e in errors] == [("-", 0), ("-", 1)]  # this design counts from 0
    error = errors[0]
    assert error["subject"] == "sub-2" and error["error"].endswith(
        "affine differs from the other executions' by 2 at row 0, column 3 (tolerance 1e-05 plus 4 float32 steps); "
        "voxelwise maps need every execution on one "
        "grid: images in each subject's native space must be resampled to a common template first, or declare the "
        "output `kind: bytes` to compare the files only"
    )


def test_an_execution_off_its_own_subject_s_grid_is_the_geometry_changing(tmp_path: Path) -> None:
    """Review K: threads=2 moved the affine by 1e-3 mm in every subject; the message advised resampling
    native-space images to a template, and the maps said "fewer than two complete subjects" although every
    subject had all its executions."""
    x = np.random.default_rng(6).uniform(50, 60, size=(*SPATIAL, 3, 2, 1))
    design = _design(tmp_path, x)
    shifted = np.pad([[1e-3]], ((0, 3), (3, 0)))
    for s in design.subjects:
        rec = design.grid[s][(design.cells[1], 0)]
        img = nib.load(rec.path)
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj), img.affine + shifted), rec.path)
    errors: list[dict] = []
    res = voxelwise_maps(design, list(design.complete), tmp_path / "maps", errors=errors)
    assert [e["subject"] for e in errors] == list(design.subjects)
    assert errors[0]["error"].endswith(
        "affine differs from the other executions' by 0.001 at row 0, column 3 (tolerance 1e-05 plus 4 float32 "
        "steps); its subject's executions wrote their images on different grids: the application's output geometry "
        "is not reproducible (threads decides it: each of its levels writes its own grid); voxelwise maps need "
        "every execution on one grid, or declare the output `kind: bytes` to compare the files only"
    )
    assert res == {"skipped": "fewer than two subjects whose every execution could be read on one grid"}


def test_one_volume_written_as_x_y_z_1_is_the_same_grid(tmp_path: Path) -> None:
    """Some executions write one volume as (x, y, z, 1), others as (x, y, z), as tools do: the same grid, the
    maps those of the 3-D files (a review's study read "not analysable", advising to resample to a template)."""
    rng = np.random.default_rng(8)
    x = rng.uniform(50, 60, size=(*SPATIAL, 3, 1, 1)) + 1e-3 * rng.normal(size=(*SPATIAL, 3, 2, 2))
    design = _design(tmp_path, x)
    _, plain, _ = _maps_of(tmp_path / "plain", design)
    for rec in [design.grid[s][(design.cells[1], r)] for s in design.subjects for r in (0, 1)]:
        img = nib.load(rec.path)
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[..., None], img.affine), rec.path)
    res, maps, errors = _maps_of(tmp_path / "maps", design)
    assert errors == [] and res["subjects"] == 3
    for name, values in plain.items():
        np.testing.assert_array_equal(maps[name], values, err_msg=name)


def test_an_execution_with_another_number_of_frames_is_named_as_such(tmp_path: Path) -> None:
    """11 frames where the others have 12: the message says so, not "resample native-space images"."""
    x = np.random.default_rng(9).uniform(50, 60, size=(*SPATIAL, 3, 2))
    design = _design(tmp_path, x)
    for rec in design.grid["sub-1"].values():
        img = nib.load(rec.path)
        frames = 11 if rec.repetition == 1 else 12
        nib.save(nib.Nifti1Image(np.repeat(np.asarray(img.dataobj)[..., None], frames, axis=3), img.affine), rec.path)
    for s in ("sub-0", "sub-2"):
        for rec in design.grid[s].values():
            img = nib.load(rec.path)
            nib.save(nib.Nifti1Image(np.repeat(np.asarray(img.dataobj)[..., None], 12, axis=3), img.affine), rec.path)
    _, _, errors = _maps_of(tmp_path / "maps", design)
    (error,) = errors
    assert error["subject"] == "sub-1" and error["error"].endswith(
        "11 volumes (shape (4, 3, 2, 11)) where the other executions have 12 volumes (shape (4, 3, 2, 12)): this "
        "execution wrote more or fewer volumes (frames) than the others; check its log"
    )


@pytest.mark.parametrize("case", ["first volume nearly empty", "gained voxels outside"])
def test_an_execution_that_lost_or_gained_its_support_is_named_even_when_read_first(tmp_path: Path, case) -> None:
    """Non-zero voxels counted on the whole grid: a nearly empty image read first (the reference region, so its
    failure was counted among its own 8 voxels only) and an image that kept the whole head where the others are
    skull-stripped (voxels gained outside the reference region were never counted) are named (reviews)."""
    rng = np.random.default_rng(10)
    x = np.zeros((10, 10, 10, 3, 1, 3))
    x[2:8, 2:8, 2:8] = rng.uniform(50, 60, size=(6, 6, 6, 3, 1, 1)) + 1e-3 * rng.normal(size=(6, 6, 6, 3, 1, 3))
    if case == "first volume nearly empty":
        x[..., 0, 0, 0] = 0.0
        x[4:6, 4:6, 4:6, 0, 0, 0] = 55.0
    else:
        x[..., 1, 0, 2] = np.where(x[..., 1, 0, 2] == 0, 20.0, x[..., 1, 0, 2])  # the whole head
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    odd = res["support_outliers"][0]
    expected = ("sub-0", 0, 8, 216) if case == "first volume nearly empty" else ("sub-1", 2, 1000, 216)
    assert (odd["subject"], odd["repetition"], odd["value"], odd["typical"]) == expected
    assert odd["measure"] == "non-zero voxels"


@pytest.mark.parametrize("case", ["denormals flushed", "exact zeros for residue", "residue only"])
def test_residue_is_no_support_and_an_image_of_residue_is_no_image(tmp_path: Path, case) -> None:
    """float32 images of 50-60 whose background holds denormals (1e-40) or 1e-12 of solver residue: one build
    flushes them to zero (its non-zero count falls from 1000 to 216 and "images of every execution alike"
    failed the study: reviews' false alarms). Counted above 1e-6 of the subject's typical largest value, it has
    lost nothing. An execution that wrote residue only (1e-30 everywhere, a failed run) has lost its image."""
    rng = np.random.default_rng(12)
    x = np.zeros((10, 10, 10, 3, 1, 3), dtype=np.float32)
    x[2:8, 2:8, 2:8] = rng.uniform(50, 60, size=(6, 6, 6, 3, 1, 1)) + 1e-3 * rng.normal(size=(6, 6, 6, 3, 1, 3))
    residue = {"denormals flushed": 1e-40, "exact zeros for residue": 1e-12, "residue only": 0.0}[case]
    x = np.where(x == 0, np.float32(residue) * rng.uniform(1, 2, size=x.shape), x).astype(np.float32)
    if case == "residue only":
        x[..., 1, 0, 2] = 1e-30
    else:
        x[..., 1, 0, 2] = np.where(x[..., 1, 0, 2] < 1, 0.0, x[..., 1, 0, 2])  # this build writes exact zeros
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    if case == "residue only":
        (odd,) = [o for o in res["support_outliers"] if o["measure"] == "non-zero voxels"]
        assert (odd["subject"], odd["repetition"], odd["value"], odd["typical"]) == ("sub-1", 2, 0, 216)
    else:
        assert "support_outliers" not in res and res["summary"]["support_outliers"] == 0


def test_an_execution_that_wrote_the_mask_instead_of_the_image_is_named(tmp_path: Path) -> None:
    """One execution wrote the brain mask (1.0) instead of the image (800-2000) with the same non-zero voxels:
    voxel ICC median 0.95, "sufficiently reproducible" (a review); its mean magnitude is 1/1000 of its subject's
    other executions: named. Executions whose magnitude moves a little (1%) are not."""
    rng = np.random.default_rng(11)
    x = np.zeros((8, 8, 8, 10, 1, 3))
    x[1:7, 1:7, 1:7] = rng.uniform(800, 2000, size=(6, 6, 6, 10, 1, 1)) * rng.uniform(
        0.99, 1.01, size=(1, 1, 1, 10, 1, 3)
    )
    x[1:7, 1:7, 1:7, 4, 0, 1] = 1.0
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    (odd,) = res["support_outliers"]
    assert (odd["subject"], odd["repetition"], odd["measure"], odd["value"]) == ("sub-4", 1, "mean |value|", 1.0)
    assert 1300 < odd["typical"] < 1500 and odd["changed_fraction"] > 0.999


def test_one_run_scaled_among_identical_runs_is_named(tmp_path: Path) -> None:
    """Review L2: one run of sub-0's quantitative map scaled 1.8 times while its two other runs are bit-for-bit
    equal, beside subjects 100 to 3600 apart: under half or twice its subject's magnitude, and a small distance
    beside the subjects' spread; only a warning about sub-0's scale. A fifth is enough beside identical runs;
    a run 10% off is left to the metrics, and so is 1.8 times where the other runs vary."""
    rng = np.random.default_rng(15)
    levels = np.array([100.0, 900.0, 1700.0, 2600.0, 3600.0])[None, None, None, :, None, None]
    x = np.zeros((8, 8, 8, 5, 1, 3))
    x[1:7, 1:7, 1:7] = levels * rng.uniform(0.8, 1.2, size=(6, 6, 6, 5, 1, 1))
    for factor, named in ((1.1, False), (1.8, True)):
        y = x.copy()
        y[..., 0, 0, 1] *= factor
        res, _, _ = _maps_of(tmp_path / f"x{factor}", _design(tmp_path / f"x{factor}", y))
        if named:
            (odd,) = res["support_outliers"]
            assert (odd["subject"], odd["repetition"], odd["measure"]) == ("sub-0", 1, "mean |value|")
            assert odd["changed_fraction"] == round(0.8 / 1.8, 4)
        else:
            assert "support_outliers" not in res
    y = x * rng.uniform(0.97, 1.03, size=(1, 1, 1, 5, 1, 3))  # every run varies a little
    y[..., 0, 0, 1] *= 1.8
    res, _, _ = _maps_of(tmp_path / "noisy", _design(tmp_path / "noisy", y))
    assert "support_outliers" not in res


def test_with_one_repetition_a_level_scaling_one_subject_is_no_odd_execution(tmp_path: Path) -> None:
    """Review P4: a factor of 3 levels, k = 1, subjects 100 to 2500 apart; one level scales sub-2's map by 1.25, its
    two other levels identical: named "images of every execution alike", a failure, where the same values as a
    table are not. With one repetition per condition an odd run cannot be told from a level's effect."""
    rng = np.random.default_rng(16)
    levels = np.array([100.0, 700.0, 1300.0, 1900.0, 2500.0])[None, None, None, :, None, None]
    x = np.zeros((8, 8, 8, 5, 3, 1))
    x[1:7, 1:7, 1:7] = levels * rng.uniform(0.8, 1.2, size=(6, 6, 6, 5, 1, 1))
    x[..., 2, 1, 0] *= 1.25
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    assert "support_outliers" not in res


@pytest.mark.parametrize("slab", [2, 8])
def test_an_execution_holding_another_subjects_image_is_named(tmp_path: Path, slab: int) -> None:
    """One execution of 18 holds another subject's voxels, in a slab (a quarter of the grid) or whole: its voxel
    count and magnitude are its subject's, the median voxel ICC stayed 0.945 and the study passed (a review; the
    same values as a table failed). It lies as far from its other repetitions as subjects lie from one another:
    named. Repetitions that all differ, a little or by a third of the subjects' spread, name none (a review's
    registration jitter was named against a median of three distances)."""
    rng = np.random.default_rng(13)
    for seed in range(4):  # repetitions that all jitter, a third of the subjects' spread: none is named
        jitter = np.random.default_rng(seed).normal(0, 30, size=(8, 8, 8, 6, 1, 3))
        res, _, _ = _maps_of(tmp_path / f"jitter{seed}", _design(tmp_path / f"jitter{seed}", 500 + jitter))
        assert "support_outliers" not in res
    x = 500 + rng.normal(0, 100, size=(8, 8, 8, 6, 1, 1)) + rng.normal(0, 2, size=(8, 8, 8, 6, 1, 3))
    res, _, _ = _maps_of(tmp_path / "plain", _design(tmp_path / "plain", x))
    assert "support_outliers" not in res
    x[:, :, :slab, 1, 0, 1] = x[:, :, :slab, 4, 0, 1]
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    (odd,) = res["support_outliers"]
    assert (odd["subject"], odd["repetition"], odd["measure"]) == ("sub-1", 1, "distance from the other repetitions")
    # RMS of the difference of two subjects (141) over the slab's share of the grid, against noise of 2
    assert odd["value"] == pytest.approx(141 * np.sqrt(slab / 8), rel=0.15) and odd["typical"] < 3
    assert odd["between_subjects"] == pytest.approx(100, rel=0.3)


def test_with_two_repetitions_an_execution_far_from_its_subject_s_others_is_named(tmp_path: Path) -> None:
    """Review C: threads [1, 2] x K = 2, one execution holding a slab of zeros (a quarter of the grid): its
    condition has 2 repetitions, the test needed 3, and the study passed ("sufficiently reproducible"). With 2,
    it is measured against all its subject's executions. A level that moves both its repetitions (by half the
    subjects' spread) names none, and neither does K = 1, where an odd execution is a level's effect too."""
    rng = np.random.default_rng(14)
    x = 500 + rng.normal(0, 100, size=(8, 8, 8, 6, 1, 1)) + rng.normal(0, 2, size=(8, 8, 8, 6, 2, 2))
    x[..., 3, 1, :] += rng.normal(0, 50, size=(8, 8, 8, 1))  # threads=2 changes sub-3's image, both repetitions
    res, _, _ = _maps_of(tmp_path / "plain", _design(tmp_path / "plain", x))
    assert "support_outliers" not in res
    res, _, _ = _maps_of(tmp_path / "single", _design(tmp_path / "single", x[..., :1]))
    assert "support_outliers" not in res
    x[:, :, :2, 2, 1, 1] = 0.0
    res, _, _ = _maps_of(tmp_path / "zeros", _design(tmp_path / "zeros", x))
    (odd,) = res["support_outliers"]  # its voxel count fell by a quarter where the others' are equal (review L2)
    assert (odd["subject"], odd["condition"], odd["repetition"], odd["measure"]) == (
        "sub-2",
        "threads=1",
        1,
        "non-zero voxels",
    )
    x[:, :, :2, 2, 1, 1] = 1.0  # a slab of ones: the count stays, the distance names it
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    (odd,) = res["support_outliers"]
    assert (odd["subject"], odd["condition"], odd["repetition"]) == ("sub-2", "threads=1", 1)
    assert odd["measure"] == "distance from the subject's other executions"
    assert odd["value"] == pytest.approx(np.sqrt(500**2 + 100**2) / 2, rel=0.2) and odd["typical"] < 3


def test_one_run_a_voxel_off_among_identical_runs_is_named(tmp_path: Path) -> None:
    """Review K: a smooth image, 3 subjects x threads [1, 2] x K = 2, identical runs but one shifted by a voxel:
    0.36 subjects' spreads from the others (the test wanted 0.5), median voxel ICC 0.99, "pass", nothing said.
    When the others agree ten times closer, a quarter of a spread is enough; the same shift in every run of a
    subject (its own image) names none."""
    from scipy import ndimage

    image = ndimage.gaussian_filter(np.random.default_rng(15).uniform(0, 100, size=(12, 12, 12)), 2) * 4
    # subjects 14 apart (the spread); a voxel's shift moves the image by 5.1 RMS: 0.37 spreads
    subjects = [image + 14.0 * i for i in range(3)]
    x = np.stack([np.stack([np.stack([s, s], -1)] * 2, -2) for s in subjects], 3)  # (12,12,12, 3, 2, 2)
    res, _, _ = _maps_of(tmp_path / "plain", _design(tmp_path / "plain", x))
    assert "support_outliers" not in res
    x[..., 1, 0, 1] = np.roll(x[..., 1, 0, 1], 1, axis=0)
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    (odd,) = res["support_outliers"]
    assert (odd["subject"], odd["condition"], odd["repetition"]) == ("sub-1", "threads=0", 1)
    assert odd["typical"] == 0 and 0.25 <= odd["changed_fraction"] < 0.5


def test_a_subject_on_another_intensity_scale_is_named(tmp_path: Path) -> None:
    """One subject's images 100 times the others' (unnormalised scanner units) make every voxel's ICC near 1 whatever
    the executions do (a review: 0.999999 with it, 0.47 without): named in ``far_subjects``; subjects within a
    factor of 2 of each other are not."""
    rng = np.random.default_rng(12)
    x = rng.uniform(90, 110, size=(6, 6, 6, 6, 1, 1)) + rng.normal(0, 5, size=(6, 6, 6, 6, 1, 3))
    res, _, _ = _maps_of(tmp_path / "plain", _design(tmp_path / "plain", x))
    assert "far_subjects" not in res
    x[..., 5, :, :] *= 100
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    (far,) = res["far_subjects"]
    assert far["subject"] == "sub-5" and 95 < far["ratio"] < 105 and res["summary"]["icc_a1_median"] > 0.99


def test_images_without_voxels_are_skipped_with_the_reason(tmp_path: Path) -> None:
    """A zero-length axis: the accumulator's internal error ("`spatial_shape` must be an integer >= 1") was stored
    as the output's error and identical files read "not analysable" (a review)."""
    x = np.zeros((0, 3, 2, 2, 1, 2))
    design = _design(tmp_path, x)
    errors: list[dict[str, Any]] = []
    res = voxelwise_maps(design, list(design.complete), tmp_path / "maps", errors=errors)
    assert res == {"skipped": "the images hold no voxel (shape (0, 3, 2))"} and errors == []


@pytest.mark.parametrize(
    ("change", "within"),
    [("none", True), ("shift", False), ("noise", False)],
)
def test_a_noisy_condition_does_not_hide_a_change_of_a_deterministic_one(
    tmp_path: Path, change: str, within: bool
) -> None:
    """The review's case on images: threads=1 bit-identical run to run in the baseline, threads=2 with run-to-run
    SD 50. The new version moves every subject's threads=1 value at voxel (2, 1, 0) by +25 ("shift"), or adds
    noise of mean 0 there (-0.5, 0, +0.5) for one subject ("noise"): pooled over the conditions, the spread
    there was ~35 and the voxel read "within the envelope" (while threads=1's zero spread, pooled in, halved
    threads=2's variance: the versions without a change read outside at voxel (2, 1, 1), |z| 4.95). threads=1 is
    judged alone: any change is outside, and the voxel is named with its condition; threads=2 against its own
    spread, so the same versions without a change stay inside."""
    rng = np.random.default_rng(5)
    n, k = 8, 3
    x = 300.0 * (1 + np.arange(n))[:, None, None, None, None, None, None] + np.zeros((n, 2, 2, k, *SPATIAL))
    x[:, 1] += rng.normal(0, 50, size=(n, 2, k, *SPATIAL))  # (subject, threads, version, k, *grid)
    if change == "shift":
        x[:, 0, 1, :, 2, 1, 0] += 25.0
    elif change == "noise":
        x[2, 0, 1, :, 2, 1, 0] += [-0.5, 0.0, 0.5]
    records = []
    for s, t, v, r in np.ndindex(n, 2, 2, k):
        path = tmp_path / "in" / f"sub-{s}" / f"threads-{t + 1}" / f"version-{v + 1}.0" / f"run-{r}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(x[s, t, v, r], np.eye(4)), path)
        labels = (("threads", str(t + 1)), ("version", f"{v + 1}.0"))
        records.append(Record(f"sub-{s}", labels, f"threads={t + 1},version={v + 1}.0", r, path, None, None, None))
    design = build_design(records)
    res = voxelwise_maps(design, list(design.complete), tmp_path / "maps", errors=[], version_axis=1)
    env = res["envelope"]
    outside = np.asarray(nib.load(res["maps"]["envelope_outside"]).dataobj)
    assert env["within_envelope"] is within and env["outside_voxels"] == int(outside.sum()) == (0 if within else 1)
    if not within:
        assert outside[2, 1, 0] == 1
        assert env["worst_observation"] == "voxel (2, 1, 0), threads=1" and env["worst_condition"] == "threads=1"
        assert env["max_abs_z"] == "Infinity"
        departure = "25" if change == "shift" else "0.5"
        assert f"the largest change of a repetition, {departure} (with no run-to-run noise" in env["detail"]
        assert env["detail"].endswith("at voxel (2, 1, 0), threads=1")
    else:
        assert env["worst_condition"] == "threads=2" and float(env["max_abs_z"]) < env["z_critical"]


def test_voxels_whose_squares_overflow_are_counted_with_the_magnitude(tmp_path: Path) -> None:
    """Images near 1e300 (a review's float64 maps): every metric "not computed", no reason. The summary counts
    the voxels whose sums of squares overflow and gives the largest subject magnitude, for the criteria's
    message (rescale the images)."""
    rng = np.random.default_rng(13)
    x = rng.uniform(1, 5, size=(6, 6, 6, 3, 1, 1)) * 1e300 + np.zeros((6, 6, 6, 3, 1, 2))
    x[..., 1] *= 1.5  # the second execution differs everywhere
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    assert res["summary"]["overflow_voxels"] == 216 and 1e300 < res["summary"]["magnitude_max"] < 1e301


def test_a_voxel_icc_resting_on_one_subject_is_named_as_a_tables_is(tmp_path: Path) -> None:
    """Noisy images (run-to-run SD 3 beside subjects 1 apart) with one subject on a 3 times larger intensity
    scale: voxel ICC median 0.998, "sufficiently reproducible" with no warning, where the same values as a table
    warned (a review). The voxels sampled with every execution get the table's test: ICC 0.75 or more with all
    subjects, below 0.5 without the farthest; named when one subject is so at half of them or more."""
    rng = np.random.default_rng(14)
    x = 100 + rng.normal(0, 1, size=(8, 8, 8, 5, 1, 1)) + rng.normal(0, 3, size=(8, 8, 8, 5, 1, 3))
    res, _, _ = _maps_of(tmp_path / "plain", _design(tmp_path / "plain", x))
    assert "icc_leans_on" not in res
    x[..., 1, :, :] *= 3
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    lean = res["icc_leans_on"]
    assert lean["subject"] == "sub-1" and lean["voxels"] > 0.8
    assert lean["with"] > 0.99 and lean["without"] < 0.2 and res["summary"]["icc_a1_median"] > 0.99


@pytest.mark.parametrize("damaged", [0, 2])
def test_the_voxels_with_metrics_do_not_depend_on_the_execution_read_first(tmp_path: Path, damaged: int) -> None:
    """One execution of sub-0 zeroes 40% of the grid. Read first, it set the reference mask and the metric maps
    never saw the damage (sd_max 1.7, `voxel_sd_max <= 5` passed); read third, they did (sd_max 84): a review.
    The mask is the first subject's voxels non-zero in any execution: the same maps either way."""
    rng = np.random.default_rng(13)
    x = rng.uniform(50, 150, size=(10, 10, 10, 3, 1, 1)) + 1e-3 * rng.normal(size=(10, 10, 10, 3, 1, 3))
    x[:4, ..., 0, 0, damaged] = 0.0
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    assert res["summary"]["voxels_with_metrics"] == 1000 and res["summary"]["differ_without_metrics"] == 0
    pooled = np.sqrt(np.var(x[..., 0, :], axis=-1, ddof=1).mean(axis=-1))  # sqrt(MSW), the `sd` map
    assert res["summary"]["sd_max"] == pytest.approx(pooled.max(), rel=1e-9) and pooled.max() > 45


def test_a_signal_a_new_version_writes_over_the_background_is_outside_the_envelope(tmp_path: Path) -> None:
    """The baseline writes 0 outside a cube in every execution; version 2.0 writes 50 there. Only the first
    volume read (the baseline's) made the voxels with metrics, so the envelope test never looked there and the
    comparison passed; removing the signal instead failed (a review). Both directions are outside now."""
    rng = np.random.default_rng(14)
    n, k = 3, 3
    x = np.zeros((n, 2, k, 8, 8, 8))  # (subject, version, repetition, *grid)
    x[..., 2:6, 2:6, 2:6] = 100.0 * (1 + np.arange(n))[:, None, None, None, None, None]
    x[..., 2:6, 2:6, 2:6] += rng.normal(0, 0.1, size=(n, 2, k, 4, 4, 4))
    x[:, 1, :, :2] = 50.0  # the new version's signal where the baseline has nothing
    for first, then in ((0, 1), (1, 0)):
        records = []
        for s, v, r in np.ndindex(n, 2, k):
            path = tmp_path / f"{first}" / f"sub-{s}" / f"version-{v + 1}.0" / f"run-{r}.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(x[s, (first, then)[v], r], np.eye(4)), path)
            records.append(Record(f"sub-{s}", (("version", f"{v + 1}.0"),), f"version={v + 1}.0", r, path, *[None] * 3))
        design = build_design(records)
        res = voxelwise_maps(design, list(design.complete), tmp_path / f"maps-{first}", errors=[], version_axis=0)
        assert res["envelope"]["within_envelope"] is False, first
        assert res["envelope"]["outside_voxels"] == 2 * 8 * 8


def test_a_factor_dominates_the_voxels_where_it_carries_most_of_the_executions_variance(tmp_path: Path) -> None:
    """Subjects 1000 apart; threads adds +5 over a third of the grid, where the repetitions vary by 0.05: the
    factor's share of the total variance there is ~1e-5, never 0.5, so no region was found and run-to-run noise
    was blamed (a review). Of the executions' variance (the total less the subjects'), it is ~1 there."""
    rng = np.random.default_rng(15)
    x = 1000.0 * (1 + np.arange(4))[None, None, None, :, None, None] + rng.normal(0, 0.05, size=(6, 6, 6, 4, 2, 3))
    x[:2, ..., 1, :] += 5.0
    res, _, _ = _maps_of(tmp_path / "maps", _design(tmp_path, x))
    assert res["summary"]["share_threads_major_fraction"] == pytest.approx(1 / 3, abs=0.02)  # noise: a voxel or two
    assert res["summary"]["share_subject_major_fraction"] == 1.0
    assert res["summary"]["share_residual_major_fraction"] == pytest.approx(2 / 3, abs=0.05)


def test_images_with_a_singular_affine_are_skipped_with_the_reason(tmp_path: Path) -> None:
    """An sform with a zero column (voxel size 0) made `analyze` an internal error (nibabel cannot write a map on
    it, a review): the voxel maps are skipped with the reason, and the criteria say it."""
    from tests.conftest import ingested

    rng = np.random.default_rng(5)

    def image(s: int, r: int) -> bytes:
        x = (100 * s + rng.normal(0, 1, size=(4, 4, 3))).astype(np.float32)
        header = nib.Nifti1Image(x, np.eye(4)).header
        header["srow_z"], header["pixdim"][3] = [0, 0, 0, 0], 0  # a broken writer's: nibabel would refuse it
        header["qform_code"], header["sform_code"] = 0, 1
        return nib.Nifti1Image(x, None, header).to_bytes()

    files = {(f"s{s}", r): {"img.nii": image(s, r)} for s in range(1, 4) for r in (1, 2)}
    doc = ingested(tmp_path, "  img: {path: img.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["voxelwise"]["skipped"] == (
        "the images' affine is singular (a voxel size or axis of 0: 1 0 0 0; 0 1 0 0; 0 0 0 0); fix the header"
    )
    assert doc["verdict"]["status"] == "error"


def _maps_study(root: Path, fault: str) -> dict[str, Any]:
    """5 subjects x 3 repetitions of a 16^3 T1-like map (subjects 100 apart, each with its own anatomy), tiny
    noise in every run, and ``fault``; returns the output's document."""
    from scipy.ndimage import shift

    from tests.conftest import ingested

    rng = np.random.default_rng(1)
    shape = (16, 16, 16)
    files = {}
    for s in range(5):
        anatomy = 1000 + 100 * s + rng.normal(0, 50, shape)
        for r in range(1, 4):
            img = anatomy + rng.normal(0, 1e-4, shape)
            if fault == "failed fits":  # a fresh 0.3% of voxels per run written as 0 (a failed fit)
                img[rng.random(shape) < 0.003] = 0.0
            elif fault == "another minimum" and (s, r) == (2, 2):  # 1% of one run's voxels x 2.5
                img[rng.random(shape) < 0.01] *= 2.5
            elif fault == "noise":  # honest: every run differs, Gaussian
                img = anatomy + rng.normal(0, 20, shape)
            elif fault == "jitter":  # honest: a sub-voxel registration jitter in every run
                img = shift(anatomy, rng.normal(0, 0.2, 3), order=1, mode="nearest")
            elif fault == "outline jitter":  # ... of a smooth brain, the same outline in every subject, 0 outside
                grid = np.indices(shape) - 7.5
                inside = np.sqrt((grid**2).sum(axis=0)) < 6
                brain = np.where(inside, 100 + 20 * s + 10 * np.sin(grid[0] / 3), 0.0)
                img = shift(brain, rng.uniform(-0.4, 0.4, 3), order=1, mode="nearest")
            files[(f"sub-{s}", r)] = {"t1.nii": nib.Nifti1Image(img.astype(np.float32), np.eye(4)).to_bytes()}
    return ingested(root, "  t1: {path: t1.nii, kind: image}\n", files).analyze().document["outputs"][0]


@pytest.mark.parametrize(("fault", "apart"), [("failed fits", 3 * 5 * 12), ("another minimum", 41)])
def test_one_execution_apart_at_a_few_voxels_fails(tmp_path: Path, fault: str, apart: int) -> None:
    """Review DD: fits that failed (0) in a fresh 0.3% of voxels per run, or one run in another local minimum
    (x 2.5) at 1% of its voxels, read "sufficiently reproducible": the median and 5th-percentile ICC do not move.
    The voxels where one execution lies apart from its subject's others are counted, mapped and named."""
    out = _maps_study(tmp_path, fault)
    vox = out["voxelwise"]
    assert vox["summary"]["apart_voxels"] == pytest.approx(apart, rel=0.25)
    assert vox["summary"]["icc_a1_median"] > 0.99  # what a median ICC says of them
    (reason,) = [
        r
        for r in out["verdict"]["reasons"]
        if r["criterion"] == "images of every execution alike" and "(map: apart)" in r["message"]
    ]
    assert reason["severity"] == "fail" and not reason["passed"] and out["verdict"]["status"] == "fail"
    named = vox["executions_apart"]
    assert sum(e["voxels"] for e in named) == vox["summary"]["apart_voxels"]
    if fault == "another minimum":
        assert [(e["subject"], e["repetition"]) for e in named] == [("sub-2", 2)]
        assert named[0]["largest"] > 1000 and named[0]["between_subjects"] > 40
    else:
        assert len(named) == 15  # every run has its own failed voxels
    apart_map = np.asarray(nib.load(vox["maps"]["apart"]).dataobj)
    assert np.count_nonzero(apart_map) == vox["summary"]["apart_voxels"]


@pytest.mark.parametrize("fault", ["noise", "jitter", "outline jitter"])
def test_honest_spread_sets_no_execution_apart(tmp_path: Path, fault: str) -> None:
    """Gaussian noise in every run, or a sub-voxel jitter of every run's image, leaves no execution apart: among
    thousands of voxels one execution lies alone by chance, never ten times its own typical departure; nor does
    the edge of a brain whose outline every subject shares, where the run shifted most reaches voxels the others
    leave at exactly 0 (review FF1: 1068 voxels "apart", "not reproducible" with a median voxel ICC of 0.99)."""
    out = _maps_study(tmp_path, fault)
    assert out["voxelwise"]["summary"]["apart_voxels"] == 0 and "executions_apart" not in out["voxelwise"]
    assert "apart" not in out["voxelwise"]["maps"]


def test_an_execution_apart_by_whole_turns_is_named_a_phase_wrap(tmp_path: Path) -> None:
    """Review PH: phase voxels at pi flipped to -pi in one run (2e-7 of noise) were named "a fit in another
    local minimum, a failure written as 0 or clipped"; departures that are whole multiples of 2 pi are a wrap."""
    from tests.conftest import ingested

    rng = np.random.default_rng(4)
    grid = np.indices((12, 12, 12)) / 4.0
    edge = rng.random((12, 12, 12)) < 0.02  # voxels at the wrap, in every subject
    files = {}
    for s in range(5):
        phase = 2.0 * np.sin(grid[0] + 0.3 * s) * np.cos(grid[1])
        phase[edge] = np.pi - 1e-5
        for r in range(1, 4):
            img = phase + rng.normal(0, 1e-6, phase.shape)
            if (s, r) == (2, 2):
                img[edge] = -(np.pi - 1e-5)
            files[(f"sub-{s}", r)] = {"phase.nii": nib.Nifti1Image(img.astype(np.float32), np.eye(4)).to_bytes()}
    out = ingested(tmp_path, "  phase: {path: phase.nii, kind: image}\n", files).analyze().document["outputs"][0]
    (named,) = out["voxelwise"]["executions_apart"]
    assert (named["subject"], named["repetition"], named["wraps"]) == ("sub-2", 2, True)
    (reason,) = [r for r in out["verdict"]["reasons"] if "(map: apart)" in r["message"]]
    assert "each departure a whole multiple of 2 pi, a phase at +/- pi wrapped to the other side" in reason["message"]
    assert not reason["passed"]


def test_an_execution_nan_everywhere_is_said_so(tmp_path: Path) -> None:
    """Review PT: an execution whose fit failed everywhere (NaN at every voxel) was named "mean |value| 0 where
    the subject's executions have 16.59": it is said to be NaN or infinite at every voxel."""
    rng = np.random.default_rng(5)
    x = (rng.uniform(50, 60, (8, 8, 8, 4, 1)) + rng.normal(0, 0.1, (8, 8, 8, 4, 3))).astype(np.float32)
    x[..., 1, 2] = np.nan
    out = _ingested(tmp_path, x).analyze().document["outputs"][0]
    (odd,) = out["voxelwise"]["support_outliers"]
    assert (odd["subject"], odd["repetition"], odd["nonfinite_everywhere"]) == ("sub-1", 3, True)
    (reason,) = [r for r in out["verdict"]["reasons"] if "lost or gained half" in r["message"]]
    assert (
        "sub-1, repetition 3: NaN or infinite at every voxel where the subject's executions have a mean |value| of"
        in (reason["message"])
    )


def test_a_readable_file_shared_with_one_compared_with_an_unreadable_first_is_not_named(tmp_path: Path) -> None:
    """Review DL: every repetition 1 wrote float probabilities where labels were expected (unreadable as
    labels); repetition 2 of both conditions wrote the same valid label map (one blob). The second condition's
    repetition 2 was named unreadable with the first file's error: 9 files where 8 could not be read."""
    from tests.conftest import ingested_folders

    rng = np.random.default_rng(6)
    folders = {}
    for s in range(4):
        labels = rng.integers(0, 3, (6, 6, 6)).astype(np.uint8)
        for cond in ("det", "nondet"):
            for r in (1, 2):
                data = rng.random((6, 6, 6)).astype(np.float32) if r == 1 else labels
                folders[f"{cond}/sub-{s}/run-{r}"] = {"seg.nii": nib.Nifti1Image(data, np.eye(4)).to_bytes()}
    study = ingested_folders(
        tmp_path, "  seg: {path: seg.nii, kind: labels}\n", folders, "{cudnn}/{subject}/run-{repetition}"
    )
    (out,) = study.analyze().document["outputs"]
    named = sorted((e["subject"], e["condition"], e["repetition"]) for e in out["errors"])
    assert named == sorted((f"sub-{s}", f"cudnn={c}", 1) for s in range(4) for c in ("det", "nondet"))


def _headed_images(root: Path, units: str, dtype: str) -> dict:
    """The analysed image output of 4 subjects x 2 repetitions x threads 1/2, a few voxels moved by chance in
    every execution; threads=2 writes its images with spatial unit ``units`` and stored type ``dtype``."""
    import gzip

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(3)
    folders = {}
    for s in range(1, 5):
        base = rng.normal(100 + 15 * s, 30, (8, 8, 8))
        for t in (1, 2):
            for r in (1, 2):
                data = base.copy()
                data.flat[rng.choice(data.size, 5, replace=False)] += 1  # unseeded noise: voxels differ in every run
                img = nib.Nifti1Image(data.astype(np.float32 if t == 1 else dtype), np.eye(4))
                img.header.set_xyzt_units("mm" if t == 1 else units, "sec")
                folders[f"threads-{t}/s{s}/run-{r}"] = {"out.nii.gz": gzip.compress(img.to_bytes(), mtime=0)}
    study = ingested_folders(
        root, "  out: {path: out.nii.gz, kind: image}\n", folders, "threads-{threads}/{subject}/run-{repetition}"
    )
    (out,) = study.analyze().document["outputs"]
    return out


def test_a_header_change_is_said_whatever_the_voxels_do(tmp_path: Path) -> None:
    """Review C: threads=2 wrote its images in microns instead of mm: "not reproducible" while no voxel varied,
    and "sufficiently reproducible", no word of the header, once 5 voxels varied by chance in every run."""
    out = _headed_images(tmp_path, "micron", "float32")
    assert out["header_meaning_differences"] == ["xyzt_units 10 vs 11"]
    (why,) = [r for r in out["verdict"]["reasons"] if "the image header differs" in r["message"]]
    assert not why["passed"] and why["severity"] == "fail"
    assert out["verdict"]["status"] == "fail"


def test_a_stored_type_change_is_no_header_meaning_change(tmp_path: Path) -> None:
    """float64 where float32 was stored says nothing new of where the voxels are: no such failure."""
    out = _headed_images(tmp_path, "mm", "float64")
    assert "header_meaning_differences" not in out
    assert not [r for r in out["verdict"]["reasons"] if "the image header differs" in r["message"]]


def test_a_version_storing_float64_where_the_baseline_stored_float32_is_judged_at_float32(tmp_path: Path) -> None:
    """Review C: the same computation stored in float64 by a new version, where the baseline stored it in float32,
    failed the envelope "with no run-to-run noise in the baseline; |z| inf": it moved by the baseline's own
    rounding. Judged at the coarser stored type's last places, it is within; the change of type is said."""
    import gzip

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(7)
    folders = {}
    for s in range(1, 5):
        exact = rng.normal(100 + 15 * s, 30, (8, 8, 8))
        for version, dtype in (("1.0", np.float32), ("1.1", np.float64)):
            for r in (1, 2):  # deterministic: both repetitions alike
                img = nib.Nifti1Image(exact.astype(dtype), np.eye(4))
                folders[f"{version}/s{s}/run-{r}"] = {"out.nii.gz": gzip.compress(img.to_bytes(), mtime=0)}
    study = ingested_folders(
        tmp_path, "  out: {path: out.nii.gz, kind: image}\n", folders, "{version}/{subject}/run-{repetition}"
    )
    (out,) = study.analyze().document["outputs"]
    assert out["envelope"]["within_envelope"] is True and out["envelope"]["outside_voxels"] == 0
    assert {t for d in out["stored_type_differences"] for t in d["types"]} == {"float32", "float64"}
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "numbers stored alike"]
    assert why["severity"] == "warn" and "'voxels' of subject s1: float32 in 2 executions" in why["message"]


def test_a_scaled_integer_image_is_named_by_its_stored_type(tmp_path: Path) -> None:
    """Review G: int16 with scl_slope beside float32 read "float32 in 2 executions, float64 in 2 executions":
    float64 is the reader's type after the scaling, no file stored it."""
    import gzip

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(7)
    folders = {}
    for s in range(1, 4):
        exact = rng.normal(100 + 15 * s, 30, (6, 6, 6))
        for version, dtype in (("1.0", np.float32), ("1.1", np.int16)):
            for r in (1, 2):
                img = nib.Nifti1Image(exact.astype(np.float32), np.eye(4))
                img.set_data_dtype(dtype)  # nibabel scales the int16 (scl_slope, scl_inter)
                folders[f"{version}/s{s}/run-{r}"] = {"out.nii.gz": gzip.compress(img.to_bytes(), mtime=0)}
    study = ingested_folders(
        tmp_path, "  out: {path: out.nii.gz, kind: image}\n", folders, "{version}/{subject}/run-{repetition}"
    )
    (out,) = study.analyze().document["outputs"]
    assert {t for d in out["stored_type_differences"] for t in d["types"]} == {"float32", "int16 (scaled)"}


def test_executions_of_a_subject_on_different_grids_are_not_reproducible(tmp_path: Path) -> None:
    """Review C: threads=2 shifted the affine by 2 mm: "10 output file(s) could not be read" and the study "not
    analysable", where the message itself said the geometry is not reproducible. It fails as such."""
    import gzip

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(2)
    folders = {}
    for s in range(1, 4):
        data = rng.normal(100 + 15 * s, 30, (6, 6, 6)).astype(np.float32)
        for t in (1, 2):
            affine = np.eye(4)
            affine[0, 3] = 2.0 if t == 2 else 0.0
            for r in (1, 2):
                img = nib.Nifti1Image(data, affine)
                folders[f"threads-{t}/s{s}/run-{r}"] = {"out.nii.gz": gzip.compress(img.to_bytes(), mtime=0)}
    study = ingested_folders(
        tmp_path, "  out: {path: out.nii.gz, kind: image}\n", folders, "threads-{threads}/{subject}/run-{repetition}"
    )
    (out,) = study.analyze().document["outputs"]
    assert out["grids_differ"] == ["s1", "s2", "s3"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable"]
    assert why["estimable"] and why["message"].startswith("the images of 3 subject(s) (s1; s2; s3) lie on different")
    assert out["verdict"]["status"] == "fail"
