"""An image that is the subject's anatomy in every execution but repetition 2, where 40% of the ball (its
lower slabs) is replaced by noise as large as the anatomy: the median voxel is untouched, the image is not.

Usage: garbage_app.py INPUT OUTDIR REPETITION
"""

import sys
from pathlib import Path

import nibabel as nib
import numpy as np

inp, out, rep = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
value = float(inp.read_text().split()[-1])
shape = (16, 16, 16)
grid = np.indices(shape, dtype=np.float32) - 7.5
ball = np.sqrt((grid**2).sum(axis=0)) < 7
img = np.where(ball, 10.0 * value + 50.0 * np.cos(grid[0] / 3.0) * np.sin(grid[1] / 4.0), 0.0).astype(np.float32)
if rep == 2:
    lower = ball & (np.cumsum(ball.sum(axis=(1, 2))) <= 0.4 * ball.sum())[:, None, None]
    img[lower] = np.random.default_rng().uniform(0.0, 400.0, int(lower.sum())).astype(np.float32)
nib.save(nib.Nifti1Image(img, np.eye(4)), out / "img.nii.gz")
