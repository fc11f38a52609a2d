#!/usr/bin/env python
"""Measure, without reprovip, how reproducible pipeline.py is on this machine.

    python check_reproducibility.py --subject sub-01 --work /tmp/bs-check [--reps 3] [--preproc none n4]

Runs pipeline.py in fresh subprocesses under seed {42, random} x threads {1, 2} x preproc, REPS
times each, with the thread variables set the way reprovip sets them, then compares:

* repetitions of the same condition with each other (rep 1 vs rep 2, rep 1 vs rep 3, ...);
* seed 42 with 1 thread vs seed 42 with 2 threads (first repetition of each);
* seed 42 vs seed 43 (1 thread);
* sub-01 vs another subject (the inter-subject scale, for reference).

Prints one line per comparison (see compare_runs.summary_line) and writes everything as JSON to
WORK/results.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare_runs import compare_dirs, summary_line  # noqa: E402

THREAD_VARS = (
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def run(
    python, data, subject, out, seed, threads, preproc, transform, pipeline=HERE / "pipeline.py"
) -> float:
    env = dict(os.environ)
    for v in THREAD_VARS:
        env[v] = str(threads)
    env.pop("ANTS_RANDOM_SEED", None)
    cmd = [
        python,
        str(pipeline),
        "--input",
        str(data / f"{subject}_T1w.nii.gz"),
        "--template",
        str(data / "template.nii.gz"),
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--preproc",
        preproc,
        "--transform",
        transform,
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, cwd=out.parent)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subject", default="sub-01")
    ap.add_argument("--other-subject", default="sub-02")
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--preproc", nargs="+", default=["none", "n4"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--transform", default="syn", choices=["syn", "affine"])
    ap.add_argument("--python", default=sys.executable, help="interpreter (e.g. another venv's)")
    ap.add_argument("--pipeline", type=Path, default=HERE / "pipeline.py")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)

    results = {"runs": {}, "comparisons": {}}

    def outdir(subject, seed, threads, preproc, rep):
        return args.work / f"{subject}_seed-{seed}_thr-{threads}_pre-{preproc}_rep-{rep}"

    def go(subject, seed, threads, preproc, rep):
        out = outdir(subject, seed, threads, preproc, rep)
        if not (out / "volumes.csv").exists():
            dt = run(
                args.python, args.data, subject, out, seed, threads, preproc, args.transform, args.pipeline
            )
            results["runs"][out.name] = {"wall_s": round(dt, 2)}
            prov = json.loads((out / "provenance.json").read_text())
            results["runs"][out.name]["timings_s"] = prov["timings_s"]
            print(f"ran {out.name}: {dt:.1f} s wall, {prov['timings_s']}", flush=True)
        return out

    def cmp(name, a, b):
        res = compare_dirs(a, b)
        results["comparisons"][name] = res
        print(f"{name}: {summary_line(res)}", flush=True)

    for preproc in args.preproc:
        for seed, threads in itertools.product(["42", "random"], args.threads):
            outs = [go(args.subject, seed, threads, preproc, r) for r in range(1, args.reps + 1)]
            for r in range(1, len(outs)):
                cmp(f"[{preproc}] seed={seed} threads={threads}: rep1 vs rep{r + 1}", outs[0], outs[r])
        if len(args.threads) > 1:
            for t in args.threads[1:]:
                cmp(
                    f"[{preproc}] seed=42: threads={args.threads[0]} vs threads={t}",
                    outdir(args.subject, "42", args.threads[0], preproc, 1),
                    outdir(args.subject, "42", t, preproc, 1),
                )
        o43 = go(args.subject, "43", args.threads[0], preproc, 1)
        cmp(
            f"[{preproc}] threads={args.threads[0]}: seed=42 vs seed=43",
            outdir(args.subject, "42", args.threads[0], preproc, 1),
            o43,
        )
        if args.other_subject:
            other = go(args.other_subject, "42", args.threads[0], preproc, 1)
            cmp(
                f"[{preproc}] {args.subject} vs {args.other_subject} (seed=42, threads={args.threads[0]})",
                outdir(args.subject, "42", args.threads[0], preproc, 1),
                other,
            )
    (args.work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.work / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
