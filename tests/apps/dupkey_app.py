"""Writes a JSON document whose key ``metrics.a`` appears twice (``json`` keeps the last value).

Usage: ``dupkey_app.py INPUT OUTDIR REPETITION MODE``. MODE ``differ``: the first value changes with the
repetition, the last one does not (a reader keeping the last value sees identical files). MODE ``same``:
both values are the subject's, the file is byte-identical in every repetition.
"""

import sys
from pathlib import Path

inp, out, rep, mode = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
value = float(inp.read_text().split()[-1])
first = value + rep if mode == "differ" else value
(out / "result.json").write_text(f'{{"metrics": {{"a": {first!r}, "b": 1.0, "a": {value!r}}}}}\n')
