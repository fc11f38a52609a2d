#!/usr/bin/env python
"""Compare two params.csv files written by fit_amares.py, optionally relative to the between-subject spread.

    python compare_params.py A/params.csv B/params.csv [--spread 'GLOB/params.csv'] [--all]

Prints whether the files are byte-identical, then per parameter the largest relative difference |B-A|/|A|
and, with --spread (params.csv of several subjects fitted the same way), |B-A| divided by the
between-subject SD of that parameter. A parameter whose between-subject SD is ~0 (it sits on a
prior-knowledge bound, or never leaves its initial value, in every subject) is listed under "no spread"
instead of giving a meaningless ratio.
"""

from __future__ import annotations

import argparse
import glob
import sys

import numpy as np
import pandas as pd

PARAMS = ("amplitude", "chemical_shift_ppm", "linewidth_hz", "phase_deg", "amplitude_crlb_pct")
NO_SPREAD_REL_SD = 1e-6  # between-subject SD below this fraction of |mean|: no spread


def markdown(df, **kw):
    try:
        return df.to_markdown(**kw)
    except ImportError:  # tabulate not installed
        return df.to_string()


def between_sd(paths):
    frames = [pd.read_csv(p, index_col="metabolite") for p in paths]
    stack = pd.concat(frames, keys=range(len(frames)), names=["subject"])
    sd = stack.groupby("metabolite", sort=False).std(ddof=1)
    mean = stack.groupby("metabolite", sort=False).mean()
    return sd.where(sd > NO_SPREAD_REL_SD * mean.abs()), len(frames)  # NaN = no spread


def compare(a_path, b_path, spread=None):
    a = pd.read_csv(a_path, index_col="metabolite")
    b = pd.read_csv(b_path, index_col="metabolite")
    if list(a.index) != list(b.index):
        raise SystemExit(f"different metabolites: {list(a.index)} vs {list(b.index)}")
    rows = []
    sd = None
    if spread:
        sd, n = between_sd(spread)
    for col in PARAMS:
        for met in a.index:
            va, vb = a.at[met, col], b.at[met, col]
            r = {
                "param": col,
                "metabolite": met,
                "A": va,
                "B": vb,
                "B-A": vb - va,
                "rel %": 100 * abs(vb - va) / abs(va) if va else np.nan,
            }
            if sd is not None:
                s = sd.at[met, col]
                r["between SD"] = s
                r["|B-A|/SD"] = abs(vb - va) / s if np.isfinite(s) else np.nan
            rows.append(r)
    return pd.DataFrame(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--spread", help="glob of params.csv files of several subjects (same solver)")
    p.add_argument("--all", action="store_true", help="print every metabolite, not only the summary")
    args = p.parse_args()
    spread = sorted(glob.glob(args.spread)) if args.spread else None
    if args.spread and len(spread) < 2:
        raise SystemExit(f"--spread matched {len(spread)} file(s), need at least 2")
    with open(args.a, "rb") as fa, open(args.b, "rb") as fb:
        print(f"byte-identical: {fa.read() == fb.read()}")
    d = compare(args.a, args.b, spread)
    if args.all:
        print(markdown(d, index=False, floatfmt=".4g"))
    agg = {"rel %": ["median", "max"]}
    if spread:
        agg["|B-A|/SD"] = ["median", "max"]
    s = d.groupby("param", sort=False).agg(agg)
    s.columns = [f"{a} {b}" for a, b in s.columns]
    if spread:
        s["no spread"] = d.groupby("param", sort=False)["between SD"].apply(
            lambda x: ",".join(d.loc[x.index[x.isna()], "metabolite"]) or "-"
        )
    print(markdown(s, floatfmt=".3g"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
