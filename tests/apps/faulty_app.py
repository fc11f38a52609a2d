"""Applications that misbehave the ways real ones do; the first argument picks how.

flood:   writes ~1 GiB to stdout then its result (a runaway debug print).
escape:  writes a file outside its outdir (its working folder's parent) besides its result.
third:   fails on the first of every three attempts of an execution (a marker counts the attempts).
"""

import json
import os
import sys
from pathlib import Path

mode, out = sys.argv[1], Path(sys.argv[2])
if mode == "flood":
    chunk = b"x" * (1 << 20)
    for _ in range(1024):
        sys.stdout.buffer.write(chunk)
    sys.stdout.flush()
if mode == "escape":
    (out.parent.parent / f"stray-{os.getpid()}.txt").write_text("written outside {outdir}")
if mode == "third":
    marker = Path(sys.argv[3]) / f"{os.environ['REPROVIP_EXECUTION_ID']}.attempts"
    n = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(n + 1))
    if n % 3 == 0:
        print("transient failure", file=sys.stderr)
        sys.exit(75)
(out / "result.json").write_text(json.dumps({"value": 1.0}))
