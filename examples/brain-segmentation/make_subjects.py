#!/usr/bin/env python
"""Make N synthetic T1-weighted "subjects" from one real brain, plus the template.

Every subject is the *same* real brain -- the Colin27 single-subject T1 shipped, skull-stripped, by
the Debian package ``mricron-data`` (``/usr/share/mricron/templates/ch2bet.nii.gz``) -- seen through
a different, documented, random acquisition:

1. a random affine about the brain centre (rotations, translations, per-axis scaling),
2. a smooth random deformation (cubic-spline interpolated displacements on a coarse control grid),
3. resampling (Gaussian anti-aliasing + trilinear interpolation) onto the MNI152 2009 grid at
   ``--resolution`` mm,
4. a multiplicative smooth intensity bias field (exponential of a random quadratic polynomial),
5. Rician noise (magnitude of complex Gaussian noise) with a random standard deviation.

``--source mni152`` uses the nilearn-bundled MNI152 2009 T1 as the brain instead of Colin27 (then the
subjects are deformed copies of the template itself; Colin27 is the default and the better test).

The template written to ``OUT/template.nii.gz`` is the nilearn-bundled MNI152 2009c T1 (brain-masked),
resampled with the same anti-aliasing and interpolation to the same grid, without noise or bias.

Everything is deterministic for ``--seed``: subject ``i`` draws from child ``i`` of
``numpy.random.SeedSequence(seed)``, so ``sub-01`` is the same whatever ``--n`` is (but not whatever
``--resolution`` is: the noise is drawn on the output grid).  The transform, bias and noise
parameters of each subject are written to ``OUT/subjects.tsv``.

Usage::

    python make_subjects.py --n 8 --out data/ --seed 2024 --resolution 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

COLIN27 = Path("/usr/share/mricron/templates/ch2bet.nii.gz")

# Ranges of the random acquisition (uniform draws unless said otherwise).
ROTATION_DEG = 6.0  # each of x, y, z in [-6, 6] degrees
TRANSLATION_MM = 6.0  # each of x, y, z in [-6, 6] mm
SCALE_RANGE = (0.90, 1.10)  # each axis, on the *brain* (1.1 = brain 10% larger along that axis)
WARP_SPACING_MM = 24.0  # control-point spacing of the smooth deformation
WARP_MAX_MM = (1.5, 4.0)  # maximum displacement magnitude, drawn per subject
BIAS_RANGE = (0.10, 0.25)  # bias field spans exp(+-b), b drawn per subject
NOISE_FRAC = (0.02, 0.06)  # Rician sigma as a fraction of the white-matter intensity


def colin27_path() -> Path:
    if not COLIN27.exists():
        try:
            files = subprocess.run(
                ["dpkg", "-L", "mricron-data"], capture_output=True, text=True, check=True
            ).stdout.split()
            hits = [f for f in files if f.endswith("ch2bet.nii.gz")]
            if hits:
                return Path(hits[0])
        except (OSError, subprocess.CalledProcessError):
            pass
        sys.exit(
            f"error: {COLIN27} not found. Install it with: apt-get install mricron-data "
            "(Debian/Ubuntu package shipping the Colin27 T1 'ch2bet.nii.gz')."
        )
    return COLIN27


def load_source(name: str) -> nib.Nifti1Image:
    if name == "colin27":
        return nib.load(colin27_path())
    from nilearn.datasets import load_mni152_template

    return load_mni152_template(resolution=1)  # bundled with nilearn, no download


def mni_template_1mm() -> nib.Nifti1Image:
    from nilearn.datasets import load_mni152_template

    return load_mni152_template(resolution=1)  # bundled with nilearn, no download


def output_grid(res: float) -> tuple[tuple[int, int, int], np.ndarray]:
    """The MNI152 2009 field of view (nilearn's 1 mm grid) sampled every ``res`` mm."""
    ref = mni_template_1mm()
    shape1 = np.array(ref.shape[:3])
    extent = (shape1 - 1) * 1.0  # mm, the 1 mm grid is axis-aligned RAS
    shape = tuple(int(n) for n in np.floor(extent / res).astype(int) + 1)
    affine = np.diag([res, res, res, 1.0])
    affine[:3, 3] = ref.affine[:3, 3]
    return shape, affine


def world_coords(shape, affine) -> np.ndarray:
    """(3, *shape) array of RAS mm coordinates of the voxel centres."""
    ijk = np.indices(shape, dtype=np.float64).reshape(3, -1)
    xyz = affine[:3, :3] @ ijk + affine[:3, 3:4]
    return xyz.reshape((3, *shape))


def antialias(data: np.ndarray, src_vox_mm: np.ndarray, res: float) -> np.ndarray:
    """Gaussian prefilter so that the 1 mm source matches a ``res`` mm acquisition (FWHM = res)."""
    fwhm = np.sqrt(np.maximum(res**2 - src_vox_mm**2, 0.0))
    sigma_vox = fwhm / np.sqrt(8 * np.log(2)) / src_vox_mm
    return ndimage.gaussian_filter(data.astype(np.float64), sigma_vox, mode="constant")


def sample(src: np.ndarray, src_affine: np.ndarray, xyz: np.ndarray, order: int = 1) -> np.ndarray:
    """Sample ``src`` at RAS points ``xyz`` (3, ...) -> array of shape xyz.shape[1:]."""
    inv = np.linalg.inv(src_affine)
    pts = xyz.reshape(3, -1)
    ijk = inv[:3, :3] @ pts + inv[:3, 3:4]
    out = ndimage.map_coordinates(src, ijk, order=order, mode="constant", cval=0.0, prefilter=order > 1)
    return out.reshape(xyz.shape[1:])


def rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    rx, ry, rz = np.deg2rad([rx, ry, rz])
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def smooth_displacement(rng, xyz: np.ndarray, lo: np.ndarray, hi: np.ndarray, max_mm: float) -> np.ndarray:
    """Displacement field (3, ...) in mm: random control points every WARP_SPACING_MM, cubic B-spline.

    Defined in world coordinates, so it does not depend on the output resolution.
    """
    n_ctrl = np.ceil((hi - lo) / WARP_SPACING_MM).astype(int) + 3
    ctrl = rng.standard_normal((3, *n_ctrl))
    pts = xyz.reshape(3, -1)
    idx = (pts - lo[:, None]) / WARP_SPACING_MM + 1.0
    disp = np.stack(
        [ndimage.map_coordinates(ctrl[c], idx, order=3, mode="nearest") for c in range(3)]
    ).reshape(xyz.shape)
    mag = np.sqrt((disp**2).sum(axis=0))
    return disp * (max_mm / mag.max())


def bias_field(rng, xyz: np.ndarray, centre: np.ndarray, half_extent: np.ndarray, b: float) -> np.ndarray:
    """exp(p(x)) with p a random quadratic polynomial in normalised coordinates, scaled to [-b, b]."""
    u = (xyz - centre[:, None, None, None]) / half_extent[:, None, None, None]
    terms = [u[0], u[1], u[2], u[0] * u[1], u[0] * u[2], u[1] * u[2], u[0] ** 2, u[1] ** 2, u[2] ** 2]
    coef = rng.uniform(-1, 1, size=len(terms))
    p = sum(c * t for c, t in zip(coef, terms, strict=True))
    p = p - p.mean()
    p = p * (b / np.abs(p).max())
    return np.exp(p)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, required=True, help="number of subjects")
    ap.add_argument("--out", type=Path, required=True, help="output folder (e.g. data/)")
    ap.add_argument("--seed", type=int, default=2024, help="master seed (deterministic output)")
    ap.add_argument("--resolution", type=float, default=3.0, help="output voxel size in mm (2-4)")
    ap.add_argument("--source", choices=["colin27", "mni152"], default="colin27", help="brain to deform")
    args = ap.parse_args(argv)
    if not 1.0 <= args.resolution <= 6.0:
        ap.error("--resolution should be between 1 and 6 mm")
    args.out.mkdir(parents=True, exist_ok=True)
    res = float(args.resolution)

    shape, affine = output_grid(res)
    xyz = world_coords(shape, affine)

    # Template: MNI152 2009 (bundled with nilearn) on the output grid.
    mni = mni_template_1mm()
    mni_data = antialias(np.asarray(mni.dataobj, dtype=np.float64), np.array(mni.header.get_zooms()[:3]), res)
    tpl = sample(mni_data, mni.affine, xyz, order=1).astype(np.float32)
    tpl_img = nib.Nifti1Image(tpl, affine)
    tpl_img.header.set_xyzt_units("mm")
    tpl_img.header["descrip"] = b"MNI152 2009c T1 (nilearn) resampled"
    nib.save(tpl_img, args.out / "template.nii.gz")

    src = load_source(args.source)
    src_vox = np.array(src.header.get_zooms()[:3], dtype=float)
    src_raw = np.asarray(src.dataobj, dtype=np.float64)
    src_data = antialias(src_raw, src_vox, res)
    src_mask = ndimage.binary_fill_holes(src_raw > 0).astype(np.float64)
    # Brain centre (centre of mass of the source brain, in mm): the affine pivots around it.
    com_vox = np.array(ndimage.center_of_mass(src_mask))
    centre = src.affine[:3, :3] @ com_vox + src.affine[:3, 3]
    lo = xyz.reshape(3, -1).min(axis=1)
    hi = xyz.reshape(3, -1).max(axis=1)
    half_extent = (hi - lo) / 2
    grid_centre = (hi + lo) / 2
    wm_level = np.percentile(src_raw[src_raw > 0], 95)
    voxel_mm3 = res**3

    rows = []
    children = np.random.SeedSequence(args.seed).spawn(args.n)
    for i, child in enumerate(children):
        sub = f"sub-{i + 1:02d}"
        rng = np.random.default_rng(child)
        rot = rng.uniform(-ROTATION_DEG, ROTATION_DEG, 3)
        trans = rng.uniform(-TRANSLATION_MM, TRANSLATION_MM, 3)
        scale = rng.uniform(*SCALE_RANGE, 3)
        warp_max = rng.uniform(*WARP_MAX_MM)
        bias_b = rng.uniform(*BIAS_RANGE)
        noise_frac = rng.uniform(*NOISE_FRAC)

        # Forward model (source brain -> subject): y = centre + R S (x_src - centre) + t, then warped.
        # We pull back: for each output point x, x' = x + u(x); x_src = centre + (R S)^-1 (x' - centre - t).
        R = rotation(*rot)
        A = R @ np.diag(scale)
        Ainv = np.linalg.inv(A)
        u = smooth_displacement(rng, xyz, lo, hi, warp_max)
        xp = (xyz + u).reshape(3, -1)
        xs = Ainv @ (xp - centre[:, None] - trans[:, None]) + centre[:, None]
        xs = xs.reshape(xyz.shape)
        img = sample(src_data, src.affine, xs, order=1)
        mask = sample(src_mask, src.affine, xs, order=1)
        bias = bias_field(rng, xyz, grid_centre, half_extent, bias_b)
        img = img * bias
        sigma = noise_frac * wm_level
        n1 = rng.normal(0.0, sigma, img.shape)
        n2 = rng.normal(0.0, sigma, img.shape)
        img = np.sqrt((img + n1) ** 2 + n2**2)  # Rician magnitude

        out = nib.Nifti1Image(img.astype(np.float32), affine)
        out.set_data_dtype(np.int16)  # nibabel picks scl_slope; halves the file size vs float32
        out.header.set_xyzt_units("mm")
        out.header["descrip"] = f"synthetic {args.source} seed={args.seed} {sub}".encode()[:79]
        nib.save(out, args.out / f"{sub}_T1w.nii.gz")

        rows.append(
            {
                "subject": sub,
                "source": args.source,
                "master_seed": args.seed,
                "resolution_mm": res,
                "shape": "x".join(map(str, shape)),
                "rot_x_deg": rot[0],
                "rot_y_deg": rot[1],
                "rot_z_deg": rot[2],
                "trans_x_mm": trans[0],
                "trans_y_mm": trans[1],
                "trans_z_mm": trans[2],
                "scale_x": scale[0],
                "scale_y": scale[1],
                "scale_z": scale[2],
                "affine_det": float(np.linalg.det(A)),
                "warp_spacing_mm": WARP_SPACING_MM,
                "warp_max_mm": warp_max,
                "bias_log_amplitude": bias_b,
                "noise": "rician",
                "noise_sigma_frac_wm": noise_frac,
                "noise_sigma": sigma,
                "brain_volume_mm3": float(mask.sum() * voxel_mm3),
                "affine_matrix": json.dumps(np.round(A, 6).tolist()),
            }
        )
        print(
            f"{sub}: det={np.linalg.det(A):.3f} warp={warp_max:.2f}mm "
            f"bias={bias_b:.2f} noise={noise_frac:.3f}"
        )

    table = pd.DataFrame(rows)
    table.to_csv(args.out / "subjects.tsv", sep="\t", index=False, float_format="%.6g")
    print(f"wrote {args.n} subjects, template and subjects.tsv to {args.out} (grid {shape}, {res} mm)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
