"""A small real study driven through the ``reprovip`` command (subprocesses): the stale-verdict and write-error
tests run what a user runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TOOL = """\
import os, pathlib, random, sys
inp, outdir = sys.argv[1], sys.argv[2]
base = float(open(inp).read().strip())
noise = float(os.environ.get("TOOL_NOISE", "0"))
rows = int(os.environ.get("TOOL_ROWS", "2"))
noisy = lambda k: base * (1 + k) + (random.Random().gauss(0, noise) if noise else 0)
pathlib.Path(outdir, "vol.csv").write_text("roi,vol\\n" + "".join(f"r{k},{noisy(k)!r}\\n" for k in range(rows)))
"""

STUDY = """\
application:
  command: ["{python}", "{study_dir}/tool.py", "{input}", "{outdir}"]
subjects: {glob: "data/{subject}.txt"}
repetitions: 2
outputs:
  vol: {path: vol.csv, kind: table, key_columns: [roi]}
"""


def make_study(root: Path) -> Path:
    """Write a study of 3 subjects x 2 repetitions in ``root``; return its study file."""
    (root / "data").mkdir(parents=True)
    for i in (1, 2, 3):
        (root / "data" / f"sub-0{i}.txt").write_text(f"{i * 100 + 7}\n")
    (root / "tool.py").write_text(TOOL)
    (root / "study.yaml").write_text(STUDY)
    return root / "study.yaml"


def rp(
    cwd: Path, *args: str, noise: float = 0.0, rows: int = 2, limit_kb: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``reprovip ARGS`` in ``cwd`` (the tool writing ``rows`` rows with ``noise``; under ``ulimit -f
    limit_kb`` when given)."""
    env = dict(os.environ, TOOL_NOISE=str(noise), TOOL_ROWS=str(rows))
    argv = [sys.executable, "-m", "reprovip", *args]
    preexec = None
    if limit_kb is not None:
        import resource

        def preexec() -> None:  # the shell's `ulimit -f`; Python ignores SIGXFSZ, so writes fail with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_kb * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, preexec_fn=preexec, check=False
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The command's one error line (asserting exit 2, no traceback, no bug report)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "bug report" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("reprovip: error: "), lines[0]
    return lines[0]


def analysed_study(root: Path) -> Path:
    """:func:`make_study` in ``root``, run and analysed (reproducible); returns ``root``."""
    make_study(root)
    assert rp(root, "run", "study.yaml", "--no-progress").returncode == 0
    assert rp(root, "analyze", "study.yaml").returncode == 0
    return root
