"""CLI start-up: `reprovip --version`, `--help`, `validate` and `status` against `python -c pass`.

Each command is a fresh process, as a user runs it (the `reprovip` console script next to this interpreter).
Every round runs the baseline and each command once, interleaved, so that the load of a shared machine falls on
all of them alike; the figures are medians over the rounds. Bytecode is cached first (one warm-up run of each,
with PYTHONDONTWRITEBYTECODE removed from the environment): an installed package has its .pyc files.
`status` reads a study of 3 subjects x 2 conditions x 2 repetitions run once before timing.

Usage: python benchmarks/cli_start.py [--rounds 15]
Prints each command's median wall time, its ratio to `python -c pass`, its median CPU time (user + system: less
sensitive than wall time to a loaded machine, where the wall time is mostly waiting for a core), and whether
it meets the 0.25 s target.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.25  # seconds, wall


def _study(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    for s in ("a", "b", "c"):
        (root / "data" / f"{s}.txt").write_text(s)
    path = root / "study.yaml"
    path.write_text(
        "application:\n  command: [touch, '{outdir}/o.txt']\n"
        "subjects: {glob: 'data/{subject}.txt'}\n"
        "factors:\n  threads: [1, 2]\n"
        "repetitions: 2\n"
        "outputs:\n  o: {path: o.txt, kind: text}\n"
    )
    return path


def _reprovip() -> list[str]:
    script = Path(sys.executable).with_name("reprovip")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reprovip"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of ``argv``."""
    c0, t0 = _cpu(), time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed, cpu = time.perf_counter() - t0, _cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr}")
    return elapsed, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    root = Path(tempfile.mkdtemp(prefix="reprovip-cli-start-"))
    try:
        path = _study(root / "study")
        cli = _reprovip()
        subprocess.run([*cli, "run", str(path), "--no-progress"], env=env, check=True, capture_output=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "reprovip --version": [*cli, "--version"],
            "reprovip --help": [*cli, "--help"],
            "reprovip validate": [*cli, "validate", str(path)],
            "reprovip status": [*cli, "status", str(path)],
        }
        for argv in commands.values():  # warm-up: bytecode cached, files in the page cache
            _time(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, argv in commands.items():
                wall, cpu = _time(argv, env)
                times[name].append(wall)
                cpus[name].append(cpu)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load = os.getloadavg()
    print(f"{' '.join(cli)}; {args.rounds} interleaved rounds; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    base = statistics.median(times["python -c pass"])
    for name, ts in times.items():
        med = statistics.median(ts)
        verdict = "" if name.startswith("python") else ("  meets <= 0.25 s" if med <= TARGET else "  over 0.25 s")
        print(
            f"{name:20s} median {med:.3f} s  min {min(ts):.3f} s  ratio to python -c pass {med / base:5.1f}x  "
            f"CPU {statistics.median(cpus[name]):.3f} s{verdict}"
        )


if __name__ == "__main__":
    main()
