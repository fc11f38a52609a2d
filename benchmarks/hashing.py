"""Hashing a 1 GiB NIfTI output: reprovip's semantic and byte hashes against `b3sum` on the same file.

Writes a 1024x512x512 float32 volume (1 GiB of voxels: a smooth anatomy plus noise everywhere, background
included, as in a raw MR magnitude image, so that gzip level 1 hardly shrinks it: both files are ~1 GB) as
`.nii` and as `.nii.gz`, then times, interleaved over --rounds rounds (medians; the machine's load is printed):

- `b3sum` (Debian package `b3sum`, all cores, memory-mapped) on each file: BLAKE3 of its bytes, the yardstick;
- `semantic_hash` (decoded voxels + header fields: what runs store for images), with python-isal and with the
  standard library's zlib (the fallback when python-isal is not installed);
- `byte_hash` (BLAKE3 of the bytes, as runs store for every output).

Each reprovip hash runs in a fresh process, which also reports its peak RSS (the semantic hash decodes the
file in pieces: its memory does not grow with the file).

Usage: python benchmarks/hashing.py [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

SHAPE = (1024, 512, 512)


def make_files(folder: Path) -> tuple[Path, Path]:
    """Write the volume as .nii and .nii.gz, slab by slab (memory stays at one slab)."""
    from isal import igzip

    plain, packed = folder / "big.nii", folder / "big.nii.gz"
    if plain.exists() and packed.exists():
        return plain, packed
    header = nib.Nifti1Header()
    header.set_data_shape(SHAPE)
    header.set_data_dtype(np.float32)
    header.set_data_offset(352)
    rng = np.random.default_rng(0)
    x, y = np.meshgrid(np.linspace(-1, 1, SHAPE[0]), np.linspace(-1, 1, SHAPE[1]), indexing="ij")
    with open(plain, "wb") as f, igzip.open(packed, "wb", compresslevel=1) as g:
        head = header.binaryblock + b"\0" * 4
        f.write(head)
        g.write(head)
        for z in np.linspace(-1, 1, SHAPE[2]):  # on disk the last axis varies slowest: one (x, y) plane at a time
            r = np.sqrt(x * x + y * y + z * z)
            plane = np.where(r < 0.8, 100 * np.cos(3 * r), 0) + np.abs(rng.normal(0, 2, r.shape))
            data = plane.astype(np.float32).tobytes(order="F")
            f.write(data)
            g.write(data)
    return plain, packed


CODE = """
import resource, sys, time
from reprovip.readers import base, byte_hash, semantic_hash
if sys.argv[3] == "zlib":
    import zlib
    base._inflate = zlib
t0 = time.perf_counter()
(semantic_hash if sys.argv[1] == "semantic" else byte_hash)(sys.argv[2])
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def reprovip_hash(kind: str, path: Path, backend: str = "isal") -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one hash in a fresh process (the import is not timed)."""
    out = subprocess.run(
        [sys.executable, "-c", CODE, kind, str(path), backend], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def b3sum(path: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["b3sum", "--no-names", str(path)], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="reuse/keep the generated files in this folder")
    args = ap.parse_args()
    if shutil.which("b3sum") is None:
        sys.exit("b3sum is not installed (Debian/Ubuntu: apt-get install b3sum): it is this benchmark's yardstick")
    root = args.keep or Path(tempfile.mkdtemp(prefix="reprovip-hashing-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    try:
        plain, packed = make_files(root)
        runs = {
            "b3sum .nii.gz": lambda: (b3sum(packed), 0.0),
            "semantic_hash .nii.gz (isal)": lambda: reprovip_hash("semantic", packed),
            "semantic_hash .nii.gz (zlib)": lambda: reprovip_hash("semantic", packed, "zlib"),
            "byte_hash .nii.gz": lambda: reprovip_hash("byte", packed),
            "b3sum .nii": lambda: (b3sum(plain), 0.0),
            "semantic_hash .nii": lambda: reprovip_hash("semantic", plain),
            "byte_hash .nii": lambda: reprovip_hash("byte", plain),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        rss: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, run in runs.items():
                seconds, peak = run()
                times[name].append(seconds)
                rss[name] = max(rss.get(name, 0.0), peak)
        med = {name: float(np.median(v)) for name, v in times.items()}
        print(
            f"{SHAPE} float32 = {np.prod(SHAPE) * 4 / 2**30:.2f} GiB of voxels; "
            f".nii {plain.stat().st_size / 1e9:.2f} GB, .nii.gz {packed.stat().st_size / 1e9:.2f} GB; "
            f"medians of {args.rounds} rounds; "
            f"load average at end: {os.getloadavg()[0]:.2f}"
        )
        for name, seconds in med.items():
            yardstick = "b3sum .nii.gz" if name.endswith(("gz", "(isal)", "(zlib)")) else "b3sum .nii"
            ratio = "" if name.startswith("b3sum") else f"  {seconds / med[yardstick]:6.2f}x {yardstick}"
            memory = f"  peak RSS {rss[name]:.0f} MB" if rss[name] else ""
            print(f"{name:30s} {seconds:7.2f} s{ratio}{memory}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
