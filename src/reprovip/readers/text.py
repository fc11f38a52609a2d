"""Free text (``text``): every number in the file is one observation keyed ``"line<L>:<i>"``.

``L`` is the 1-based line number and ``i`` the 0-based position of the number on its line, so a report can
point at the very number that changed (``line12:0`` is the first number on line 12). A number is an
optional sign, digits with an optional decimal point and exponent, or ``nan``/``inf``/``infinity`` as a whole
word (any case). It must not continue a word: ``T1w``, ``mm3`` and ``v0.3.28`` give nothing and ``sub-01``
gives ``1`` (see :data:`NUMBER` and the examples of :func:`find_numbers`). Every number counts,
timestamps included: declare structured outputs (``table``, ``scalars``) when a log mixes results with
run-specific values.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.readers.base import Loaded, Reader, count_nonfinite, decode_text, read_file_bytes, read_only

#: A number not glued to a preceding letter, digit, underscore or point.
NUMBER = re.compile(
    r"(?<![\w.])(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)(?![\w.]))",
    re.IGNORECASE,
)


def find_numbers(line: str) -> list[float]:
    """The numbers of one line, in order.

    Examples
    --------
    >>> find_numbers("volume = 1.5e3 mm3, dice=0.93 (sub-01, T1w, v0.3.28) NaN")
    [1500.0, 0.93, 1.0, nan]
    >>> find_numbers("x: -2 +.5 3. info")
    [-2.0, 0.5, 3.0]
    """
    return [float(m) for m in NUMBER.findall(line)]


class TextReader(Reader):
    """Plain-text logs and reports; any non-binary file declared ``text``."""

    name = "text"
    kinds = ("text",)
    suffixes = (".txt", ".log", ".out", ".dat", ".text", ".txt.gz", ".log.gz")
    any_suffix = True

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        text, encoding = decode_text(path, read_file_bytes(path))
        values: dict[str, np.ndarray] = {}
        lines = text.splitlines()
        for number, line in enumerate(lines, start=1):
            for i, value in enumerate(find_numbers(line)):
                values[f"line{number}:{i}"] = read_only(np.array(value, dtype=np.float64))
        meta = {
            "n_lines": len(lines),
            "n_numbers": len(values),
            "encoding": encoding,
            "n_nonfinite": count_nonfinite(values),
        }
        return Loaded("text", values, meta)
