"""An application whose result depends on the version of a library it imports (`six` here).

Stands for a numerical library whose new release changes an algorithm: the result is the input scaled by a
factor derived from the library's version, so two environments give two different, deterministic results.
"""

import json
import sys
from pathlib import Path

import six

inp, out = Path(sys.argv[1]), Path(sys.argv[2])
value = float(inp.read_text().split()[-1])
major, minor = (int(x) for x in six.__version__.split(".")[:2])
(out / "result.json").write_text(json.dumps({"value": value * (1 + minor / 1000), "python": sys.executable}))
