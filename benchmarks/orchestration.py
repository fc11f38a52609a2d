"""Orchestration overhead: N trivial executions through reprovip vs a raw subprocess loop and ``xargs -P``.

All run the same command (``touch OUTDIR/o.txt``, one folder per execution) with the same parallelism.

- in process: a thread pool calling ``subprocess.run`` (the raw loop) against ``Study.run()`` on a new store:
  catalog creation, planning, starting its worker processes, and for every execution a working folder,
  environment, process group, timeout, output hashing, blob storage and its share of a catalog transaction
  (target <= 1.2x);
- whole command: ``xargs -P JOBS -n 1 touch`` over the N files (their folders made first, in the timing)
  against the ``reprovip run`` command on a new store, interpreter start-up and imports included (target <= 2x).

Fresh interpreters (reprovip's workers, the command) use cached bytecode, as an installed package does.

Usage: python benchmarks/orchestration.py [--n 500] [--jobs 2] [--rounds 3]
Each round times the four, interleaved; prints every round's ratios, then the medians over the rounds and the
load average. Rounds make the figures steadier on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
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


def xargs(n: int, jobs: int, root: Path) -> float:
    files = "".join(f"{root}/xargs-{i}/o.txt\n" for i in range(n))
    t0 = time.perf_counter()
    for i in range(n):
        (root / f"xargs-{i}").mkdir()
    subprocess.run(["xargs", "-P", str(jobs), "-n", "1", "touch"], input=files, text=True, check=True)
    return time.perf_counter() - t0


def _study(n: int, root: Path, name: str) -> Path:
    study_dir = root / name
    (study_dir / "data").mkdir(parents=True)
    (study_dir / "data" / "s.txt").write_text("x")
    path = study_dir / "study.yaml"
    path.write_text(
        "application:\n  command: [touch, '{outdir}/o.txt']\n"
        "subjects: {glob: 'data/{subject}.txt'}\n"
        f"repetitions: {n}\n"
        "outputs:\n  o: {path: o.txt, kind: text}\n"
    )
    return path


def reprovip_run(n: int, jobs: int, root: Path) -> float:
    study = Study.load(_study(n, root, "study"))
    t0 = time.perf_counter()
    summary = study.run(jobs=jobs)
    elapsed = time.perf_counter() - t0
    assert summary.done == n, summary
    return elapsed


def reprovip_command(n: int, jobs: int, root: Path) -> float:
    path = _study(n, root, "cli")
    cli = Path(sys.executable).with_name("reprovip")
    t0 = time.perf_counter()
    subprocess.run([str(cli), "run", str(path), "-j", str(jobs), "--no-progress"], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    # The workers and the command are fresh interpreters: let them use cached bytecode, as an installed package does.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"executions: {args.n}, parallelism: {args.jobs}")
    inproc, whole = [], []
    for i in range(args.rounds):
        root = Path(tempfile.mkdtemp(prefix="reprovip-bench-"))
        try:
            raw = raw_loop(args.n, args.jobs, root)
            ours = reprovip_run(args.n, args.jobs, root)
            bare = xargs(args.n, args.jobs, root)
            cli = reprovip_command(args.n, args.jobs, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        inproc.append((ours / raw, raw, ours))
        whole.append((cli / bare, bare, cli))
        print(
            f"round {i + 1}: raw subprocess loop {raw:.2f} s, Study.run() {ours:.2f} s "
            f"({1000 * ours / args.n:.2f} ms/execution), ratio {ours / raw:.2f}x; "
            f"xargs -P{args.jobs} {bare:.2f} s, reprovip run {cli:.2f} s, ratio {cli / bare:.2f}x"
        )
    ratio, raw, ours = statistics.median_low(inproc)
    print(f"in process, Study.run()/raw loop (median of {args.rounds}): {ratio:.2f}x (target <= 1.2x)")
    print(f"  overhead per execution (that round): {1000 * (ours - raw) / args.n:.2f} ms")
    ratio, bare, cli = statistics.median_low(whole)
    print(f"whole command, reprovip run/xargs -P{args.jobs} (median of {args.rounds}): {ratio:.2f}x (target <= 2x)")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
