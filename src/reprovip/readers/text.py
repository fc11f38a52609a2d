"""Free text (``text``): every number in the file is one observation keyed ``"line<L>:<i>"``.

``L`` is the 1-based line number and ``i`` the 0-based position of the number on its line, so a report can point at
the very number that changed (``line12:0`` is the first number on line 12). A number is a token that is a number on
its own: an optional sign, digits with an optional decimal point and exponent (``e``, or Fortran's ``D``), or
``nan``/``inf``/``infinity`` (any case; ``Inf.`` before a lowercase word abbreviates "inferior": not a number;
``loss: inf.`` ending a sentence is infinity), glued to no letter, digit, ``_``, ``.``, ``+`` or ``-`` on either
side (a final ``.`` may end a sentence), or glued to a unit (``4231.7mm3``, ``45.30ms``: :data:`UNIT`, letters with
one that is no hexadecimal digit, then ``2``, ``3``, ``²``, ``³`` or a power ``^3``, ``^-1`` at most; after
a number in E notation too, ``1.07e-02s``, ``1.2e3Hz``). Identifiers therefore give nothing:
``T1w``, ``run_3``, ``sub-01``, ``v1.2.3-rc1``, ``2024-01-05``, ``5mm-thick`` and the hexadecimal digest
``6c1fa9ea``. A number-shaped token too large for float64 (the digest ``12e61109``) is an identifier too, counted
in ``meta["n_overflow"]``. A minus written as U+2212 (``−0.5``) or another dash at a sign's place is a minus
(:func:`ascii_signs`); a mantissa times a power of ten (``1.52x10^-3``, ``1.52×10⁻³``) is one number, and so is a
hexadecimal float with its exponent (``0x1.4bp+1``, C's ``%a``), and so is a number grouped as Python writes it
(``6_234.5``, ``1_734_567``: ``f"{v:_}"``, groups of three after one to three digits, the first not 0;
``2024_01_05`` and ``run_1_234`` stay identifiers). See :data:`NUMBER` and the examples of :func:`find_numbers`.
Every number counts, timestamps included: declare structured outputs (``table``, ``scalars``) when a log mixes
results with run-specific values, or ``bytes`` when only bit-for-bit equality matters.

Terminal escape sequences (colours: ``\\x1b[32m11.5\\x1b[0m``) are removed before reading: the numbers are those a
terminal shows (:func:`~reprovip.readers.base.strip_escapes`). The file has no semantic hash, so a colour change
alone still makes two files differ, with every number identical: a warning, not a failure.

A run of 64 or more base64 characters (:data:`BASE64`, :func:`encoded`; not a hexadecimal digest, a number or a
path), or the text of an XML element declared encoded (:data:`_ENCODED_TAG`, however short), is binary data
written as text, as VTK XML files hold their arrays: no number is read inside it,
and each run is kept as a digest in ``meta["text"]`` and named in ``meta["number_like_text"]`` (by
``"line<L>:base64:<j>"``), so that a run that differs between executions makes the output not analysable
instead of passing on the metadata numbers around it (see :func:`encoded_runs`).
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
    strip_escapes,
    suffix_of,
    text_digest,
)

#: A number that stands on its own: nothing glues it to a word, a version or a date on either side. A mantissa
#: times a power of ten, and a hexadecimal float, are one number: read piecewise, ``1.52x10^-3`` gave only -3 and
#: a mantissa that varied by 30% went unseen (a review).
#: A unit glued to a number (``mm3``, ``ms``, ``Hz``, ``mm³``): letters, one of them no hexadecimal digit, then
#: ``2``, ``3``, ``²`` or ``³`` at most (``ce3`` of the digest ``8412ce3``, ``fab``, ``b2`` are none), or ``dB``,
#: ``d``, ``B`` alone (decibels, days, bytes). No exponent before it: ``12e61a`` is a digest. As identifiers, a
#: volume and a T2* that varied by 10% passed (a review).
UNIT = r"(?:(?=[^\W\d_]*[g-z])[^\W\d_]+(?:\^-?[1-9]|[23\u00b2\u00b3])?|db|d|b)"
NUMBER = re.compile(
    r"""
    (?<![\w.+-])                                      # left: not `v1`, `.3` of `1.2.3`, `01` of `sub-01`
    (?:(?P<mantissa>[-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*[x\u00d7\u00b7\u22c5\u2219*]\s*10  # 1.52x10^-3  1.5 × 10⁻³
       (?:\s*(?:\^|\*\*)\s*(?P<open>[({])?\s*(?P<power>[-+]?\d+)\s*(?(open)[)}])
         |(?P<superscript>[\u207a\u207b]?[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+))(?:UNIT)?  # 1.2x10^3mm3
    |(?P<hex>[-+]?0x(?:[0-9a-f]+(?:\.[0-9a-f]*)?|\.[0-9a-f]+)p[-+]?\d+)  # HEX_FLOAT: 0x1.4bp+1
    |[-+]?(?:(?:[1-9]\d{0,2}(?:_\d{3})+(?:\.\d*)?     # Python's grouping: 6_234.5, 1_734_567 (f"{v:_}")
       |\d+(?:\.\d*)?|\.\d+)(?:[ed][-+]?\d+)?        # Fortran's 1.3D-01 too (it was skipped: a review)
    |nan|infinity|inf(?!\.\s*(?-i:[a-z])))          # `Inf. temporal` (inferior) is a word, not infinity
    |(?![-+]?0x)(?P<united>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?)(?P<unit>UNIT))  # 45.30ms, 1.2e3Hz
    (?!\w|\.\w|[-+][\w.])                             # right: not `6c1f`, `1.2` of `1.2.3`, `2024-01`
    """.replace("UNIT", UNIT),
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
#: Numbers in E (or D) notation written into each other, as Fortran's ``3E12.5`` writes a negative value into
#: the previous field's last column: ``2.71307E+01-1.50000E+00-1.00000E+00``. After an exponent's digits a sign
#: can only start the next number; read as one identifier, an amplitude that varied by 30% passed (a review).
#: Fortran's fields have a decimal point and a signed exponent of 2 or 3 digits; ``1e-3-1e-2`` is a range.
_TOUCHING = re.compile(
    r"(?<![\w.+-])[-+]?\d*\.\d*[ed][-+]\d{1,3}(?:[-+]\d*\.\d*[ed][-+]\d{1,3})+(?![\w.])",
    re.IGNORECASE,
)
#: Fixed-point fields written into each other, as Fortran's ``I4,6F8.4`` (and C's ``%8.4f%8.4f``) writes a value
#: that fills its field: ``1.7280-17.2640``, ``12-1234.567-123.456``. Every number after the first has a decimal
#: point with digits on both sides (``2024-01-05`` and ``1.2.3-4`` stay identifiers); read as one identifier, a
#: motion parameter that varied by 30% passed (a review). ``1.28-1.57`` written as a range reads as 1.28 and -1.57,
#: with a unit glued to the last too (``2.31-2.81mm``: a FWHM range that varied passed, a review), not a complex
#: number's ``j`` or ``i`` (:data:`_COMPLEX`).
_TOUCHING_FIXED = re.compile(
    r"(?<![\w.+-])(?:[-+]?\d+(?:[-+]\d+\.\d+)+|[-+]?\d+\.\d+(?:[-+]\d+(?:\.\d+)?)+)(?=(?![ij](?![\w.]))UNIT(?![\w.])|(?![\w.]))".replace(
        "UNIT", UNIT
    ),
    re.IGNORECASE,
)
_NEXT_SIGN = re.compile(r"(?<=\d)(?=[-+])")
#: A complex number as Python and numpy print it, ``(9.5804-3.9907j)``, ``1.2+3.4J``: its real and imaginary parts,
#: two numbers. Read as an identifier, a fitted amplitude whose real part moved by 13% and whose imaginary part
#: changed sign passed (a review); tables and JSON call it a number written as text.
_COMPLEX = re.compile(
    r"(?<![\w.+-])([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)([-+](?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)j(?![\w.])", re.I
)
#: Microsoft C runtime's non-finite values (``printf("%f")`` before Visual Studio 2015): ``1.#INF00``,
#: ``-1.#IND00`` (indeterminate), ``1.#QNAN0``, ``1.#SNAN0``. Read as ``1.``, an infinity was a finite 1 (a review).
#: ``1.2+/-0.3`` and ``1.2 ± 0.3``: an uncertainty, not -0.3 (review LC)
_PLUS_MINUS = re.compile(r"\+/-|±")
#: ASCII's ``1175.0 +-18.3`` after a number: an uncertainty too (read glued to `+`, the SD was dropped, and its 30%
#: change passed: review F); elsewhere ``+-0.25`` is a sign, what ``printf("+%g")`` writes of a negative number
#: (read as an uncertainty, a sign flip passed: review J)
_ASCII_PLUS_MINUS = re.compile(r"(\d\.?\s*)\+-(?=\s*\.?\d)")
_PLUS_SIGN_MINUS = re.compile(r"(?<![\w.])\+-(?=\.?\d)")
#: A range from a negative number, ``-72.5--12.0`` (a bounding box): two numbers; the second, glued to `-`, was
#: dropped (review F). The first must stand on its own: ``sub01--2`` stays an identifier.
_NEGATIVE_RANGE = re.compile(r"(?<![\w.+-])([-+]?(?:\d+\.?\d*|\.\d+))-(?=-(?:\d|\.\d))")
#: Dot leaders, ``Grey matter volume............691.37 ml``: two dots or more before a number separate it from its
#: label (glued to `.`, the volume was dropped and a 5% change passed: review F); one dot stays glue (``1.2.3``).
#: Before a sign too, a Unicode one included (``....−3.5`` read 3.5: review J).
_LEADER = re.compile(rf"\.{{2,}}(?=[-+{MINUS_SIGNS}]?\.?\d)")
_MSVC_NONFINITE = re.compile(r"(?<![\w.+-])([-+]?)1\.#(INF|IND|QNAN|SNAN)\d*(?![\w.])", re.IGNORECASE)


#: A run of at least 64 base64 characters (RFC 4648: letters, digits, ``+``, ``/``, then ``=`` padding) glued to no
#: other: binary data written as text (GIFTI's ``GZipBase64Binary`` arrays, VTK XML's ``format="binary"``, an
#: embedded image). No number of the file describes it; :func:`encoded` tells it from digests and paths.
BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{64,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")  # one case: a digest; `AAAA...` (zeros in base64) has no digit
_SWITCH = re.compile(r"(?<=[a-z])[A-Z]|(?<=[A-Za-z])[0-9]|(?<=[0-9])[A-Za-z]")  # aB, a1, 1a: random in base64
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
#: An XML start tag that declares its content encoded: VTK's ``<DataArray ... format="binary">``, GIfTI's
#: ``<DataArray ... Encoding="GZipBase64Binary">`` (its ``<Data>`` child holds the text). Such text is data
#: whatever its length: under 64 characters, an array of a few points was read as no number at all (a review).
_ENCODED_TAG = re.compile(r'<[\w:]+\s[^<>]*\b(?:format|encoding)\s*=\s*"(?:binary|[^"]*base64[^"]*)"[^<>]*>', re.I)
#: The text of an element: base64 characters alone between two tags, or between a tag and the line's end.
_ELEMENT_TEXT = re.compile(r"(?:^|(?<=>))\s*([A-Za-z0-9+/=]{4,})\s*(?=<|$)")
# What a reader for the format would be; else: a reader of another kind, or bit-for-bit comparison.
_FORMATS = {
    **dict.fromkeys(
        (".vtp", ".vtu", ".vti", ".vtr", ".vts", ".vtk"),
        "a VTK file: save its arrays as .npy (kind: array; vtk or pyvista read them) or declare the output "
        "`kind: bytes`",
    ),
}
_ANY_FORMAT = (
    "read it with a reader for its format (save the data as an image or an array: kind image, array) or declare the "
    "output `kind: bytes`"
)


def encoded(run: str) -> bool:
    """Whether a run of :data:`BASE64` is encoded data: not a number (digits only), not a hexadecimal digest
    (one case, a digit among the letters: sha256, md5, blake3), not a path (a ``/`` at most every 24 characters,
    no ``+``, no padding, words: at most one switch of case or between letters and digits every 5 characters:
    ``/home/me/projects/study/derivatives/...``). Random base64 has a ``/`` every 64 characters, a ``+`` as often,
    and a switch every 2 or 3 characters: a run of it read as a path is rare when short (about 1 in 10^5 at 64
    characters), and vanishes when long.

    Examples
    --------
    >>> import base64, hashlib
    >>> encoded(base64.b64encode(bytes(range(64))).decode()), encoded("A" * 64)  # data, zeros
    (True, True)
    >>> encoded(hashlib.sha512(b"x").hexdigest()), encoded(hashlib.sha256(b"x").hexdigest().upper())
    (False, False)
    >>> encoded("1" * 70), encoded("/home/researcher/projects/reproducibility/derivatives/freesurfer/sub01")
    (False, False)
    """
    body = run.rstrip("=")
    if body.isdigit() or (body == run and _HEX.fullmatch(body) and any(c.isdigit() for c in body)):
        return False
    if body != run or "+" in body or 24 * body.count("/") < len(body):
        return True
    return 5 * len(_SWITCH.findall(body)) > len(body)  # words: few switches of case or of letters and digits


def encoded_runs(lines: list[str], suffix: str = "") -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The lines with their base64 runs (:func:`encoded`) blanked, so that no number is read inside them; a
    digest of each run, by ``"line<L>:base64:<j>"`` (``j``: the run's 0-based position on line ``L``); and why it
    is no observation, by the same name. A run alone on its line continues on the next lines made only of base64
    characters (MIME and PEM wrap lines at 64 or 76), up to a shorter line or padding: one run.

    Examples
    --------
    >>> import base64
    >>> data = base64.b64encode(bytes(range(150))).decode()  # 200 characters
    >>> wrapped = [data[:76], data[76:152], data[152:]]
    >>> lines, digests, why = encoded_runs([f"<Data n='150'>{data}</Data> 1.5", *wrapped, "2"], ".vtp")
    >>> lines
    ["<Data n='150'> </Data> 1.5", ' ', '', '', '2']
    >>> sorted(digests), why["line2:base64:0"]  # doctest: +ELLIPSIS
    (['line1:base64:0', 'line2:base64:0'], 'encoded binary data (base64, 200 characters on 3 lines) ...VTK...')

    The text of an element declared encoded is data however short (VTK's ``format="binary"``):

    >>> encoded_runs(['<DataArray type="Float32" format="binary">', "  CAAAAJqZGUA=", "</DataArray>"])[0]
    ['<DataArray type="Float32" format="binary">', '   ', '</DataArray>']
    """
    masked = list(lines)
    runs: dict[str, list[str]] = {}
    block, width = "", 0  # the run alone on its line that the next lines may continue, and its line's length
    pending = False  # an element declared encoded (format="binary", Encoding="...Base64...") whose text is to come
    for n, line in enumerate(lines, start=1):
        part = line.strip()
        if block and part and len(part) <= width and _BASE64_LINE.fullmatch(part) and not part.isdigit():
            runs[block].append(part)
            masked[n - 1] = ""
            if len(part) < width or part.endswith("="):
                block = ""
            continue
        block = ""
        tag = _ENCODED_TAG.search(line)
        declared: list[str] = []
        if tag or pending:  # the text of an element declared encoded is its data, however short
            start = tag.end() if tag else 0
            texts = [m for m in _ELEMENT_TEXT.finditer(line, start) if not m[1].rstrip("=").isdigit()]
            declared = [m[1] for m in texts]
            for m in reversed(texts):
                line = line[: m.start(1)] + " " + line[m.end(1) :]
            pending = not declared and (bool(tag) or (pending and "</" not in line))
        found = declared + [m[0] for m in BASE64.finditer(line) if encoded(m[0])]
        if not found:
            continue
        runs.update((f"line{n}:base64:{j}", [run]) for j, run in enumerate(found))
        masked[n - 1] = BASE64.sub(lambda m: " " if encoded(m[0]) else m[0], line)
        if found == [part] and not part.endswith("="):
            block, width = f"line{n}:base64:0", len(part)
    hint = _FORMATS.get(suffix.removesuffix(".gz"), _ANY_FORMAT)
    why = {
        name: f"encoded binary data (base64, {sum(map(len, parts))} characters"
        + (f" on {len(parts)} lines" if len(parts) > 1 else "")
        + f") that no metric reads; {hint}"
        for name, parts in runs.items()
    }
    return masked, {name: text_digest("".join(parts)) for name, parts in runs.items()}, why


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


def _after_comma(line: str, match: re.Match[str]) -> bool:
    """Whether ``match`` is digits with a leading zero glued by a comma to digits before it (``0,0123``): the
    decimals of a number written with a decimal comma, which only a fraction keeps (read as 123, ``0,0123`` and
    ``0,123`` were one value, and a tenfold change of a cost passed: a review)."""
    start = match.start()
    return (
        start >= 2
        and line[start - 1] == ","
        and line[start - 2].isdigit()
        and re.match(r"0\d", match[0]) is not None
        and not (match["hex"] or match["mantissa"])
        and "." not in match[0]
    )


def _literal(match: re.Match[str], fraction: bool = False) -> tuple[float, str | None]:
    """The value of one :data:`NUMBER` match and, when float64 cannot hold it, its exact value as text
    (``fraction``: the match is the decimals after a decimal comma, :func:`_after_comma`, read as ``0.<digits>``)."""
    if match["hex"]:
        return hex_number(match["hex"])
    if match["unit"]:
        literal = match["united"]
    elif match["mantissa"]:  # 1.52x10^-3 is the literal 1.52e-3: rounded once, as written
        power = match["power"] or match["superscript"].translate(_SUPERSCRIPTS)
        literal = f"{match['mantissa']}e{power}"
    else:
        literal = match[0].replace("d", "e").replace("D", "e").replace("_", "")
    if fraction:
        literal = "0." + literal
    return float(literal), exact_number(literal)


def _printed(token: str) -> bool:
    """Whether a number-shaped token too large for float64 is a number as ``printf`` writes one (a decimal point,
    or a signed exponent: ``1.5e+414``), not an identifier (the digest ``12e61109``). Skipped unsaid, a likelihood
    ratio that changed from 1.5e+414 to 2.5e+414 passed (review DG); read as infinity, one printed alike in every
    run made a reproducible tool "not analysable" (review R4): its exact text is kept, compared between executions
    (:func:`scan`)."""
    mantissa, _, exponent = token.lower().replace("d", "e").partition("e")
    return "." in mantissa or exponent[:1] in ("+", "-")


def scan(line: str) -> tuple[list[float], int, dict[int, str], list[str]]:
    """The numbers of one line, in order, how many number-shaped tokens overflow float64, by position the
    numbers float64 cannot hold exactly (:func:`~reprovip.readers.base.exact_number`), and the exact text of the
    numbers printed beyond float64 (:func:`_printed`), in order.

    A literal such as ``12e61109`` (a hexadecimal digest) parses to infinity without saying ``inf``: it is
    an identifier, not a number, so it is counted instead of becoming an infinite observation; ``1.5e+414``
    is counted too, and its exact text kept: no metric measures it, and a change of it is said.
    """
    numbers: list[float] = []
    exact: dict[int, str] = {}
    beyond: list[str] = []
    overflow = 0
    line = _PLUS_SIGN_MINUS.sub(" -", _ASCII_PLUS_MINUS.sub(r"\1 ", _PLUS_MINUS.sub(" ", line)))
    line = _COMPLEX.sub(r"\1 \2", ascii_signs(_LEADER.sub(" ", line)))
    line = _NEGATIVE_RANGE.sub(r"\1 ", line)
    line = _TOUCHING.sub(lambda m: _NEXT_SIGN.sub(" ", m[0]), line)
    line = _TOUCHING_FIXED.sub(lambda m: _NEXT_SIGN.sub(" ", m[0]), line)
    line = _MSVC_NONFINITE.sub(lambda m: f"{m[1]}{'inf' if m[2].lower() == 'inf' else 'nan'}", line)
    for match in NUMBER.finditer(line):
        value, e = _literal(match, _after_comma(line, match))
        if math.isinf(value) and match[0].lstrip("+-").lower() not in _INFINITE_WORDS:
            overflow += 1
            if _printed(match[0]) and e:
                beyond.append(e)
            continue
        if e:
            exact[len(numbers)] = e
        numbers.append(value)
    return numbers, overflow, exact, beyond


def terminal_lines(text: str) -> list[str]:
    r"""The lines of ``text`` as a terminal shows them: split at ``\n`` only (numbered as ``grep -n`` numbers them),
    each the last of its ``\r``-separated parts, what a progress bar leaves on screen (a ``\r`` ending a line
    overwrites nothing; a text with no ``\n`` at all has classic Mac OS line ends, and is split at ``\r``).
    Split at every ``\r``, a bar's updates were lines of their own: the result on line 8 was named ``line13:0``,
    and a bar updated more or fewer times made the executions' observations differ (a review).

    Examples
    --------
    >>> terminal_lines("fit\n 10%\r 50%\r100% done\nTotal volume: 5\r\n")
    ['fit', '100% done', 'Total volume: 5']
    >>> terminal_lines("TE = 30 ms\r\nNAA/Cr = 0.97\r\r\n"), terminal_lines("mean FA: 0.97\rvoxels: 1234")
    (['TE = 30 ms', 'NAA/Cr = 0.97'], ['mean FA: 0.97', 'voxels: 1234'])
    """
    if "\n" not in text:  # classic Mac OS line ends (a CR alone): read as bar updates, only the last line was read
        text = text.replace("\r", "\n")
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and not lines[-1]:
        lines.pop()  # the file's final newline ends its last line
    # a CR before the line end (MATLAB's `\r\n` into a file opened 'wt' writes `\r\r\n`) overwrites nothing: read as
    # a bar's update, the line was blank and a result written so changed unseen (a review)
    return [line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines]


def find_numbers(line: str) -> list[float]:
    """The numbers of one line, in order (see :func:`scan`).

    Examples
    --------
    >>> find_numbers("volume = 1.5e3 mm3, dice=0.93 (sub-01, T1w, v0.3.28, 5mm) NaN")
    [1500.0, 0.93, 5.0, nan]
    >>> find_numbers("x: -2 +.5 3. info")
    [-2.0, 0.5, 3.0]
    >>> find_numbers("conc 1.3000D-01  Inf. temporal gyrus: 5")
    [0.13, 5.0]
    >>> find_numbers("loss: inf. Stopped")
    [inf]
    >>> find_numbers("git 6c1fa9ea, sha256:12e61109, run_3, 2024-01-05 12:30, (2e-3) 1,234")
    [12.0, 30.0, 0.002, 1.0, 234.0]
    >>> find_numbers("AMP 2.71307E+01-1.50000E+00-1.00000D+00")  # Fortran's touching E fields
    [27.1307, -1.5, -1.0]
    >>> find_numbers("   1  0.0012  1.7280-17.2640   12-1234.567")  # ... and touching fixed-point fields
    [1.0, 0.0012, 1.728, -17.264, 12.0, -1234.567]
    >>> find_numbers("hippocampus: 4.176250e+02mm^3 T2*: 1.070e-02s rate 3.5s^-1 1.2e3Hz")  # a unit after E
    [417.625, 0.0107, 3.5, 1200.0]
    >>> find_numbers("FWHM 2.31-2.81mm, 12.5-3, 1.5e-3-2.5e-3, v6.0.5-1 2024-01-05")  # ranges written as one
    [2.31, -2.81, 12.5, -3.0, 0.0015, -0.0025]
    >>> find_numbers("NAA amplitude: (9.5804-3.9907j), 1.2+3.4J")  # complex: the real and imaginary parts
    [9.5804, -3.9907, 1.2, 3.4]
    >>> find_numbers("fit 1.#INF00 -1.#IND00 1.#QNAN0 2.5")  # the Microsoft C runtime's inf and nan
    [inf, nan, nan, 2.5]
    >>> find_numbers("GABA 1.2+/-0.3 mM, NAA 8.1 ± 0.4, T1 = 1175.0 +-18.3 ms")  # an uncertainty: no negative
    [1.2, 0.3, 8.1, 0.4, 1175.0, 18.3]
    >>> find_numbers("bbox x: -72.5--12.0 mm, sub01--2; Grey matter volume.......691.37 ml (v1.2.3, 1..5)")
    [-72.5, -12.0, 691.37, 1.0, 5.0]
    >>> find_numbers("Endkosten: 0,0123 / 0,123 / 1,05E-03 / 1,5E-03")  # decimals after a comma keep their zeros
    [0.0, 0.0123, 0.0, 123.0, 1.0, 5e-05, 1.0, 0.005]
    """
    return scan(line)[0]


def numbered_lines(path: Path) -> tuple[list[str], dict[str, str], dict[str, str], str]:
    """The lines of a text file as :class:`TextReader` numbers them (line ``L`` is ``lines[L - 1]``: terminal
    escapes and carriage-return overwrites applied, base64 runs blanked), with :func:`encoded_runs`' digests
    and reasons, and the encoding."""
    text, encoding = decode_text(path, read_file_bytes(path))
    # colours glued `\x1b[32m11.5` to `m`: an identifier, and a +10 change passed (a review)
    lines, digests, why = encoded_runs(terminal_lines(strip_escapes(text)), suffix_of(path))
    return lines, digests, why, encoding


LINE_SHOWN = 100  # characters of a line quoted beside its observation


def quoted_lines(path: Path, names: list[str]) -> dict[str, str]:
    """Each ``line<L>:<i>`` of ``names`` with the text of its line in ``path`` (stripped, at most
    :data:`LINE_SHOWN` characters): a TARQUIN report's `line3:3` decided a verdict, and only the file in the
    blob store said it was the seconds of `Analysis date/time` (review LC).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "r.txt"
    >>> _ = p.write_text("TARQUIN\\n  Analysis date/time : Mon Nov 30 21:22:15 2026\\nNAA 10.5\\n")
    >>> quoted_lines(p, ["line2:3", "line3:0", "fits[1]"])
    {'line2:3': 'Analysis date/time : Mon Nov 30 21:22:15 2026', 'line3:0': 'NAA 10.5'}
    """
    lines = numbered_lines(path)[0]
    out = {}
    for name in names:
        m = re.fullmatch(r"line(\d+):\d+", name)
        if m and 0 < int(m[1]) <= len(lines):
            line = lines[int(m[1]) - 1].strip()
            out[name] = line if len(line) <= LINE_SHOWN else line[: LINE_SHOWN - 3] + "..."
    return out


class TextReader(Reader):
    """Plain-text logs and reports; any non-binary file declared ``text``."""

    name = "text"
    kinds = ("text",)
    suffixes = (".txt", ".log", ".out", ".dat", ".text", ".txt.gz", ".log.gz")
    any_suffix = True

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        lines, digests, why, encoding = numbered_lines(path)
        values: dict[str, np.ndarray] = {}
        overflow = 0
        exact: dict[str, str] = {}
        for number, line in enumerate(lines, start=1):
            found, skipped, big, beyond = scan(line)
            overflow += skipped
            # no value, but compared as exact text: a change is "not analysable", the same text in every run is no
            # difference (analyze.observations._inexact_differs)
            exact.update((f"line{number}:beyond{j}", text) for j, text in enumerate(beyond))
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
            # the lines whatever their order: two files of the same lines in another order (results printed by
            # threads as they finish) read every moved number as changed, and the analysis says why (review TX)
            "lines_digest": text_digest(sorted(line.strip() for line in lines if line.strip())),
        }
        if digests:  # base64 data (GIFTI, VTK XML) declared text: only its metadata numbers were read (a review)
            meta["text"] = digests  # when a run differs, the analysis says so
            meta["number_like_text"] = why  # ... and that no metric measures it: not analysable
        return Loaded("text", values, meta)
