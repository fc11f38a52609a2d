#!/usr/bin/env python
"""Make the "subjects" of the MRS case study from the one real FID that pyAMARES ships.

    python make_subjects.py --n N --out data/ --seed S

sub-00 is the real in-vivo 7 T 31P human-brain FID (`pyAMARES/examples/fid.txt`), copied byte for byte.
sub-01 ... sub-<N-1> are noisy replicates of it: complex white Gaussian noise is added in the time
domain so that each replicate has a time-domain SNR drawn uniformly in [--snr-min, --snr-max].
They are NOT independent subjects: they share one anatomy, one spectrum and one shim; only the
noise differs. Their spread is therefore a lower bound on real between-subject variability.

SNR (time domain) = max |FID| / sigma, with sigma the noise SD of one channel. The noise already in the
real FID is estimated as the SD of the real channel over the last 10 % of points (the tail pyAMARES
also uses for its noise estimate; the shipped FID's imaginary channel is nearly noise-free there,
so it is not used). A replicate with target SNR s gets extra noise of SD sqrt((max|FID|/s)^2 - sigma0^2)
per channel, so its total noise is max|FID|/s.

Deterministic: subject i uses numpy.random.default_rng([seed, i]), so a subject's file does not depend
on N (study-small's 3 subjects are the first 3 of the full study). Files are written as
"%.6f %.6f" lines, like fid.txt. A table of the SNRs goes to OUT/subjects.tsv. Stale sub-*.txt files
in OUT beyond N are removed so that a glob sees exactly N subjects.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

import numpy as np

PROG = "make_subjects.py"
TAIL_FRACTION = 10  # last 1/10 of the points: noise region


def shipped_fid():
    try:
        import pyAMARES
    except ImportError as exc:
        sys.exit(f"{PROG}: error: pyAMARES is not importable ({exc}); pip install pyamares")
    path = os.path.join(os.path.dirname(pyAMARES.__file__), "examples", "fid.txt")
    if not os.path.isfile(path):
        sys.exit(f"{PROG}: error: the installed pyAMARES has no examples/fid.txt ({path})")
    return path


def noise_sd(fid):
    tail = fid[-(len(fid) // TAIL_FRACTION) :]
    return float(np.std(tail.real))


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, required=True, help="number of subjects, including the real FID sub-00")
    p.add_argument("--out", required=True, help="output folder, e.g. data/")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise and of the SNR draws (default 0)")
    p.add_argument("--snr-min", type=float, default=12.0, help="lowest time-domain SNR (default 12)")
    p.add_argument("--snr-max", type=float, default=27.0, help="highest time-domain SNR (default 27)")
    p.add_argument("--fid", default=None, help="source FID (default: pyAMARES/examples/fid.txt)")
    a = p.parse_args(argv)
    if a.n < 1:
        p.error("--n must be at least 1")
    src = a.fid or shipped_fid()
    data = np.loadtxt(src, dtype=float, ndmin=2)
    if data.shape[1] != 2:
        p.error(f"{src}: expected 2 columns, got {data.shape[1]}")
    fid = data[:, 0] + 1j * data[:, 1]
    peak = float(np.max(np.abs(fid)))
    sigma0 = noise_sd(fid)
    snr0 = peak / sigma0
    if not 0 < a.snr_min <= a.snr_max < snr0:
        p.error(f"need 0 < --snr-min <= --snr-max < SNR of the real FID ({snr0:.2f})")

    os.makedirs(a.out, exist_ok=True)
    width = max(2, len(str(a.n - 1)))
    names = [f"sub-{i:0{width}d}" for i in range(a.n)]
    rows = [("subject", "kind", "snr_time_domain", "noise_sd_added", "noise_sd_total", "seed")]

    shutil.copyfile(src, os.path.join(a.out, names[0] + ".txt"))
    rows.append((names[0], "real", f"{snr0:.3f}", "0", f"{sigma0:.6f}", ""))
    for i in range(1, a.n):
        rng = np.random.default_rng([a.seed, i])
        snr = float(rng.uniform(a.snr_min, a.snr_max))
        total = peak / snr
        added = float(np.sqrt(total**2 - sigma0**2))
        noise = added * (rng.standard_normal(fid.size) + 1j * rng.standard_normal(fid.size))
        noisy = fid + noise
        out = os.path.join(a.out, names[i] + ".txt")
        np.savetxt(out, np.column_stack([noisy.real, noisy.imag]), fmt="%.6f", delimiter=" ")
        rows.append((names[i], "noisy-replicate", f"{snr:.3f}", f"{added:.6f}", f"{total:.6f}", str(a.seed)))

    keep = {n + ".txt" for n in names}
    for f in sorted(os.listdir(a.out)):
        if f.startswith("sub-") and f.endswith(".txt") and f not in keep:
            os.remove(os.path.join(a.out, f))
            print(f"{PROG}: removed stale {f}")
    with open(os.path.join(a.out, "subjects.tsv"), "w") as fh:
        for r in rows:
            fh.write("\t".join(r) + "\n")
    print(
        f"{PROG}: {a.n} subjects in {a.out} (real FID SNR {snr0:.1f}; replicates {a.snr_min:g}-{a.snr_max:g})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
