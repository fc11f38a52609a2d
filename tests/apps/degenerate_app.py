"""An application whose values make a metric degenerate; the first argument picks how.

Usage: degenerate_app.py MODE INPUT OUTDIR REPETITION

zero-mean:      ``value`` is +x in odd repetitions and -x in even ones (x read from the subject's input): every
                subject's mean is 0 while its executions differ, so the within-subject CV is infinite.
same-subjects:  ``value`` is 10 + the repetition, the same in every subject: no variance between subjects while
                executions differ (SD ratio infinite, ICC(A,1) 0).
constant-leaf:  ``value`` is the subject's with unseeded noise far below the spread between subjects; ``n_iter``
                is 100 in every execution of every subject (its ICC is 0/0: reproducible by identity).
"""

import json
import random
import sys
from pathlib import Path

mode, inp, out, rep = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
x = float(inp.read_text().split()[-1])
if mode == "zero-mean":
    result = {"value": x if rep % 2 else -x}
elif mode == "same-subjects":
    result = {"value": 10.0 + rep}
elif mode == "constant-leaf":
    result = {"value": x + random.gauss(0.0, 1e-6), "n_iter": 100}
else:
    sys.exit(f"unknown mode {mode!r}")
(out / "result.json").write_text(json.dumps(result))
