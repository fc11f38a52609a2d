"""A large table output: a connectome (ROI x ROI matrix) of N subjects x K repetitions, one observation per cell.

The study is ingested from generated CSV files (no application runs), then analysed by `Study.analyze()` in
this process; the baseline is reading the same files into float arrays with Python's `csv` module, in the same
process. Both are timed over interleaved rounds (medians), so the load of a shared machine falls on both alike.
Prints the analysis time, the baseline's, their ratio, the time per observation, the peak RSS of the process
and the size of the analysis document.

Usage: python benchmarks/tables.py [--rois 100] [--subjects 6] [--repetitions 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from reprovip.study import Study


def _write(root: Path, rois: int, subjects: int, repetitions: int) -> list[Path]:
    """One symmetric ROI x ROI matrix per subject, with run-to-run noise of 1e-6 per repetition."""
    names = [f"roi{i}" for i in range(rois)]
    files = []
    for s in range(subjects):
        base = np.random.default_rng(s).normal(size=(rois, rois))
        base = (base + base.T) / 2
        for r in range(1, repetitions + 1):
            matrix = base + np.random.default_rng(1000 * s + r).normal(scale=1e-6, size=base.shape)
            folder = root / "results" / f"sub-{s:02d}" / f"run-{r}"
            folder.mkdir(parents=True)
            path = folder / "conn.csv"
            with path.open("w") as fh:
                fh.write("roi," + ",".join(names) + "\n")
                for name, row in zip(names, matrix, strict=True):
                    fh.write(name + "," + ",".join(f"{v:.9g}" for v in row) + "\n")
            files.append(path)
    (root / "study.yaml").write_text("outputs:\n  conn: {path: conn.csv, kind: table, key_columns: [roi]}\n")
    return files


def _read_csv(files: list[Path]) -> int:
    """The baseline: every file read into a float array with the csv module; returns the values read."""
    count = 0
    for path in files:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
        count += np.array([[float(v) for v in row[1:]] for row in rows[1:]]).size
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rois", type=int, default=100)
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = _write(root, args.rois, args.subjects, args.repetitions)
        study = Study.load(root / "study.yaml")
        study.ingest("results/{subject}/run-{repetition}")
        analysis, baseline = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            values = _read_csv(files)
            baseline.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            doc = Study.load(root / "study.yaml").analyze().document
            analysis.append(time.perf_counter() - t0)
        n_obs = doc["outputs"][0]["summary"]["n_observations"]
        size = (study.results / "analysis.json").stat().st_size
    a, b = statistics.median(analysis), statistics.median(baseline)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    design = f"{args.subjects} subjects x {args.repetitions} repetitions"
    print(f"{args.rois}x{args.rois} table, {design}: {n_obs} observations")
    print(f"analysis {a:.2f} s (median of {args.rounds}); csv read of {len(files)} files ({values} values) {b:.3f} s")
    print(f"ratio analysis / csv read: {a / b:.1f}x; {1000 * a / n_obs:.3f} ms per observation")
    print(f"peak RSS {rss:.0f} MB; analysis document {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
