"""One step of the case-study-C pipeline, run as its own process: ``python step.py STEP OUTDIR [options]``.

Each step reads the files the previous steps wrote in OUTDIR and writes its own, so that ``trace: processes``
sees five processes and which files each one read and wrote (see README.md):

1. ``normalise``: intensities scaled to [0, 1000] by the 99th percentile of the head, and a brain mask
   (NumPy + nibabel; deterministic).
2. ``n4``: N4 bias-field correction inside the mask (ANTsPy; deterministic at a fixed thread count).
3. ``register``: rigid + affine + SyN registration to the template (ANTsPy). The affine stage samples a random
   20 % of the voxels: seeded with ``--seed N``, left unseeded with ``--seed random``.
4. ``segment``: 3-class Atropos (k-means initialisation) of the registered image inside the template's brain,
   with Atropos's fixed seed (``r=0``): deterministic given its input.
5. ``stats``: tissue volumes and mean intensities from the segmentation (NumPy + nibabel).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

NORM, MASK, N4, WARPED, AFFINE, WARP, SEG, STATS = (
    "01_norm.nii.gz",
    "01_mask.nii.gz",
    "02_n4.nii.gz",
    "03_warped.nii.gz",
    "03_affine.mat",
    "03_warp.nii.gz",
    "04_seg.nii.gz",
    "volumes.csv",
)
TISSUES = {1: "csf", 2: "gm", 3: "wm"}


def normalise(out: Path, args: argparse.Namespace) -> None:
    import nibabel as nib
    import numpy as np

    img = nib.load(args.input)
    data = np.asarray(img.dataobj, dtype=np.float64)
    top = float(np.percentile(data[data > 0], 99))
    norm = np.clip(data / top * 1000.0, 0.0, 1000.0).astype(np.float32)
    mask = (norm > 200.0).astype(np.uint8)  # 20 % of the 99th percentile, as in case B
    nib.save(nib.Nifti1Image(norm, img.affine), out / NORM)
    nib.save(nib.Nifti1Image(mask, img.affine), out / MASK)


def n4(out: Path, args: argparse.Namespace) -> None:
    import ants

    img, mask = ants.image_read(str(out / NORM)), ants.image_read(str(out / MASK))
    ants.image_write(ants.n4_bias_field_correction(img, mask=mask), str(out / N4))


def register(out: Path, args: argparse.Namespace) -> None:
    import ants

    if args.seed == "random":
        os.environ.pop("ANTS_RANDOM_SEED", None)  # unseeded: antsRegistration draws its own seed
        ants.config._random_seed = None
    else:
        os.environ["ANTS_RANDOM_SEED"] = args.seed  # read by antsRegistration without --random-seed
        ants.config._random_seed = int(args.seed)  # -> antsRegistration --random-seed N
    fixed, moving = ants.image_read(args.template), ants.image_read(str(out / N4))
    reg = ants.registration(fixed=fixed, moving=moving, type_of_transform="SyN")
    ants.image_write(reg["warpedmovout"], str(out / WARPED))
    # The transforms live in a temporary folder outside the working folder: keep them with the results.
    warp, affine = reg["fwdtransforms"]
    shutil.copyfile(affine, out / AFFINE)
    shutil.copyfile(warp, out / WARP)


def segment(out: Path, args: argparse.Namespace) -> None:
    import ants

    warped, template = ants.image_read(str(out / WARPED)), ants.image_read(args.template)
    mask = ants.get_mask(template, low_thresh=1e-6, high_thresh=float(template.max()) + 1.0, cleanup=0)
    seg = ants.atropos(a=warped, x=mask, i="Kmeans[3]", m="[0.1,1x1x1]", c="[5,0]", r=0)
    ants.image_write(seg["segmentation"].astype("uint8"), str(out / SEG))


def stats(out: Path, args: argparse.Namespace) -> None:
    import nibabel as nib
    import numpy as np

    seg_img = nib.load(out / SEG)
    seg = np.asarray(seg_img.dataobj)
    warped = np.asarray(nib.load(out / WARPED).dataobj, dtype=np.float64)
    voxel_mm3 = float(abs(np.linalg.det(seg_img.affine[:3, :3])))
    rows = ["tissue,voxels,volume_mm3,mean_intensity"]
    for label, name in TISSUES.items():
        inside = seg == label
        mean = float(warped[inside].mean()) if inside.any() else float("nan")
        rows.append(f"{name},{int(inside.sum())},{inside.sum() * voxel_mm3:.6g},{mean:.10g}")
    (out / STATS).write_text("\n".join(rows) + "\n")


STEPS = {f.__name__: f for f in (normalise, n4, register, segment, stats)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=list(STEPS))
    p.add_argument("outdir", type=Path)
    p.add_argument("--input", help="the subject's T1w image (normalise)")
    p.add_argument("--template", help="the template image (register, segment)")
    p.add_argument("--seed", default="42", help="an integer, or `random` for an unseeded registration")
    args = p.parse_args(argv)
    if args.seed != "random" and not (args.seed.isdigit() and 0 < int(args.seed) < 2**31):
        p.error(f"--seed must be an integer in 1..2**31-1 or `random`, got {args.seed!r}")
    args.outdir.mkdir(parents=True, exist_ok=True)
    STEPS[args.step](args.outdir, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
