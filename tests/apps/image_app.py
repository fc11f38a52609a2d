"""An imaging application: writes a gzip NIfTI image and a label map derived from its input value.

``--noise threads``: with OMP_NUM_THREADS=2 adds unseeded noise to the image (multithreading nondeterminism).
``--gzip-time``: writes the gzip header with the current time, so bytes differ while the image does not.
"""

import argparse
import gzip
import io
import os
import time
from pathlib import Path

import nibabel as nib
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("input")
ap.add_argument("outdir")
ap.add_argument("--noise", default="none", choices=["none", "threads", "always"])
ap.add_argument("--gzip-time", action="store_true")
a = ap.parse_args()
value = float(Path(a.input).read_text().split()[-1])
rng = np.random.default_rng(int(value * 10))  # the subject's anatomy: seeded by its input
shape = (12, 14, 10)
grid = np.indices(shape).astype(np.float32)
radius = 3.0 + value / 10
center = np.array(shape, dtype=np.float32)[:, None, None, None] / 2
dist = np.sqrt(((grid - center) ** 2).sum(axis=0))
img = (100.0 * (dist < radius) + rng.normal(0, 5, shape)).astype(np.float32)
noisy = a.noise == "always" or (a.noise == "threads" and os.environ.get("OMP_NUM_THREADS") == "2")
if noisy:
    img += np.random.default_rng().normal(0, 3.0, shape).astype(np.float32)
labels = (img > 50).astype(np.int16) + (img > 105).astype(np.int16)
affine = np.diag([2.0, 2.0, 2.5, 1.0])
out = Path(a.outdir)
nib.save(nib.Nifti1Image(labels, affine), out / "seg.nii.gz")
raw = nib.Nifti1Image(img, affine).to_bytes()
buf = io.BytesIO()
with gzip.GzipFile(fileobj=buf, mode="wb", mtime=(time.time_ns() % 2**32) if a.gzip_time else 0) as gz:
    gz.write(raw)
(out / "image.nii.gz").write_bytes(buf.getvalue())
(out / "volumes.csv").write_text(
    "tissue,volume\n" + "".join(f"{k},{float((labels == k).sum()) * 10.0}\n" for k in (1, 2))
)
