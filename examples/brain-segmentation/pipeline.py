#!/usr/bin/env python
"""One execution of the brain-segmentation case study (ANTsPy).

    python pipeline.py --input T1.nii.gz --template data/template.nii.gz --out OUTDIR \
        --seed {42|random} --preproc {none,n4,smooth} [--transform {syn,affine}]

Steps (all ANTsPy / ANTs):

1. brain mask of the (skull-stripped, noisy) input: ``ants.get_mask`` (threshold at 20% of the
   99th intensity percentile, then ANTs' morphological clean-up);
2. optional preprocessing: ``n4`` = ``ants.n4_bias_field_correction`` inside the mask,
   ``smooth`` = ``ants.smooth_image`` (Gaussian, sigma = 1 voxel, in mm);
3. registration of the subject (moving) to the template (fixed): ``ants.registration`` with
   ``type_of_transform="SyN"`` (rigid + affine + SyN, Mattes MI; ANTsPy defaults), or ``"Affine"``
   with ``--transform affine``;
4. 3-class tissue segmentation of the subject in its own space: ``ants.atropos`` with
   ``i="Kmeans[3]"`` (labels sorted by intensity: 1 = CSF, 2 = GM, 3 = WM), an MRF
   ``m="[0.1,1x1x1]"`` and ``c="[5,0]"``.

Outputs in OUTDIR:

* ``warped.nii.gz``  the (preprocessed) subject resampled into template space (float32);
* ``affine.csv``     one row: the 12 parameters of the affine stage (ITK AffineTransform, LPS:
  ``m11..m33`` matrix, ``tx,ty,tz`` translation) and its fixed centre ``cx,cy,cz``;
* ``seg.nii.gz``     label map in subject space (uint8, 0 = outside the mask, 1..3 as above);
* ``volumes.csv``    ``tissue,label,voxels,volume_mm3`` for csf, gm, wm and the brain total;
* ``provenance.json`` versions, seed actually used, thread variables seen, stage timings.

Seeds. ``--seed N`` (an integer) fixes every random number generator the pipeline uses:

* antsRegistration draws a random subset of voxels for the affine-stage metric
  (``aff_random_sampling_rate=0.2``).  Its seed is ``--random-seed N`` on the ANTs command line;
  ANTsPy 0.6.x only exposes this through the global ``ants.config._random_seed`` (the public
  ``ants.set_ants_deterministic()`` would also force ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=1, which we
  must not do), and antsRegistration falls back to the environment variable ``ANTS_RANDOM_SEED``
  when no ``--random-seed`` is given.  We set both, so older ANTsPy releases are seeded too.
* Atropos has no seed *value*: ``-r 0`` (``use-random-seed 0``) makes it use the constant seed
  19650218, ``-r 1`` a time-based one.  ``--seed N`` passes ``r=0``; the value of N does not
  reach Atropos.
* Python's and NumPy's generators are seeded too (nothing here draws from them, but cheap).

``--seed random`` fixes nothing: ``ANTS_RANDOM_SEED`` is removed from the environment, no
``--random-seed`` is passed, and Atropos gets ``r=1``.

Threads: the number of threads is taken from the environment (ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS,
OMP_NUM_THREADS, ... as set by reprovip); this script never sets or changes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

THREAD_VARS = (
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS",
    "ITK_GLOBAL_MAXIMUM_NUMBER_OF_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NSLOTS",
)
TISSUES = {1: "csf", 2: "gm", 3: "wm"}


def parse_seed(text: str) -> int | None:
    if text.strip().lower() in {"random", "none", ""}:
        return None
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be an integer or 'random', got {text!r}") from None
    if not 1 <= seed < 2**31:
        # antsRegistration reads the seed as a C int and treats 0 as "no seed": fold other integers
        # (e.g. a 64-bit seed drawn by a runner) into 1..2**31-1; the seed used is in provenance.json.
        seed = seed % (2**31 - 1) + 1
    return seed


def configure_seed(seed: int | None, ants) -> None:
    """Seed (or unseed) everything; must run before any ANTs call. Never touches thread variables."""
    if seed is None:
        os.environ.pop("ANTS_RANDOM_SEED", None)
        if hasattr(ants, "config") and hasattr(ants.config, "_random_seed"):
            ants.config._random_seed = None
        return
    os.environ["ANTS_RANDOM_SEED"] = str(seed)  # read by antsRegistration when --random-seed is absent
    if hasattr(ants, "config") and hasattr(ants.config, "_random_seed"):
        ants.config._random_seed = seed  # -> antsRegistration --random-seed <seed> (ANTsPy >= 0.5)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)


def brain_mask(img, ants):
    import numpy as np

    arr = img.numpy()
    thresh = 0.2 * float(np.percentile(arr[arr > 0], 99))
    return ants.get_mask(img, low_thresh=thresh, high_thresh=float(arr.max()) + 1.0, cleanup=2)


def affine_row(mat_path: str, ants) -> dict:
    tx = ants.read_transform(mat_path)
    p = [float(v) for v in tx.parameters]
    c = [float(v) for v in tx.fixed_parameters]
    names = ["m11", "m12", "m13", "m21", "m22", "m23", "m31", "m32", "m33", "tx", "ty", "tz"]
    row = dict(zip(names, p, strict=True))
    row.update(dict(zip(["cx", "cy", "cz"], c, strict=True)))
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="ANTsPy registration + Atropos segmentation of one T1 image.")
    ap.add_argument("--input", required=True, type=Path, help="subject T1w NIfTI")
    ap.add_argument("--template", required=True, type=Path, help="template T1w NIfTI (fixed image)")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    ap.add_argument("--seed", type=parse_seed, default=None, help="integer seed, or 'random' (default)")
    ap.add_argument("--preproc", choices=["none", "n4", "smooth"], default="none")
    ap.add_argument("--transform", choices=["syn", "affine"], default="syn", help="registration model")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    import ants

    configure_seed(args.seed, ants)
    args.out.mkdir(parents=True, exist_ok=True)
    # ANTsPy writes temporary files with tempfile.mktemp() and does not always delete them
    # (ants.atropos leaves its 3 posterior images behind): keep them in a scratch folder we remove.
    scratch = tempfile.TemporaryDirectory(prefix=".scratch_", dir=args.out)
    tempfile.tempdir = scratch.name
    try:
        return run(args, ants, t_start)
    finally:
        tempfile.tempdir = None
        scratch.cleanup()


def run(args, ants, t_start: float) -> int:
    import numpy as np
    import pandas as pd

    timings: dict[str, float] = {}

    def lap(name: str, t0: float) -> float:
        t1 = time.perf_counter()
        timings[name] = round(t1 - t0, 3)
        return t1

    t = time.perf_counter()
    img = ants.image_read(str(args.input), pixeltype="float")
    template = ants.image_read(str(args.template), pixeltype="float")
    mask = brain_mask(img, ants)
    t = lap("read_mask", t)

    if args.preproc == "n4":
        img = ants.n4_bias_field_correction(img, mask=mask)
    elif args.preproc == "smooth":
        img = ants.smooth_image(img, sigma=float(min(img.spacing)), sigma_in_physical_coordinates=True)
    t = lap("preproc", t)

    with tempfile.TemporaryDirectory(prefix="reg_") as tmp:
        reg = ants.registration(
            fixed=template,
            moving=img,
            type_of_transform="SyN" if args.transform == "syn" else "Affine",
            outprefix=str(Path(tmp) / "tx_"),
            verbose=args.verbose,
        )
        mats = [f for f in reg["fwdtransforms"] if f.endswith(".mat")]
        if len(mats) != 1:
            sys.exit(f"error: expected one affine transform, got {reg['fwdtransforms']}")
        row = affine_row(mats[0], ants)
    ants.image_write(reg["warpedmovout"].clone("float"), str(args.out / "warped.nii.gz"))
    pd.DataFrame([row]).to_csv(args.out / "affine.csv", index=False, float_format="%.17g")
    t = lap("registration", t)

    atropos_kw = {"r": 0 if args.seed is not None else 1}
    seg = ants.atropos(a=img, x=mask, i="Kmeans[3]", m="[0.1,1x1x1]", c="[5,0]", **atropos_kw)
    labels = seg["segmentation"]
    ants.image_write(labels.clone("unsigned char"), str(args.out / "seg.nii.gz"))
    t = lap("atropos", t)

    lab = labels.numpy().astype(np.int64)
    voxel_mm3 = float(np.prod(labels.spacing))
    rows = []
    for k, name in TISSUES.items():
        n = int((lab == k).sum())
        rows.append({"tissue": name, "label": k, "voxels": n, "volume_mm3": n * voxel_mm3})
    n = int((lab > 0).sum())
    rows.append({"tissue": "brain", "label": 0, "voxels": n, "volume_mm3": n * voxel_mm3})
    pd.DataFrame(rows).to_csv(args.out / "volumes.csv", index=False, float_format="%.17g")

    timings["total"] = round(time.perf_counter() - t_start, 3)
    prov = {
        "antspyx": getattr(ants, "__version__", "unknown"),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "seed": args.seed if args.seed is not None else "random",
        "ants_random_seed_env": os.environ.get("ANTS_RANDOM_SEED"),
        "atropos_use_random_seed": atropos_kw["r"],
        "preproc": args.preproc,
        "transform": args.transform,
        "threads_env": {v: os.environ.get(v) for v in THREAD_VARS},
        "timings_s": timings,
    }
    (args.out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    if args.verbose:
        print(json.dumps(prov, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
