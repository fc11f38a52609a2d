"""Speed of read_image against nibabel and raw gzip decompression, for the voxelwise engine's workload.

Usage: python benchmarks/read_image.py [n_volumes] [repeats]
Writes n gzip NIfTI volumes of 197x233x189 float32 (an MNI 1 mm grid; smooth "brain" plus noise, zero
outside) and reports the median seconds per volume of each method, interleaved to share the noise.
"""

from __future__ import annotations

import gzip
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from reprovip.readers import load, load_image_with_hash, read_image

SHAPE = (197, 233, 189)


def make_volumes(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    grids = np.meshgrid(*[np.linspace(-1, 1, s, dtype=np.float32) for s in SHAPE], indexing="ij", sparse=True)
    radius = np.sqrt(sum(g**2 for g in grids))
    base = np.where(radius < 0.8, 100 * np.cos(3 * radius), 0).astype(np.float32)
    paths = []
    for i in range(n):
        data = base + np.where(radius < 0.8, rng.normal(0, 5, SHAPE), 0).astype(np.float32)
        path = folder / f"vol{i}.nii.gz"
        nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 1.0, 1.0])), path)
        paths.append(path)
    return paths


METHODS = {
    "raw gzip.decompress + frombuffer": lambda p: np.frombuffer(
        gzip.decompress(p.read_bytes()), np.float32, offset=352
    ),
    "nibabel get_fdata(float32)": lambda p: nib.load(p).get_fdata(dtype=np.float32),
    "read_image": read_image,
    "load_image_with_hash": load_image_with_hash,
    "load (kind image)": load,
}


def main(n: int = 8, repeats: int = 3) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_volumes(Path(tmp), n)
        times: dict[str, list[float]] = {name: [] for name in METHODS}
        for _ in range(repeats):
            for path in paths:
                for name, method in METHODS.items():
                    start = time.perf_counter()
                    method(path)
                    times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    reference = medians["nibabel get_fdata(float32)"]
    raw = medians["raw gzip.decompress + frombuffer"]
    for name, seconds in medians.items():
        ratios = f"{seconds / reference:5.2f}x nibabel  {seconds / raw:5.2f}x raw"
        print(f"{name:36s} {seconds * 1000:7.1f} ms  {ratios}")
    return medians


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
