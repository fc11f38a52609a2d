"""An application whose run-to-run noise is seeded by the repetition's number alone: every condition writes
the same bytes in a given repetition, and its repetitions differ (a design some users choose)."""

import json
import random
import sys
from pathlib import Path

inp, out, repetition = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
random.seed(repetition)
value = float(inp.read_text().split()[-1])
(out / "result.json").write_text(json.dumps({"value": value + random.gauss(0.0, 0.01)}))
