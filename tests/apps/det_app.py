"""A deterministic application: reads a number from its input, writes derived scalars and a table."""

import json
import sys
from pathlib import Path

inp, out = Path(sys.argv[1]), Path(sys.argv[2])
value = float(inp.read_text().split()[-1])
(out / "result.json").write_text(json.dumps({"value": value * 2.0, "nested": {"sq": value**2}}))
(out / "table.csv").write_text(f"region,volume\nleft,{value * 3}\nright,{value * 4}\n")
