#!/usr/bin/env python
"""Measure what the README reports, without reprovip: fit every subject under solver x threads x K
repetitions with fit_amares.py, then print (markdown) the fit time, the byte identity of repeated fits,
the effect of the thread count and the solver difference relative to the between-subject spread.

    python measure.py [--data data] [--work /tmp/mrs-measure] [--reps 2] [--python PYTHON]
"""

from __future__ import annotations

import argparse
import glob
import itertools
import os
import subprocess
import sys
import time

import pandas as pd
from compare_params import between_sd, compare, markdown

HERE = os.path.dirname(os.path.abspath(__file__))
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)


def run(py, fid, out, solver, threads):
    env = dict(os.environ, **{v: str(threads) for v in THREAD_VARS})
    t0 = time.perf_counter()
    r = subprocess.run(
        [py, os.path.join(HERE, "fit_amares.py"), "--fid", fid, "--out", out, "--solver", solver],
        env=env,
        capture_output=True,
        text=True,
    )
    dt = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(
            f"fit failed ({r.returncode}): {fid} {solver} t={threads}: {r.stderr.strip()[-300:]}"
        )
    with open(os.path.join(out, "params.csv"), "rb") as fh:
        return dt, fh.read()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "data"))
    p.add_argument("--work", default="/tmp/mrs-measure")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--python", default=sys.executable)
    p.add_argument(
        "--reuse", action="store_true", help="reuse params.csv already in --work (no timing for those)"
    )
    a = p.parse_args()
    fids = sorted(glob.glob(os.path.join(a.data, "sub-*.txt")))
    if not fids:
        raise SystemExit(f"no sub-*.txt in {a.data}: run make_subjects.py first")
    res = {}  # (subject, solver, threads, rep) -> bytes
    times = []
    for fid, solver, threads, rep in itertools.product(
        fids, ("least_squares", "leastsq"), (1, 2), range(a.reps)
    ):
        sub = os.path.basename(fid)[:-4]
        out = os.path.join(a.work, sub, f"{solver}-t{threads}-r{rep}")
        done = os.path.join(out, "params.csv")
        if a.reuse and os.path.isfile(done):
            with open(done, "rb") as fh:
                res[sub, solver, threads, rep] = fh.read()
            continue
        dt, blob = run(a.python, fid, out, solver, threads)
        res[sub, solver, threads, rep] = blob
        times.append((solver, threads, dt))
    subs = sorted({k[0] for k in res})
    print(f"## {len(subs)} subjects x 2 solvers x 2 thread counts x {a.reps} repetitions = {len(res)} fits\n")
    t = pd.DataFrame(times, columns=["solver", "threads", "s"])
    if len(t):
        print("Wall time of one fit_amares.py process (s, incl. ~1.5 s of imports):\n")
        print(
            markdown(t.groupby(["solver", "threads"])["s"].describe()[["mean", "min", "max"]].round(2)), "\n"
        )

    rep_ok = all(
        len({res[s, so, th, r] for r in range(a.reps)}) == 1
        for s in subs
        for so in ("least_squares", "leastsq")
        for th in (1, 2)
    )
    thr_ok = all(res[s, so, 1, 0] == res[s, so, 2, 0] for s in subs for so in ("least_squares", "leastsq"))
    sol_same = sum(res[s, "least_squares", 1, 0] == res[s, "leastsq", 1, 0] for s in subs)
    print(f"- repeated fits byte-identical (every subject/solver/threads): {rep_ok}")
    print(f"- threads 1 vs 2 byte-identical (every subject/solver): {thr_ok}")
    print(f"- least_squares vs leastsq byte-identical: {sol_same}/{len(subs)} subjects\n")

    ls_paths = [os.path.join(a.work, s, "least_squares-t1-r0", "params.csv") for s in subs]
    sd, _ = between_sd(ls_paths)  # between-subject SD per metabolite (least_squares fits); NaN = no spread
    rows = []
    for s in subs:
        d = compare(
            os.path.join(a.work, s, "least_squares-t1-r0", "params.csv"),
            os.path.join(a.work, s, "leastsq-t1-r0", "params.csv"),
        )
        d["subject"] = s
        rows.append(d)
    d = pd.concat(rows)
    d["absdiff"] = d["B-A"].abs()
    g = d.groupby(["param", "metabolite"], sort=False)
    t = pd.DataFrame(
        {"mean(LS)": g["A"].mean(), "mean |LS-LM|": g["absdiff"].mean(), "max |LS-LM|": g["absdiff"].max()}
    )
    t["between-subject SD"] = [sd.at[m, p] for p, m in t.index]
    t["mean|LS-LM| / SD"] = t["mean |LS-LM|"] / t["between-subject SD"]
    print(
        "Solver difference vs between-subject spread (threads=1, repetition 0; SD of the least_squares fits;"
        " NaN = no spread: the parameter sits on a bound or at its initial value in every subject):\n"
    )
    print(markdown(t, floatfmt=".4g"))
    print("\nSummary per parameter (over metabolites of mean|LS-LM| / between-subject SD):\n")
    print(
        markdown(
            t.groupby(level="param", sort=False)["mean|LS-LM| / SD"].agg(["median", "max"]), floatfmt=".3g"
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
