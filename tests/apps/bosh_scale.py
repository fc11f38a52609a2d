"""A tiny tool for the Boutiques and CARMIN tests: reads a number, writes it scaled to ``result.json``.

``--noise`` adds unseeded random noise (the nondeterministic tool); an input containing ``crash`` makes it
exit with status 3; ``--sleep`` slows it down.
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("input")
parser.add_argument("outdir")
parser.add_argument("--factor", type=float, default=1.0)
parser.add_argument("--noise", action="store_true")
parser.add_argument("--sleep", type=float, default=0.0)
args = parser.parse_args()
text = Path(args.input).read_text()
time.sleep(args.sleep)
if "crash" in text:
    print("bosh_scale: this input makes the tool crash", file=sys.stderr)
    sys.exit(3)
value = float(text.split()[-1]) * args.factor
if args.noise:
    value += random.gauss(0.0, 1e-3)
out = Path(args.outdir)
out.mkdir(parents=True, exist_ok=True)
(out / "result.json").write_text(json.dumps({"value": value}))
print(f"scaled to {value}")
