"""Measure, without reprovip, which step of pipeline.sh varies under one and two threads (README.md, "Measured by
hand").

Runs the pipeline with N4 unpinned (``inherit``) twice on one thread and twice on two, then Atropos alone twice
per thread count on the same registered image, and prints per file: identical or not, and the largest
difference of the decoded voxels (or table values).

    python check_steps.py [--subject sub-01] [--work /tmp/case-c-check]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import scipy.io

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "brain-segmentation" / "data-small"
THREAD_VARS = ("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run(argv: list[str], threads: int) -> None:
    env = dict(os.environ, **dict.fromkeys(THREAD_VARS, str(threads)))
    subprocess.run(argv, env=env, check=True, capture_output=True)


def values(path: Path) -> np.ndarray:
    if path.name.endswith(".nii.gz"):
        return np.asarray(nib.load(path).dataobj, dtype=np.float64)
    if path.suffix == ".csv":
        return np.loadtxt(path, delimiter=",", skiprows=1, usecols=(1, 2, 3))
    # An ITK affine transform (.mat, MATLAB v4): its 12 parameters (matrix, translation in mm), then its centre.
    mat = scipy.io.loadmat(path)
    return np.concatenate([mat[k].ravel() for k in sorted(mat) if not k.startswith("__")]).astype(np.float64)


def compare(a: Path, b: Path) -> str:
    if a.read_bytes() == b.read_bytes():
        return "identical"
    x, y = values(a), values(b)
    if x.shape != y.shape:
        return "differs (shape)"
    n = int((x != y).sum())
    return f"differs: {n} values, max |diff| {np.abs(x - y).max():.3g}" if n else "same values, bytes differ"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subject", default="sub-01")
    p.add_argument("--work", type=Path, default=Path("/tmp/case-c-check"))
    args = p.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    subject, template = DATA / f"{args.subject}_T1w.nii.gz", DATA / "template.nii.gz"
    runs = {}
    for threads in (1, 2):
        for rep in (1, 2):
            out = runs[threads, rep] = args.work / f"threads{threads}-rep{rep}"
            argv = ["sh", str(HERE / "pipeline.sh"), sys.executable, str(subject), str(template), str(out), "42"]
            run([*argv, "inherit"], threads)
    # Atropos alone, on one and the same registered image.
    for threads in (1, 2):
        for rep in (1, 2):
            out = runs["seg", threads, rep] = args.work / f"segment-threads{threads}-rep{rep}"
            out.mkdir(parents=True)
            shutil.copyfile(runs[1, 1] / "03_warped.nii.gz", out / "03_warped.nii.gz")
            run([sys.executable, str(HERE / "step.py"), "segment", str(out), "--template", str(template)], threads)
    print(f"{args.subject}: file | 1 thread, rep 1 vs 2 | 2 threads, rep 1 vs 2 | 1 vs 2 threads (rep 1)")
    for f in sorted(p.name for p in runs[1, 1].iterdir()):
        pairs = [(runs[1, 1], runs[1, 2]), (runs[2, 1], runs[2, 2]), (runs[1, 1], runs[2, 1])]
        print(f"{f} | " + " | ".join(compare(a / f, b / f) for a, b in pairs))
    seg = [runs["seg", t, r] / "04_seg.nii.gz" for t in (1, 2) for r in (1, 2)]
    print("04_seg.nii.gz from the same input | " + " | ".join(compare(seg[0], s) for s in seg[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
