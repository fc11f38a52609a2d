#!/usr/bin/env python
"""Fit one 31P FID with pyAMARES and write one row per metabolite to OUTDIR/params.csv.

    python fit_amares.py --fid FID.txt --out OUTDIR --solver {least_squares,leastsq} [--seed N]

The FID is a 2-column ASCII file (real imaginary, one time point a line), the format of
`pyAMARES/examples/fid.txt`. The prior knowledge defaults to the table shipped with the installed
pyAMARES (`pyAMARES/examples/example_human_brain_31P_7T.csv`, human brain 31P at 7 T, Ren et al. 2015)
and the acquisition parameters to the ones pyAMARES documents for its example FID
(120 MHz, spectral width 10 kHz, dead time 300 us).

The fit is a single AMARES fit (`pyAMARES.fitAMARES`) started from the prior-knowledge initial values
with the lmfit method given by --solver: `least_squares` (scipy trust-region reflective) or
`leastsq` (scipy MINPACK Levenberg-Marquardt). Works with pyAMARES 0.3.8 ... 0.3.28 (only keyword
arguments present in all of them are used; columns that only some versions report are not written).

Thread variables (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, ...) are taken from the environment as they are.
Exit status: 0 on success, 2 on bad input (one line on stderr), 1 if the fit itself fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import warnings

PROG = "fit_amares.py"
SOLVERS = ("least_squares", "leastsq")
MIN_POINTS = 64

# pyAMARES result_sum column -> column written to params.csv (same names in 0.3.8 ... 0.3.28).
# Not written: g, g_sd, g (%) (g is fixed to 0, pure Lorentzian lines) and SNR (only since 0.3.9;
# it is amplitude / noise SD, so it carries nothing beyond the amplitude).
COLUMNS = {
    "amplitude": "amplitude",
    "sd": "amplitude_sd",
    "CRLB(%)": "amplitude_crlb_pct",
    "chem shift(ppm)": "chemical_shift_ppm",
    "sd(ppm)": "chemical_shift_sd_ppm",
    "CRLB(cs%)": "chemical_shift_crlb_pct",
    "LW(Hz)": "linewidth_hz",
    "sd(Hz)": "linewidth_sd_hz",
    "CRLB(LW%)": "linewidth_crlb_pct",
    "phase(deg)": "phase_deg",
    "sd(deg)": "phase_sd_deg",
    "CRLB(phase%)": "phase_crlb_pct",
}


class InputError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + message; we want a single line
        raise InputError(message)


def parse_args(argv):
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--fid", required=True, help="2-column ASCII FID (real imag)")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--solver", required=True, choices=SOLVERS, help="lmfit minimisation method")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds numpy's global RNG (the fit itself draws no random numbers); recorded",
    )
    p.add_argument(
        "--pk",
        default=None,
        help="prior-knowledge CSV/XLSX (default: the one shipped with the installed pyAMARES)",
    )
    p.add_argument("--mhz", type=float, default=120.0, help="spectrometer frequency in MHz (default 120)")
    p.add_argument("--sw", type=float, default=10000.0, help="spectral width in Hz (default 10000)")
    p.add_argument("--deadtime", type=float, default=300e-6, help="dead time in s (default 300e-6)")
    return p.parse_args(argv)


def load_fid(path):
    """Read a 2-column ASCII FID like pyAMARES.readmrs does for .txt, but with strict checks."""
    import numpy as np

    if not os.path.isfile(path):
        raise InputError(f"FID file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file warns, then fails the shape check below
            data = np.loadtxt(path, dtype=float, ndmin=2)
    except (ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read FID {path}: {first}") from None
    if data.ndim != 2 or data.shape[1] != 2:
        raise InputError(f"FID {path} must have exactly 2 columns (real imag), found shape {data.shape}")
    if data.shape[0] < MIN_POINTS:
        raise InputError(f"FID {path} has {data.shape[0]} points, need at least {MIN_POINTS}")
    if not np.all(np.isfinite(data)):
        raise InputError(f"FID {path} contains NaN or infinite values")
    if not np.any(data):
        raise InputError(f"FID {path} is all zeros")
    return data[:, 0] + 1j * data[:, 1]


def default_prior_knowledge():
    import pyAMARES

    return os.path.join(os.path.dirname(pyAMARES.__file__), "examples", "example_human_brain_31P_7T.csv")


def quiet_pyamares():
    """Silence pyAMARES INFO logging where it exists (>= 0.3.25); older versions print to stdout."""
    import importlib
    import logging

    try:  # loggers made later (delayed imports) take this default level
        importlib.import_module("pyAMARES.libs.logger").DEFAULT_LOG_LEVEL = "warning"
    except (ImportError, AttributeError):
        pass
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pyAMARES"):
            logging.getLogger(name).setLevel(logging.WARNING)


def fit(fid, args, pk):
    import pyAMARES

    # pandas deprecation chatter from pyAMARES' prior-knowledge parser: not about our input
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyAMARES\.")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pyAMARES\.")
    quiet_pyamares()
    # Only keywords that exist in every pyAMARES from 0.3.8 to 0.3.28. normalize_fid is passed
    # explicitly: its default changed from True (0.3.8) to False (0.3.13).
    fid_obj = pyAMARES.initialize_FID(
        fid=fid,
        priorknowledgefile=pk,
        MHz=args.mhz,
        sw=args.sw,
        deadtime=args.deadtime,
        normalize_fid=False,
        preview=False,
    )
    quiet_pyamares()  # loggers created on first use of a submodule
    return pyAMARES.fitAMARES(
        fid_parameters=fid_obj,
        fitting_parameters=fid_obj.initialParams,
        method=args.solver,
        ifplot=False,
        inplace=False,
    )


def result_table(fitted):
    table = fitted.result_sum.copy()
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise RuntimeError(f"pyAMARES result table lacks columns {missing}; has {list(table.columns)}")
    table = table[list(COLUMNS)].rename(columns=COLUMNS).astype(float)
    table.index = [str(i) for i in table.index]
    table.index.name = "metabolite"
    return table


def versions():
    import importlib.metadata as md

    out = {}
    for pkg in ("pyAMARES", "numpy", "scipy", "pandas", "lmfit"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def main(argv=None):
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        fid = load_fid(args.fid)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # 0.3.8 prints its version on import
                import pyAMARES  # noqa: F401
        except ImportError as exc:
            raise InputError(f"pyAMARES is not importable: {exc}") from None
        pk = args.pk or default_prior_knowledge()
        if not os.path.isfile(pk):
            raise InputError(f"prior-knowledge file not found: {pk}")
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create output folder {args.out}: {exc.strerror}") from None
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2

    import numpy as np

    np.random.seed(args.seed)
    try:
        # pyAMARES chatters on stdout (print in old versions, a stdout log handler in new ones):
        # send it to stderr so stdout carries only our one-line summary.
        with contextlib.redirect_stdout(sys.stderr):
            fitted = fit(fid, args, pk)
        table = result_table(fitted)
    except Exception as exc:  # the fit or the report failed: one line, exit 1
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"{PROG}: fit failed: {type(exc).__name__}: {msg}", file=sys.stderr)
        return 1

    table.to_csv(os.path.join(args.out, "params.csv"))  # floats written with round-trip precision
    out_obj = fitted.out_obj
    info = {
        "fid": os.path.abspath(args.fid),
        "prior_knowledge": os.path.abspath(pk),
        "solver": args.solver,
        "seed": args.seed,
        "MHz": args.mhz,
        "sw_hz": args.sw,
        "deadtime_s": args.deadtime,
        "n_points": int(fid.size),
        "nfev": int(getattr(out_obj, "nfev", -1)),
        "success": bool(getattr(out_obj, "success", False)),
        "message": str(getattr(out_obj, "message", "")),
        "chisqr": float(getattr(out_obj, "chisqr", math.nan)),
        "redchi": float(getattr(out_obj, "redchi", math.nan)),
        "versions": versions(),
        "threads_env": {k: v for k, v in sorted(os.environ.items()) if k.endswith("NUM_THREADS")},
    }
    with open(os.path.join(args.out, "fit_info.json"), "w") as fh:
        json.dump(info, fh, indent=2, sort_keys=True)
        fh.write("\n")
    print(
        f"{PROG}: {len(table)} metabolites, solver={args.solver}, nfev={info['nfev']}, "
        f"redchi={info['redchi']:.6g} -> {os.path.join(args.out, 'params.csv')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
