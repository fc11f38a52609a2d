"""Voxelwise analysis at MNI 1 mm scale: speed against pingouin and against merely reading the files, and memory.

Synthetic gzip NIfTI volumes of 197x233x189 (zero outside a brain-like ball, a smooth anatomy that differs
between subjects, and execution noise that differs between executions in one condition only), N subjects x
K repetitions x 2 conditions, ingested into a study and analysed with `reprovip.analyze`. Prints:

(a) the full voxelwise metric set per voxel vs pingouin's `intraclass_corr` timed on a sample of voxels and
    extrapolated to the whole grid (target >= 1000x);
(b) total analysis time vs merely decompressing and reading the same files (target <= 1.5x);
(c) peak RSS of the analysis (target <= 2 GB), and again with N doubled (flat when N*K doubles).

Usage: python benchmarks/voxelwise.py [--n 20] [--k 5] [--scale 1.0] [--background zero|nan] [--keep DIR]
(--scale shrinks each axis, e.g. 0.5 for a quick run; the figures are meaningful at 1.0. --background nan
writes NaN outside the ball, as many pipelines do: it measures the per-voxel masking of non-finite values.)
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

FULL = (197, 233, 189)


def make_study(root: Path, n: int, k: int, shape: tuple[int, ...], background: float = 0.0) -> Path:
    """Write N x 2 conditions x K volumes and an ingest-only study.yaml; return the study file."""
    rng = np.random.default_rng(0)
    grids = np.meshgrid(*[np.linspace(-1, 1, s, dtype=np.float32) for s in shape], indexing="ij", sparse=True)
    radius = np.sqrt(sum(g**2 for g in grids))
    brain = radius < 0.8
    for s in range(n):
        anatomy = np.where(brain, 100 * np.cos(3 * radius + 0.05 * s) + rng.normal(0, 2), background)
        anatomy = anatomy.astype(np.float32)
        for cond in ("threads-1", "threads-2"):
            for rep in range(1, k + 1):
                img = anatomy.copy()
                if cond == "threads-2":  # nondeterministic condition: tiny noise inside the brain
                    img[brain] += rng.normal(0, 0.01, int(brain.sum())).astype(np.float32)
                out = root / "results" / cond / f"sub-{s:02d}" / f"run-{rep}"
                out.mkdir(parents=True, exist_ok=True)
                raw = nib.Nifti1Image(np.round(img, 2), np.eye(4)).to_bytes()
                (out / "img.nii.gz").write_bytes(gzip.compress(raw, compresslevel=1, mtime=0))
    study = root / "study.yaml"
    study.write_text("outputs:\n  img: {path: img.nii.gz, kind: image}\n")
    return study


def read_all(files: list[Path]) -> float:
    """Baseline: decompress each file and view its voxels as an array (nothing else)."""
    t0 = time.perf_counter()
    for f in files:
        raw = gzip.decompress(f.read_bytes())
        np.frombuffer(raw, dtype=np.float32, offset=352).sum()
    return time.perf_counter() - t0


def analyse_in_subprocess(study: Path) -> tuple[float, float]:
    """Run the analysis in a fresh process; return (seconds, peak RSS in MB)."""
    code = (
        "import resource, sys, time\n"
        "from reprovip.study import Study\n"
        "t0 = time.perf_counter()\n"
        f"Study.load({str(study)!r}).analyze()\n"
        "print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def pingouin_per_voxel(n: int, k: int, samples: int = 30) -> float:
    """Seconds per voxel of pingouin.intraclass_corr on a long table of N x 2K executions."""
    import pandas as pd
    import pingouin as pg

    rng = np.random.default_rng(1)
    r = 2 * k
    t0 = time.perf_counter()
    for _ in range(samples):
        x = rng.normal(size=(n, r))
        df = pd.DataFrame({"subject": np.repeat(np.arange(n), r), "rater": np.tile(np.arange(r), n), "v": x.ravel()})
        pg.intraclass_corr(df, targets="subject", raters="rater", ratings="v")
    return (time.perf_counter() - t0) / samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--background", choices=["zero", "nan"], default="zero")
    ap.add_argument("--keep", type=Path, help="reuse/keep the generated data in this folder")
    args = ap.parse_args()
    shape = tuple(max(4, int(round(s * args.scale))) for s in FULL)
    voxels = int(np.prod(shape))
    root = args.keep or Path(tempfile.mkdtemp(prefix="reprovip-voxelwise-"))
    figures = {}
    try:
        for n in (args.n, 2 * args.n):
            folder = root / (f"n{n}" if args.background == "zero" else f"n{n}-{args.background}")
            study = folder / "study.yaml"
            if not study.exists():
                shutil.rmtree(folder, ignore_errors=True)
                t0 = time.perf_counter()
                make_study(folder, n, args.k, shape, 0.0 if args.background == "zero" else np.nan)
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "reprovip",
                        "ingest",
                        str(study),
                        "--pattern",
                        "results/{threads}/{subject}/run-{repetition}",
                    ],
                    check=True,
                    capture_output=True,
                )
                print(f"[N={n}] generated and ingested {n * 2 * args.k} volumes in {time.perf_counter() - t0:.0f} s")
            files = sorted(folder.glob("results/*/*/*/img.nii.gz"))
            baseline = read_all(files)
            seconds, rss = analyse_in_subprocess(study)
            figures[n] = (baseline, seconds, rss)
            print(
                f"[N={n}] read {len(files)} files: {baseline:.1f} s; reprovip analyze: {seconds:.1f} s; "
                f"peak RSS {rss:.0f} MB"
            )
        per_voxel = pingouin_per_voxel(args.n, args.k)
        baseline, seconds, rss = figures[args.n]
        print(f"\nvolume {shape} = {voxels} voxels, N={args.n}, K={args.k}, 2 conditions, {args.background} background")
        print(
            f"(a) pingouin intraclass_corr: {1000 * per_voxel:.2f} ms/voxel -> {per_voxel * voxels / 3600:.1f} h "
            f"for the grid; reprovip full metric set incl. I/O: {seconds:.1f} s; "
            f"speed-up {per_voxel * voxels / seconds:.0f}x "
            "(target >= 1000x)"
        )
        print(f"(b) analysis / decompress-and-read: {seconds / baseline:.2f}x (target <= 1.5x)")
        rss2 = figures[2 * args.n][2]
        print(
            f"(c) peak RSS {rss:.0f} MB at N={args.n}, {rss2:.0f} MB at N={2 * args.n} "
            f"(ratio {rss2 / rss:.2f}; target <= 2048 MB and flat)"
        )
        print(
            json.dumps(
                {
                    "voxels": voxels,
                    "speedup_vs_pingouin": per_voxel * voxels / seconds,
                    "ratio_vs_read": seconds / baseline,
                    "rss_mb": rss,
                    "rss_mb_2n": rss2,
                }
            )
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
