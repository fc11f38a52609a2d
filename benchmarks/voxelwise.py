"""Voxelwise analysis at MNI 1 mm scale: speed against pingouin and against merely reading the files, and memory.

Synthetic gzip NIfTI volumes of 197x233x189 (zero outside a brain-like ball, a smooth anatomy that differs
between subjects, and execution noise that differs between executions in one condition only), N subjects x
K repetitions x 2 conditions, ingested into a study and analysed with `reprovip.analyze`. Prints:

(a) the full voxelwise metric set per voxel vs pingouin's `intraclass_corr` timed on a sample of voxels and
    extrapolated to the whole grid (target >= 1000x);
(b) total analysis time vs the fastest decompress-and-read of the same files: python-isal's gzip reader
    inflating into reused buffers on all cores (target <= 1.5x); also vs python-isal's one-shot `decompress`
    (the yardstick before 2026-11-29 session 7, twice the CPU: fresh memory for every file), zlib-ng on all
    cores (when installed) and the standard library's zlib on one thread;
    medians of --rounds rounds, the runs of each round interleaved so that they share the machine's load;
(c) peak RSS of the analysis (target <= 2 GB), and again with N doubled (flat when N*K doubles).

Usage: python benchmarks/voxelwise.py [--n 20] [--k 5] [--scale 1.0] [--background zero|nan] [--distinct]
       [--rounds 3] [--keep DIR]
(--scale shrinks each axis, e.g. 0.5 for a quick run; the figures are meaningful at 1.0. --background nan
writes NaN outside the ball, as many pipelines do: it measures the per-voxel masking of non-finite values.
The deterministic condition's K files of a subject are byte-identical, as a deterministic application writes
them, and reprovip reads such a file once; --distinct gives each file its own gzip timestamp, so that every
file must be decompressed: the worst case.)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np

FULL = (197, 233, 189)


def make_study(
    root: Path, n: int, k: int, shape: tuple[int, ...], background: float = 0.0, distinct: bool = False
) -> Path:
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
                mtime = 1_700_000_000 + rep if distinct else 0
                (out / "img.nii.gz").write_bytes(gzip.compress(raw, compresslevel=1, mtime=mtime))
    study = root / "study.yaml"
    study.write_text("outputs:\n  img: {path: img.nii.gz, kind: image}\n")
    return study


def _zlib(data: bytes) -> bytes:
    return zlib.decompress(data, 31)


def _isal(data: bytes) -> bytes:
    from isal import isal_zlib

    return isal_zlib.decompress(data, 31)


_local = threading.local()


def _isal_into(data: bytes) -> memoryview:
    """python-isal's gzip reader inflating into a buffer this thread reuses: no allocation, no page fault and
    no copy per file (faster than the one-shot `decompress`, which builds and joins fresh blocks)."""
    from isal import isal_zlib

    size = int.from_bytes(data[-4:], "little")
    buf = getattr(_local, "buf", None)
    if buf is None or len(buf) < size:
        buf = _local.buf = bytearray(size)
    view = memoryview(buf)[:size]
    reader, filled = isal_zlib._GzipReader(data), 0
    while filled < size and (n := reader.readinto(view[filled:])):
        filled += n
    return view


def _zlib_ng(data: bytes) -> bytes:
    from zlib_ng import zlib_ng

    return zlib_ng.decompress(data, 31)


def read_all(files: list[Path], decompress, threads: int) -> tuple[float, float]:
    """Baseline: read, decompress and view each file's voxels as an array (nothing else), on ``threads``;
    return (seconds, CPU seconds)."""

    def one(f: Path) -> None:
        np.frombuffer(decompress(f.read_bytes()), dtype=np.float32, offset=352)

    t0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, files))
    return time.perf_counter() - t0, time.process_time() - c0


def yardsticks() -> dict[str, tuple]:
    """The decompress-and-read baselines available here: name -> (decompress, threads)."""
    cores = os.cpu_count() or 1
    out = {
        f"isal into reused buffers, {cores} threads": (_isal_into, cores),
        f"isal one-shot decompress, {cores} threads": (_isal, cores),
        "zlib, 1 thread": (_zlib, 1),
    }
    try:
        import zlib_ng  # noqa: F401  (optional: pip install zlib-ng)

        out[f"zlib-ng, {cores} threads"] = (_zlib_ng, cores)
    except ImportError:
        pass
    return out


def analyse_in_subprocess(study: Path) -> tuple[float, float, float]:
    """Run the analysis in a fresh process; return (seconds, CPU seconds, peak RSS in MB)."""
    code = (
        "import resource, sys, time\n"
        "from reprovip.study import Study\n"
        "t0, c0 = time.perf_counter(), time.process_time()\n"
        f"Study.load({str(study)!r}).analyze()\n"
        "print(time.perf_counter() - t0, time.process_time() - c0,\n"
        "      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


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
    ap.add_argument("--distinct", action="store_true", help="every file distinct (own gzip timestamp)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="reuse/keep the generated data in this folder")
    args = ap.parse_args()
    shape = tuple(max(4, int(round(s * args.scale))) for s in FULL)
    voxels = int(np.prod(shape))
    root = args.keep or Path(tempfile.mkdtemp(prefix="reprovip-voxelwise-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    studies, sticks = {}, yardsticks()
    try:
        for n in (args.n, 2 * args.n):
            name = f"n{n}" + ("" if args.background == "zero" else f"-{args.background}")
            folder = root / (name + ("-distinct" if args.distinct else ""))
            study = folder / "study.yaml"
            if not study.exists():
                shutil.rmtree(folder, ignore_errors=True)
                t0 = time.perf_counter()
                background = 0.0 if args.background == "zero" else np.nan
                make_study(folder, n, args.k, shape, background, args.distinct)
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
            studies[n] = study
        files = sorted(studies[args.n].parent.glob("results/*/*/*/img.nii.gz"))
        times: dict[str, list[float]] = {name: [] for name in (*sticks, "reprovip analyze")}
        cpu: dict[str, list[float]] = {name: [] for name in times}
        rss = []
        for r in range(args.rounds):  # interleaved: each round runs every method once, in turn
            for name, (decompress, threads) in sticks.items():
                wall, used = read_all(files, decompress, threads)
                times[name].append(wall)
                cpu[name].append(used)
            wall, used, peak = analyse_in_subprocess(studies[args.n])
            times["reprovip analyze"].append(wall)
            cpu["reprovip analyze"].append(used)
            rss.append(peak)
            load = os.getloadavg()[0]
            print(f"round {r + 1} (load {load:.1f}): " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
        med = {name: float(np.median(v)) for name, v in times.items()}
        med_cpu = {name: float(np.median(v)) for name, v in cpu.items()}
        seconds = med["reprovip analyze"]
        rss2 = analyse_in_subprocess(studies[2 * args.n])[2]
        per_voxel = pingouin_per_voxel(args.n, args.k)
        print(
            f"\nvolume {shape} = {voxels} voxels, N={args.n}, K={args.k}, 2 conditions, {args.background} background, "
            f"{len(files)} files ({'all distinct' if args.distinct else 'deterministic condition byte-identical'}); "
            f"medians of {args.rounds} rounds; load average at end: {os.getloadavg()[0]:.2f}"
        )
        print(
            f"(a) pingouin intraclass_corr: {1000 * per_voxel:.2f} ms/voxel -> {per_voxel * voxels / 3600:.1f} h "
            f"for the grid; reprovip full metric set incl. I/O: {seconds:.1f} s; "
            f"speed-up {per_voxel * voxels / seconds:.0f}x (target >= 1000x)"
        )
        for name in sticks:
            target = " (target <= 1.5x: the fastest read)" if name.startswith("isal into") else ""
            ratio = seconds / med[name]
            rounds = ", ".join(f"{a / b:.2f}" for a, b in zip(times["reprovip analyze"], times[name], strict=True))
            print(f"(b) analysis / decompress-and-read with {name} ({med[name]:.2f} s): {ratio:.2f}x{target}")
            print(f"    per round {rounds}; CPU seconds {med_cpu['reprovip analyze']:.1f} / {med_cpu[name]:.1f}")
        print(
            f"(c) peak RSS {max(rss):.0f} MB at N={args.n}, {rss2:.0f} MB at N={2 * args.n} "
            f"(ratio {rss2 / max(rss):.2f}; target <= 2048 MB and flat)"
        )
        print(
            json.dumps(
                {
                    "voxels": voxels,
                    "files": len(files),
                    "speedup_vs_pingouin": per_voxel * voxels / seconds,
                    "seconds": med,
                    "cpu_seconds": med_cpu,
                    "ratios": {name: seconds / med[name] for name in sticks},
                    "rss_mb": max(rss),
                    "rss_mb_2n": rss2,
                }
            )
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
