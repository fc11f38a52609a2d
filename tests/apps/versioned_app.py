"""An application with an algorithm constant (its "version") and run-to-run noise (its rebuild jitter).

The noise is drawn from a seed made of the build's name and the execution id: different for every execution
and every build, the same in every test session (the envelope test is statistical; a test must not be flaky).
"""

import json
import os
import random
import sys
from pathlib import Path

inp, out, scale, noise = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
random.seed(f"{sys.argv[5]}/{os.environ['REPROVIP_EXECUTION_ID']}")
value = float(inp.read_text().split()[-1])
result = {"value": value * scale + random.gauss(0.0, noise), "area": value**2 * scale + random.gauss(0.0, noise)}
(out / "result.json").write_text(json.dumps(result))
