"""Run a Python callable application in its own process: ``python -m reprovip.execute.pycall mod:func k=v ...``.

A separate process gives a Python application the same isolation as a command: its own environment
(thread variables are read at import time), a timeout that kills it, and a clean interpreter. The function
is called with keyword arguments, all strings: ``input``, ``outdir``, ``subject``, ``repetition`` and one per
factor. It fails by raising (its traceback's last line is the execution's error); what it returns is ignored:
an int returned became the exit code, and a function returning its lesion count failed for 1 or 3 lesions and
succeeded for 0 or 256 (review H).
"""

from __future__ import annotations

import importlib
import sys


def main(argv: list[str]) -> int:
    """Import ``module:function`` and call it with the ``name=value`` keyword arguments that follow."""
    if not argv or ":" not in argv[0] or any("=" not in a for a in argv[1:]):
        print("usage: python -m reprovip.execute.pycall module:function [name=value ...]", file=sys.stderr)
        return 2
    target = argv[0]
    kwargs = dict(a.split("=", 1) for a in argv[1:])
    module_name, _, func_name = target.partition(":")
    try:
        func = importlib.import_module(module_name)
        for part in func_name.split("."):
            func = getattr(func, part)
    except (ImportError, AttributeError) as exc:
        print(f"cannot import {target!r}: {exc}; check the `application.python` key and PYTHONPATH", file=sys.stderr)
        return 2
    func(**kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
