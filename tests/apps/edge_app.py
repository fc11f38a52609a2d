"""An application at the edges a verdict must not paper over; the first argument picks how it behaves.

Usage: edge_app.py MODE INPUT OUTDIR REPETITION

ok:            deterministic scalars (``value``, ``ratio``).
small-noise:   ``value`` gets unseeded noise far below the spread between subjects (sufficiently reproducible).
large-noise:   ``value`` gets unseeded noise as large as the spread between subjects (not reproducible).
medium-noise:  ``value`` gets noise of SD 4 seeded by subject and repetition (ICC(A,1) about 0.9, CI wide).
inf-always:    ``ratio`` is +inf in every execution (a division by zero the application always makes); ``value``
               gets the small noise.
inf-some:      ``ratio`` is 1e308 in repetition 1 and +inf in the others (an overflow that comes and goes).
corrupt-some:  subject sub-02's repetition 1 writes a result.json that is not JSON.
fail-some:     subject sub-03's repetition 2 exits with status 1 (no output).
digest:        also writes ``digest.txt``, a log line with a hexadecimal digest that changes every run.
string-flips:  deterministic numbers, and a ``diagnosis`` string that flips from one repetition to the next.
string-flips-noisy: as string-flips, ``value`` with the small unseeded noise too.
formatting:    deterministic numbers, written with an indentation that changes with the repetition.
unit-log:      also writes ``volume.log``, ``Hippocampus volume: <v>mm3 in 3.2s`` with ``v`` as in large-noise: a
               measurement glued to its unit.
"""

import json
import random
import sys
import uuid
from pathlib import Path

mode, inp, out, rep = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
value = float(inp.read_text().split()[-1])
subject = inp.stem
result = {"value": value * 2.0, "ratio": value / 4.0}
if mode in ("small-noise", "inf-always", "string-flips-noisy"):
    result["value"] += random.gauss(0.0, 1e-6)
elif mode in ("large-noise", "unit-log"):
    result["value"] += random.gauss(0.0, 20.0)
elif mode == "medium-noise":
    result["value"] += random.Random(f"{subject}-{rep}").gauss(0.0, 4.0)
if mode == "inf-always":
    result["ratio"] = float("inf")
elif mode == "inf-some":
    result["ratio"] = 1e308 if rep == 1 else float("inf")
elif mode == "fail-some" and subject == "sub-03" and rep == 2:
    print("fit did not converge", file=sys.stderr)
    sys.exit(1)
elif mode in ("string-flips", "string-flips-noisy"):
    result["diagnosis"] = "tumour" if rep % 2 else "healthy"
elif mode == "digest":
    (out / "digest.txt").write_text(f"run 12e61109{uuid.uuid4().hex} finished: value {value * 2.0}\n")
if mode == "unit-log":
    (out / "volume.log").write_text(f"Hippocampus volume: {result['value']:.4f}mm3 in 3.2s\n")
text = json.dumps(result, indent=rep if mode == "formatting" else None)  # inf as Infinity, as many tools write it
if mode == "corrupt-some" and subject == "sub-02" and rep == 1:
    text = text[: len(text) // 2]
(out / "result.json").write_text(text)
