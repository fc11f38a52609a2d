"""Run a Python callable application in its own process: ``python -m reprovip.execute.pycall mod:func JSON``.

A separate process gives a Python application the same isolation as a command: its own environment
(thread variables are read at import time), a timeout that kills it, and a clean interpreter.
"""

from __future__ import annotations

import importlib
import json
import sys


def main(argv: list[str]) -> int:
    """Import ``module:function`` and call it with the keyword arguments in the JSON document."""
    if len(argv) != 2:
        print("usage: python -m reprovip.execute.pycall module:function JSON_KWARGS", file=sys.stderr)
        return 2
    target, kwargs = argv[0], json.loads(argv[1])
    module_name, _, func_name = target.partition(":")
    try:
        func = importlib.import_module(module_name)
        for part in func_name.split("."):
            func = getattr(func, part)
    except (ImportError, AttributeError) as exc:
        print(f"cannot import {target!r}: {exc}; check the `application.python` key", file=sys.stderr)
        return 2
    result = func(**kwargs)
    return int(result) if isinstance(result, int) and not isinstance(result, bool) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
