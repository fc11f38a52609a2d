"""An application that names its output after the subject, as many imaging tools do (``sub-01_brain.nii.gz``).

Usage: named_app.py INPUT OUTDIR SUBJECT [NOISE]: writes OUTDIR/SUBJECT_result.json with ``value`` (twice the
input's number, plus unseeded Gaussian noise of SD NOISE when given).
"""

import json
import random
import sys
from pathlib import Path

inp, out, subject = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
noise = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
value = float(inp.read_text().split()[-1]) * 2.0 + (random.gauss(0.0, noise) if noise else 0.0)
(out / f"{subject}_result.json").write_text(json.dumps({"value": value}))
