"""The same voxels in every execution of a subject, but repetition 2 declares its spatial unit as metres
instead of millimetres: a difference in the image header only.

Usage: header_app.py INPUT OUTDIR REPETITION
"""

import sys
from pathlib import Path

import nibabel as nib
import numpy as np

inp, out, rep = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
value = float(inp.read_text().split()[-1])
img = nib.Nifti1Image((np.arange(512, dtype=np.float32).reshape(8, 8, 8) % 7 + 1) * value, np.eye(4))
img.header.set_xyzt_units("meter" if rep == 2 else "mm")
nib.save(img, out / "img.nii.gz")
