"""Free text (``text``): every number in the file is one observation keyed ``"line<L>:<i>"``.

``L`` is the 1-based line number and ``i`` the 0-based position of the number on its line, so a report can
point at the very number that changed (``line12:0`` is the first number on line 12). A number is a token that
is a number on its own: an optional sign, digits with an optional decimal point and exponent (``e``, or
Fortran's ``D``), or ``nan``/``inf``/``infinity`` (any case; ``Inf.`` before a lowercase word abbreviates
"inferior": not a number; ``loss: inf.`` ending a sentence is infinity),
glued to no letter, digit, ``_``, ``.``, ``+`` or ``-`` on either
side (a final ``.`` may end a sentence). Identifiers therefore give nothing: ``T1w``, ``run_3``, ``sub-01``,
``v1.2.3-rc1``, ``2024-01-05``, ``5mm`` and the hexadecimal digest ``6c1fa9ea``. A number-shaped token too
large for float64 (the digest ``12e61109``) is an identifier too, counted in ``meta["n_overflow"]``. See
:data:`NUMBER` and the examples of :func:`find_numbers`. Every number counts, timestamps included: declare
structured outputs (``table``, ``scalars``) when a log mixes results with run-specific values, or ``bytes``
when only bit-for-bit equality matters.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.readers.base import (
    Loaded,
    Reader,
    count_nonfinite,
    decode_text,
    exact_number,
    read_file_bytes,
    read_only,
)

#: A number that stands on its own: nothing glues it to a word, a version or a date on either side.
NUMBER = re.compile(
    r"""
    (?<![\w.+-])                                      # left: not `v1`, `.3` of `1.2.3`, `01` of `sub-01`
    [-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[ed][-+]?\d+)?   # Fortran's 1.3D-01 too (it was skipped: a review)
    |nan|infinity|inf(?!\.\s*(?-i:[a-z])))            # `Inf. temporal` (inferior) is a word, not infinity
    (?!\w|\.\w|[-+][\w.])                             # right: not `6c1f`, `1.2` of `1.2.3`, `2024-01`
    """,
    re.IGNORECASE | re.VERBOSE,
)
_INFINITE_WORDS = frozenset({"inf", "infinity"})


def scan(line: str) -> tuple[list[float], int, dict[int, str]]:
    """The numbers of one line, in order, how many number-shaped tokens overflow float64, and by position the
    numbers float64 cannot hold exactly (:func:`~reprovip.readers.base.exact_number`).

    A literal such as ``12e61109`` (a hexadecimal digest) parses to infinity without saying ``inf``: it is
    an identifier, not a number, so it is counted instead of becoming an infinite observation.
    """
    numbers: list[float] = []
    exact: dict[int, str] = {}
    overflow = 0
    for literal in NUMBER.findall(line):
        value = float(literal.replace("d", "e").replace("D", "e"))
        if math.isinf(value) and literal.lstrip("+-").lower() not in _INFINITE_WORDS:
            overflow += 1
            continue
        if e := exact_number(literal.replace("d", "e").replace("D", "e")):
            exact[len(numbers)] = e
        numbers.append(value)
    return numbers, overflow, exact


def find_numbers(line: str) -> list[float]:
    """The numbers of one line, in order (see :func:`scan`).

    Examples
    --------
    >>> find_numbers("volume = 1.5e3 mm3, dice=0.93 (sub-01, T1w, v0.3.28, 5mm) NaN")
    [1500.0, 0.93, nan]
    >>> find_numbers("x: -2 +.5 3. info")
    [-2.0, 0.5, 3.0]
    >>> find_numbers("conc 1.3000D-01  Inf. temporal gyrus: 5")
    [0.13, 5.0]
    >>> find_numbers("loss: inf. Stopped")
    [inf]
    >>> find_numbers("git 6c1fa9ea, sha256:12e61109, run_3, 2024-01-05 12:30, (2e-3) 1,234")
    [12.0, 30.0, 0.002, 1.0, 234.0]
    """
    return scan(line)[0]


class TextReader(Reader):
    """Plain-text logs and reports; any non-binary file declared ``text``."""

    name = "text"
    kinds = ("text",)
    suffixes = (".txt", ".log", ".out", ".dat", ".text", ".txt.gz", ".log.gz")
    any_suffix = True

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        text, encoding = decode_text(path, read_file_bytes(path))
        values: dict[str, np.ndarray] = {}
        overflow = 0
        lines = text.splitlines()
        exact: dict[str, str] = {}
        for number, line in enumerate(lines, start=1):
            found, skipped, big = scan(line)
            overflow += skipped
            for i, value in enumerate(found):
                values[f"line{number}:{i}"] = read_only(np.array(value, dtype=np.float64))
            exact.update((f"line{number}:{i}", e) for i, e in big.items())
        meta = {
            "exact": exact,  # numbers float64 cannot hold exactly, by observation (readers.base.exact_number)
            "n_lines": len(lines),
            "n_numbers": len(values),
            "n_overflow": overflow,
            "encoding": encoding,
            "n_nonfinite": count_nonfinite(values),
        }
        return Loaded("text", values, meta)
