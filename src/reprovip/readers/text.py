"""Free text (``text``): every number in the file is one observation keyed ``"line<L>:<i>"``.

``L`` is the 1-based line number and ``i`` the 0-based position of the number on its line, so a report can
point at the very number that changed (``line12:0`` is the first number on line 12). A number is a token that
is a number on its own: an optional sign, digits with an optional decimal point and exponent (``e``, or
Fortran's ``D``), or ``nan``/``inf``/``infinity`` (any case; ``Inf.`` before a lowercase word abbreviates
"inferior": not a number; ``loss: inf.`` ending a sentence is infinity),
glued to no letter, digit, ``_``, ``.``, ``+`` or ``-`` on either
side (a final ``.`` may end a sentence). Identifiers therefore give nothing: ``T1w``, ``run_3``, ``sub-01``,
``v1.2.3-rc1``, ``2024-01-05``, ``5mm`` and the hexadecimal digest ``6c1fa9ea``. A number-shaped token too
large for float64 (the digest ``12e61109``) is an identifier too, counted in ``meta["n_overflow"]``. A minus
written as U+2212 (``−0.5``) or another dash at a sign's place is a minus (:func:`ascii_signs`); a mantissa
times a power of ten (``1.52x10^-3``, ``1.52×10⁻³``) is one number, and so is a hexadecimal float with its
exponent (``0x1.4bp+1``, C's ``%a``). See :data:`NUMBER` and the examples of :func:`find_numbers`. Every
number counts, timestamps included: declare structured outputs (``table``, ``scalars``) when a log mixes
results with run-specific values, or ``bytes`` when only bit-for-bit equality matters.
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

#: A number that stands on its own: nothing glues it to a word, a version or a date on either side. A mantissa
#: times a power of ten, and a hexadecimal float, are one number: read piecewise, ``1.52x10^-3`` gave only -3 and
#: a mantissa that varied by 30% went unseen (a review).
NUMBER = re.compile(
    r"""
    (?<![\w.+-])                                      # left: not `v1`, `.3` of `1.2.3`, `01` of `sub-01`
    (?:(?P<mantissa>[-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*[x\u00d7\u00b7\u22c5\u2219*]\s*10  # 1.52x10^-3  1.5 × 10⁻³
       (?:\s*(?:\^|\*\*)\s*(?P<open>[({])?\s*(?P<power>[-+]?\d+)\s*(?(open)[)}])
         |(?P<superscript>[\u207a\u207b]?[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+))
    |(?P<hex>[-+]?0x(?:[0-9a-f]+(?:\.[0-9a-f]*)?|\.[0-9a-f]+)p[-+]?\d+)  # HEX_FLOAT: 0x1.4bp+1
    |[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[ed][-+]?\d+)?   # Fortran's 1.3D-01 too (it was skipped: a review)
    |nan|infinity|inf(?!\.\s*(?-i:[a-z]))))           # `Inf. temporal` (inferior) is a word, not infinity
    (?!\w|\.\w|[-+][\w.])                             # right: not `6c1f`, `1.2` of `1.2.3`, `2024-01`
    """,
    re.IGNORECASE | re.VERBOSE,
)
#: A hexadecimal float with its exponent, as ``float.hex`` and C's ``%a`` write it (the ``hex`` branch of
#: :data:`NUMBER`); ``0x1F`` (no exponent) is an identifier.
HEX_FLOAT = re.compile(r"[-+]?0x(?:[0-9a-f]+(?:\.[0-9a-f]*)?|\.[0-9a-f]+)p[-+]?\d+", re.IGNORECASE)
#: Dashes written for a minus sign: U+2212 MINUS SIGN (typeset output, locale-aware formatters), the figure,
#: en and em dashes, the horizontal bar, the small and the fullwidth hyphen-minus.
MINUS_SIGNS = "\u2212\u2012\u2013\u2014\u2015\ufe63\uff0d"
# A dash at a sign's place: before a number (a digit, `.5`, `inf`), not after a word or a number (`1.28–1.57` is
# a range), or after an exponent's `e`. Read as a delimiter, `−0.5` was 0.5: a sign flip looked identical (a review).
_SIGN = re.compile(rf"(?:(?<![\w.])|(?<=[\d.][ed]))[{MINUS_SIGNS}](?=\.?\d|inf)", re.IGNORECASE)
_SUPERSCRIPTS = str.maketrans(
    "\u207a\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "+-0123456789"
)
_INFINITE_WORDS = frozenset({"inf", "infinity"})


def ascii_signs(line: str) -> str:
    """``line`` with every dash written at a sign's place (:data:`MINUS_SIGNS`) turned into ``-``.

    Examples
    --------
    >>> ascii_signs("asymmetry \u22120.5, k = 1.5E\u22123, range 1.28\u20131.57, \u2014 done")
    'asymmetry -0.5, k = 1.5E-3, range 1.28\u20131.57, \u2014 done'
    """
    return _SIGN.sub("-", line)


def hex_number(literal: str) -> tuple[float, str | None]:
    """The float64 of a hexadecimal float (``0x1.4bp+1``, ``-0x1p-3``; an overflow is infinity), and its exact
    value as canonical text (``0x<odd mantissa>p<exponent>``) when float64 cannot hold it, else None.

    Examples
    --------
    >>> hex_number("0x1.4bp+1"), hex_number("-0X1.8P-1")
    ((2.5859375, None), (-0.75, None))
    >>> hex_number("0x1.00000000000001p+0"), hex_number("0x1p+1024")
    ((1.0, '0x100000000000001p-56'), (inf, '0x1p1024'))
    """
    text = literal.strip().lower()
    negative = text.startswith("-")
    digits, exponent = text.lstrip("+-")[2:].split("p")
    whole, _, fraction = digits.partition(".")
    mantissa = int(whole + fraction or "0", 16)
    try:
        value = float.fromhex(text)
    except OverflowError:
        value = -math.inf if negative else math.inf
    if mantissa == 0:
        return value, None
    if len(exponent.lstrip("+-0")) > 9:  # far beyond float64 (and int()'s digit limit): keep it as written
        return value, f"{'-' if negative else ''}0x{digits}p{exponent}"
    power = int(exponent) - 4 * len(fraction)
    mantissa, power = _odd(mantissa, power)
    if math.isfinite(value) and value != 0:
        numerator, denominator = abs(value).as_integer_ratio()
        if _odd(numerator, 1 - denominator.bit_length()) == (mantissa, power):
            return value, None
    return value, f"{'-' if negative else ''}0x{mantissa:x}p{power}"


def _odd(mantissa: int, power: int) -> tuple[int, int]:
    """``mantissa * 2**power`` as an odd mantissa and its power of two: one spelling per value."""
    zeros = (mantissa & -mantissa).bit_length() - 1
    return mantissa >> zeros, power + zeros


def _literal(match: re.Match[str]) -> tuple[float, str | None]:
    """The value of one :data:`NUMBER` match and, when float64 cannot hold it, its exact value as text."""
    if match["hex"]:
        return hex_number(match["hex"])
    if match["mantissa"]:  # 1.52x10^-3 is the literal 1.52e-3: rounded once, as written
        power = match["power"] or match["superscript"].translate(_SUPERSCRIPTS)
        literal = f"{match['mantissa']}e{power}"
    else:
        literal = match[0].replace("d", "e").replace("D", "e")
    return float(literal), exact_number(literal)


def scan(line: str) -> tuple[list[float], int, dict[int, str]]:
    """The numbers of one line, in order, how many number-shaped tokens overflow float64, and by position the
    numbers float64 cannot hold exactly (:func:`~reprovip.readers.base.exact_number`).

    A literal such as ``12e61109`` (a hexadecimal digest) parses to infinity without saying ``inf``: it is
    an identifier, not a number, so it is counted instead of becoming an infinite observation.
    """
    numbers: list[float] = []
    exact: dict[int, str] = {}
    overflow = 0
    for match in NUMBER.finditer(ascii_signs(line)):
        value, e = _literal(match)
        if math.isinf(value) and match[0].lstrip("+-").lower() not in _INFINITE_WORDS:
            overflow += 1
            continue
        if e:
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
