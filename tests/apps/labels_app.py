"""A segmentation application: writes ``seg.nii.gz``, an int16 label map of two nested cubes.

Usage: ``labels_app.py INPUT OUTDIR REPETITION [--flip] [--frames N]``.

* Label 1: the 4x4x4 cube ``[2:6, 2:6, 2:6]`` minus label 2; label 2: the 2x2x2 cube ``[3:5, 3:5, 3:5]``; so
  label 1 has 56 voxels, label 2 has 8, on an 8x8x8 grid of 1 mm voxels (the input file is not read).
* ``--flip``: odd repetitions also set voxel (0, 0, 0) to label 1 (57 voxels), so Dice of label 1 between an
  odd and an even repetition is 2 * 56 / (56 + 57) = 112 / 113, deterministically.
* ``--frames N``: writes a 4-D map of N identical frames (shape 8x8x8xN) instead of one volume.
"""

import argparse
from pathlib import Path

import nibabel as nib
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("input")
ap.add_argument("outdir")
ap.add_argument("repetition", type=int)
ap.add_argument("--flip", action="store_true")
ap.add_argument("--frames", type=int, default=0)
a = ap.parse_args()
labels = np.zeros((8, 8, 8), np.int16)
labels[2:6, 2:6, 2:6] = 1
labels[3:5, 3:5, 3:5] = 2
if a.flip and a.repetition % 2:
    labels[0, 0, 0] = 1
if a.frames:
    labels = np.stack([labels] * a.frames, axis=-1)
nib.save(nib.Nifti1Image(labels, np.eye(4)), Path(a.outdir) / "seg.nii.gz")
