"""Orchestration overhead: N trivial executions through reprovip's local executor vs a raw subprocess loop.

Both run the same command (``touch OUTDIR/o.txt``) with the same parallelism, in the same process. The raw
baseline is a thread pool calling ``subprocess.run``; reprovip's time is the whole ``Study.run()`` on a new
store: catalog creation, planning, starting its worker processes, and for every execution a working folder,
environment, process group, timeout, output hashing, blob storage and its share of a catalog transaction.

Usage: python benchmarks/orchestration.py [--n 1000] [--jobs 2] [--rounds 3]
Each round times the raw loop then reprovip; prints every round's ratio, then the median ratio (target <= 2x)
and the median per-execution overhead. Rounds make the figure steadier on a shared machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reprovip.study import Study


def raw_loop(n: int, jobs: int, root: Path) -> float:
    def one(i: int) -> None:
        d = root / f"raw-{i}"
        d.mkdir()
        subprocess.run(["touch", str(d / "o.txt")], check=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - t0


def reprovip_run(n: int, jobs: int, root: Path) -> float:
    study_dir = root / "study"
    (study_dir / "data").mkdir(parents=True)
    (study_dir / "data" / "s.txt").write_text("x")
    (study_dir / "study.yaml").write_text(
        "application:\n  command: [touch, '{outdir}/o.txt']\n"
        "subjects: {glob: 'data/{subject}.txt'}\n"
        f"repetitions: {n}\n"
        "outputs:\n  o: {path: o.txt, kind: text}\n"
    )
    study = Study.load(study_dir / "study.yaml")
    t0 = time.perf_counter()
    summary = study.run(jobs=jobs)
    elapsed = time.perf_counter() - t0
    assert summary.done == n, summary
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"executions: {args.n}, parallelism: {args.jobs}")
    rounds = []
    for i in range(args.rounds):
        root = Path(tempfile.mkdtemp(prefix="reprovip-bench-"))
        try:
            raw = raw_loop(args.n, args.jobs, root)
            ours = reprovip_run(args.n, args.jobs, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        rounds.append((ours / raw, raw, ours))
        print(
            f"round {i + 1}: raw subprocess loop {raw:.2f} s ({1000 * raw / args.n:.2f} ms/execution), "
            f"reprovip local executor {ours:.2f} s ({1000 * ours / args.n:.2f} ms/execution), "
            f"ratio {ours / raw:.2f}x"
        )
    ratio, raw, ours = statistics.median_low(rounds)
    print(f"ratio reprovip/raw (median of {args.rounds}): {ratio:.2f}x (target <= 2x)")
    print(f"overhead per execution (that round): {1000 * (ours - raw) / args.n:.2f} ms")


if __name__ == "__main__":
    main()
