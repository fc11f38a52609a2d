"""A segmentation whose two labels swap sides in repetition 2: the left structure (label 1) and the right one
(label 2) are mirror images, so every label keeps its volume while no voxel keeps its label.

Usage: mirror_app.py INPUT OUTDIR REPETITION
"""

import sys
from pathlib import Path

import nibabel as nib
import numpy as np

inp, out, rep = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
width = 2 + int(float(inp.read_text().split()[-1]) // 10)  # the subject's anatomy: its structures' size
seg = np.zeros((14, 12, 12), np.int16)
seg[1 : 1 + width, 3:9, 3:9] = 1
seg[13 - width : 13, 3:9, 3:9] = 2
if rep == 2:
    seg = seg[::-1].copy()
nib.save(nib.Nifti1Image(seg, np.eye(4)), out / "seg.nii.gz")
