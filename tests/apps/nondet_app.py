"""A nondeterministic application under multithreading: with 2 threads it adds unseeded noise.

Mimics a reduction whose order depends on the thread schedule: identical with one thread, slightly different
from run to run with two.
"""

import json
import os
import random
import sys
import time
from pathlib import Path

inp, out = Path(sys.argv[1]), Path(sys.argv[2])
delay = float(os.environ.get("APP_DELAY", "0"))
time.sleep(delay)
value = float(inp.read_text().split()[-1])
if os.environ.get("OMP_NUM_THREADS") == "2":
    value += random.gauss(0.0, 1e-3)
(out / "result.json").write_text(json.dumps({"value": value * 2.0}))
