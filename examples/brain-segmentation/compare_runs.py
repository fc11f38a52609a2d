#!/usr/bin/env python
"""Compare the outputs of two executions of pipeline.py (independently of reprovip).

    python compare_runs.py OUTDIR_A OUTDIR_B [--json]

For every output it reports whether the files are byte-identical, whether the decoded values are
identical (nibabel / pandas), the maximum absolute difference, and for the label map the fraction
of voxels that changed label and the Dice coefficient of each label.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

IMAGES = ("warped.nii.gz",)
LABELS = ("seg.nii.gz",)
TABLES = {"affine.csv": None, "volumes.csv": "tissue"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dice(a: np.ndarray, b: np.ndarray, label: int) -> float:
    x, y = a == label, b == label
    denom = x.sum() + y.sum()
    return 1.0 if denom == 0 else float(2.0 * (x & y).sum() / denom)


def compare_image(a: Path, b: Path) -> dict:
    x = np.asarray(nib.load(a).dataobj, dtype=np.float64)
    y = np.asarray(nib.load(b).dataobj, dtype=np.float64)
    d = np.abs(x - y)
    scale = float(np.abs(x).max()) or 1.0
    return {
        "bytes_equal": sha256(a) == sha256(b),
        "values_equal": bool(np.array_equal(x, y)),
        "max_abs_diff": float(d.max()),
        "max_rel_diff_to_range": float(d.max() / scale),
        "rms_diff": float(np.sqrt((d**2).mean())),
        "voxels_differing": int((d > 0).sum()),
    }


def compare_labels(a: Path, b: Path) -> dict:
    x = np.asarray(nib.load(a).dataobj).astype(np.int64)
    y = np.asarray(nib.load(b).dataobj).astype(np.int64)
    labels = sorted(set(np.unique(x)) | set(np.unique(y)) - {0})
    dices = {int(k): dice(x, y, k) for k in labels}
    return {
        "bytes_equal": sha256(a) == sha256(b),
        "values_equal": bool(np.array_equal(x, y)),
        "voxels_differing": int((x != y).sum()),
        "frac_brain_voxels_differing": float((x != y).sum() / max(1, ((x > 0) | (y > 0)).sum())),
        "dice": dices,
        "min_dice": min(dices.values()) if dices else 1.0,
    }


def compare_table(a: Path, b: Path, key: str | None) -> dict:
    x, y = pd.read_csv(a), pd.read_csv(b)
    if key:
        x, y = x.set_index(key), y.set_index(key)
    num = x.select_dtypes("number").columns
    d = (x[num] - y[num]).abs()
    rel = d / x[num].abs().where(x[num] != 0)
    return {
        "bytes_equal": sha256(a) == sha256(b),
        "values_equal": bool(x.equals(y)),
        "max_abs_diff": float(d.to_numpy().max()),
        "max_rel_diff": float(np.nan_to_num(rel.to_numpy(), nan=0.0).max()),
        "max_abs_diff_by_column": {c: float(v) for c, v in d.max().items()},
    }


def compare_dirs(a: Path | str, b: Path | str) -> dict:
    a, b = Path(a), Path(b)
    out = {}
    for f in IMAGES:
        out[f] = compare_image(a / f, b / f)
    for f in LABELS:
        out[f] = compare_labels(a / f, b / f)
    for f, key in TABLES.items():
        out[f] = compare_table(a / f, b / f, key)
    return out


def summary_line(res: dict) -> str:
    w, s, af, v = res["warped.nii.gz"], res["seg.nii.gz"], res["affine.csv"], res["volumes.csv"]
    return (
        f"warped: bytes={'=' if w['bytes_equal'] else '!='} values={'=' if w['values_equal'] else '!='} "
        f"max|d|={w['max_abs_diff']:.3g} ({w['max_rel_diff_to_range']:.2g} of range) | "
        f"affine max|d|={af['max_abs_diff']:.3g} | "
        f"seg: {'=' if s['values_equal'] else '!='} {s['voxels_differing']} vox, "
        f"min Dice={s['min_dice']:.5f} | "
        f"volumes max|d|={v['max_abs_diff']:.6g} mm3 (rel {v['max_rel_diff']:.2g})"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = compare_dirs(args.a, args.b)
    print(json.dumps(res, indent=2) if args.json else summary_line(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
