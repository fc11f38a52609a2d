"""Tracing overhead: one execution traced (``trace: files``, ``trace: processes``) against the same one untraced.

Each execution runs through :func:`reprovip.execute.sandbox.run_task`, as a worker runs it: working folder,
process group, output hashing and, when traced, the run under ``strace -f`` (processes) and the hashing of every
file of the working folder and the parsing of the strace files (both modes) after it. Two workloads:

- ``pipeline``: 50 short processes in a chain, each ``sed`` reading the file the one before wrote and writing the
  next (``step<i>.txt``, 20 lines each), started by ``sh``: what strace slows down most (every process start
  opens its libraries);
- ``long``: one Python process computing for about 2 s of CPU (--iterations), writing one file.

Each round runs untraced, files and processes back to back (the order rotates between rounds) and takes the
ratio traced / untraced within the round (paired runs); the figures are the medians over the rounds. Two
times each: wall-clock, and CPU (this process's, for the hashing and parsing, plus its children's: the
application, strace and what they started), which a busy machine disturbs less.

Usage: python benchmarks/tracing.py [--rounds 7] [--iterations 26000000]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time

from reprovip.execute import trace
from reprovip.execute.sandbox import OutputDecl, Task, run_task

PIPELINE = (
    "seq 1 20 > step0.txt; "
    'for i in $(seq 1 50); do sed "s/^/$i:/" step$((i - 1)).txt > step$i.txt; done; '
    'cp step50.txt "$1/result.txt"'
)
LONG = (
    "import sys\n"
    "s = 0\n"
    "for i in range(int(sys.argv[2])):\n"
    "    s += i * i % 7\n"
    "open(sys.argv[1] + '/result.txt', 'w').write(str(s))\n"
)
MODES = ("untraced", "files", "processes")


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_once(argv: list[str], mode: str, root: str, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of one execution (``run_task``, tracing included); its working folder is removed."""
    task = Task(
        execution_id=f"{mode}-{n}",
        argv=argv,
        values={},
        env={},
        outputs=[OutputDecl("result", "result.txt", "file")],
        timeout=600,
        work_root=root,
        extra={} if mode == "untraced" else {"trace": mode},
    )
    t0, c0 = time.perf_counter(), _cpu()
    result = run_task(task)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    if not result["ok"]:
        sys.exit(f"{mode}: the execution failed: {result['error']}")
    if mode != "untraced" and result["trace"]["mode"] != mode:
        sys.exit(f"{mode}: {result['trace']['note']}")
    shutil.rmtree(result["workdir"])
    return seconds, cpu


def measure(name: str, argv: list[str], rounds: int, root: str) -> None:
    times: dict[tuple[str, str], list[float]] = {(m, k): [] for m in MODES for k in ("wall", "cpu")}
    for mode in MODES:  # not timed: the first execution collects the machine's provenance, imports the readers
        run_once(argv, mode, root, -1)
    for r in range(rounds):
        order = MODES[r % 3 :] + MODES[: r % 3]  # rotate: no mode always runs first (cold caches) or last
        for mode in order:
            wall, cpu = run_once(argv, mode, root, r)
            times[mode, "wall"].append(wall)
            times[mode, "cpu"].append(cpu)
    for kind in ("wall", "cpu"):
        base = times["untraced", kind]
        line = f"{name:8s} {kind:4s} untraced {statistics.median(base):6.3f} s"
        for mode in MODES[1:]:
            ratios = [t / u for t, u in zip(times[mode, kind], base, strict=True)]
            line += (
                f" | {mode} {statistics.median(times[mode, kind]):6.3f} s, ratio {statistics.median(ratios):5.2f}x"
                f" (rounds {min(ratios):.2f}-{max(ratios):.2f})"
            )
        print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iterations", type=int, default=26_000_000, help="loop length of `long` (~2 s CPU here)")
    args = ap.parse_args()
    if problem := trace.strace_problem():
        sys.exit(f"`trace: processes` cannot run here: {problem}")
    root = tempfile.mkdtemp(prefix="reprovip-tracing-")
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); medians of {args.rounds} rounds")
    try:
        measure("pipeline", ["sh", "-c", PIPELINE, "sh", "{outdir}"], args.rounds, root)
        measure("long", [sys.executable, "-c", LONG, "{outdir}", str(args.iterations)], args.rounds, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
