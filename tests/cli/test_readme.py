"""The README's "Using it on your own pipeline" block runs as written, with a tiny tool and four subjects.

Two lines of the block are not run here: `pip install -e .` (the package is installed already) and
`reprovip serve .` (it serves until stopped; the dashboard has its own tests). Every other line runs verbatim,
in order, through bash with `set -e`; the second block (compare, ingest: "later") needs a baseline and results
made elsewhere, and is only checked to name real commands and options.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

README = Path(__file__).parents[2] / "README.md"
SKIPPED = ("pip install -e .", "reprovip serve .")

# The tool the README's init line describes: input, outdir, --seed, --threads; writes volumes.csv.
MY_TOOL = """\
import argparse, pathlib
import nibabel as nib
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("input")
p.add_argument("outdir")
p.add_argument("--seed", type=int, required=True)
p.add_argument("--threads", type=int, required=True)
a = p.parse_args()
img = np.asarray(nib.load(a.input).dataobj, dtype=float)
noise = np.random.default_rng(a.seed).normal(0, 1e-9)  # a seed-dependent last digit, as real tools have
rows = [(t, float(img[img > cut].mean()) + noise) for t, cut in (("gm", 40.0), ("wm", 80.0))]
text = "tissue,mean\\n" + "".join(f"{t},{v!r}\\n" for t, v in rows)
pathlib.Path(a.outdir, "volumes.csv").write_text(text)
"""


def _blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", body, flags=re.S)


def _commands(block: str) -> list[str]:
    """One string per command: continuation lines joined, comments stripped by bash itself."""
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def test_readme_own_pipeline_block_runs_as_written(tmp_path: Path) -> None:
    block = _blocks("Using it on your own pipeline")[0]
    commands = _commands(block)
    kept = [c for c in commands if not c.startswith(SKIPPED)]
    assert len(commands) - len(kept) == len(SKIPPED) and len(kept) == 8, commands
    (tmp_path / "my_tool.py").write_text(MY_TOOL)
    (tmp_path / "data").mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 5):
        brain = rng.normal(60 + 10 * i, 25, size=(8, 8, 8)).astype(np.float32)
        nib.save(nib.Nifti1Image(brain, np.eye(4)), tmp_path / "data" / f"sub-{i:02d}.nii.gz")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    script = "set -euo pipefail\n" + "\n".join(kept) + "\n"
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "study.yaml: ok — 4 subjects x 4 conditions x 3 repetitions = 48 executions" in proc.stdout
    assert "48 executions planned, 0 already done, 48 completed, 0 failed" in proc.stderr
    for made in ("analysis.json", "junit.xml", "report.html", "crate/ro-crate-metadata.json"):
        assert (tmp_path / made).stat().st_size > 0, made


def test_readme_later_block_names_real_commands_and_options(tmp_path: Path) -> None:
    later = _commands(_blocks("Using it on your own pipeline")[1])
    assert [c.split()[1] for c in later] == ["compare", "ingest"]
    for command in later:
        words = command.split("#")[0].split()
        options = [w for w in words if w.startswith("--")]
        help_text = subprocess.run(
            [sys.executable, "-m", "reprovip", words[1], "--help"], capture_output=True, text=True, timeout=60
        ).stdout
        assert all(o in help_text for o in options), (command, help_text)
