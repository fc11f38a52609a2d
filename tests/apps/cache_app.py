"""An application that caches its (unseeded, noisy) result in the temporary folder, as tools keep caches:
a later execution that finds the cache returns the cached value instead of computing again.

Usage: cache_app.py INPUT OUTDIR: writes OUTDIR/result.json with ``value`` and ``tmp`` (the folder used).
"""

import json
import random
import sys
import tempfile
from pathlib import Path

inp, out = Path(sys.argv[1]), Path(sys.argv[2])
cache = Path(tempfile.gettempdir()) / f"reprovip-test-cache-{inp.stem}.json"
if cache.exists():
    value = json.loads(cache.read_text())
else:
    value = float(inp.read_text().split()[-1]) + random.gauss(0.0, 50.0)
    cache.write_text(json.dumps(value))
(out / "result.json").write_text(json.dumps({"value": value}))
(out / "tmp.txt").write_text(tempfile.gettempdir())
