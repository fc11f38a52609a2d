"""What every reader shares: the :class:`Loaded` result, the :class:`Reader` base class and small helpers.

A reader turns one output file into named numeric arrays ("observations"). Adding a format is adding one
subclass of :class:`Reader` and one instance of it to :data:`reprovip.readers.registry.READERS`.
"""

from __future__ import annotations

import decimal
import math
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import blake3
import numpy as np

from reprovip.errors import ReaderError

#: The output kinds a study may declare, plus ``array`` for NumPy files; ``bytes`` is compared by hash only.
KINDS: tuple[str, ...] = ("image", "labels", "table", "scalars", "text", "array", "bytes")

GZIP_MAGIC = b"\x1f\x8b"

try:  # python-isal (ISA-L) inflates gzip about twice as fast as zlib; both release the GIL while working
    from isal import igzip as _gzip
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - the standard library when python-isal is not installed
    import gzip as _gzip  # type: ignore[no-redef]

    _inflate = zlib  # type: ignore[no-redef]


@dataclass(frozen=True, eq=False)
class Loaded:
    """The observations read from one output file.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    values : dict of str to numpy.ndarray
        Named observations. Arrays are read-only: metrics must not modify their inputs.
    meta : dict
        What the analysis may need besides the numbers (shape, affine, columns, counts of ignored cells...).
        ``meta["n_nonfinite"]`` counts the NaN and infinite values over all observations.
    """

    kind: str
    values: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)


class Reader:
    """Base class of a format reader; subclasses set the class attributes and implement :meth:`read`.

    Attributes
    ----------
    name : str
        Short name of the format, shown in messages and in ``docs/readers.md``.
    kinds : tuple of str
        The kinds this reader produces; the first one is inferred when the study declares none.
    suffixes : tuple of str
        Lower-case file-name endings recognised without opening the file (``".nii.gz"``).
    any_suffix : bool
        When a study declares this reader's kind explicitly, the reader is tried on a file whatever its
        suffix (text formats: an ``.out`` file declared as ``table``).
    options : frozenset of str
        Keyword options :meth:`read` accepts (``key_columns`` for tables).
    binary : bool
        A binary format (NIfTI, NumPy, GIfTI): a file it recognises is never read as another kind.
    """

    name: ClassVar[str] = "?"
    kinds: ClassVar[tuple[str, ...]] = ()
    suffixes: ClassVar[tuple[str, ...]] = ()
    any_suffix: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset()
    binary: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kinds={self.kinds!r})"

    def can_read(self, path: Path) -> bool:
        """Whether this reader recognises ``path``, by suffix first, then by sniffing its first bytes."""
        return suffix_of(path) in self.suffixes or self.sniff(path)

    def sniff(self, path: Path) -> bool:
        """Recognise the format from the file's first bytes; must not raise. Default: never."""
        return False

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:  # pragma: no cover - abstract
        """Read ``path`` as ``kind``; raise :class:`~reprovip.errors.ReaderError` on any failure."""
        raise NotImplementedError

    def semantic_hash(self, path: Path) -> str | None:
        """BLAKE3 hex digest of the decoded content, or None when the byte hash is enough."""
        return None

    def declared_as(self, path: Path, kind: str) -> ReaderError:
        """The error for a file of this (binary) format that a study declares as another ``kind``."""
        return fail(
            path,
            f"a {self.name} file declared `kind: {kind}`",
            f"declare the output `kind: {self.kinds[0]}` (or `bytes` to compare the files bit for bit)",
        )


def suffix_of(path: str | os.PathLike[str]) -> str:
    """The lower-case suffix used to recognise a format; two parts when the last one is ``.gz``.

    Examples
    --------
    >>> suffix_of("out/ab12ef.nii.gz"), suffix_of("T1.NII"), suffix_of("stats.csv"), suffix_of("README")
    ('.nii.gz', '.nii', '.csv', '')
    """
    suffixes = [s.lower() for s in Path(path).suffixes]
    if len(suffixes) >= 2 and suffixes[-1] == ".gz":
        return "".join(suffixes[-2:])
    return suffixes[-1] if suffixes else ""


def one_line(text: str) -> str:
    """Collapse line breaks so that an error message stays on one line."""
    return " ".join(str(text).split())


def fail(path: str | os.PathLike[str], problem: str, hint: str) -> ReaderError:
    """The one-line :class:`ReaderError` ``"<path>: <problem>; <hint>"``, for the caller to raise."""
    return ReaderError(one_line(f"{os.fspath(path)}: {problem}; {hint}"))


LABELS_FIX = "declare the output as kind 'image', or write integer labels"


def not_whole(path: Path, data: np.ndarray, *, element: str = "voxel", fix: str = LABELS_FIX) -> ReaderError | None:
    """The error of a label map ``data`` holding an ``element`` (voxel, vertex) that is no whole number (a
    fraction, NaN, inf), or None."""
    if data.dtype.kind in "biu":
        return None
    whole = np.isfinite(data) & (data == np.round(data))
    if whole.all():
        return None
    bad = tuple(int(i) for i in np.argwhere(~whole)[0])
    n_bad = int(whole.size - np.count_nonzero(whole))
    where = f"{element} {bad if len(bad) > 1 else bad[0]} holds {float(data[bad])!r}"
    plural = "vertices" if element == "vertex" else f"{element}s"
    problem = f"labels must be whole numbers but {n_bad} {plural} are not ({where})"
    return fail(path, problem, fix)


def label_ids(path: Path, data: np.ndarray, *, element: str = "voxel", fix: str = LABELS_FIX) -> np.ndarray:
    """``data`` as integer label ids: integers as stored, booleans as uint8, whole floats as int32 (int64 beyond
    it); a fraction, NaN or inf, or a value beyond 64-bit integers, is a ReaderError naming the file and ``fix``.
    Label ids are categories: read as numbers, a label renumbered by one passed an ICC (review AR)."""
    if data.dtype.kind == "b":
        return data.astype(np.uint8)
    if data.dtype.kind in "iu":
        return data
    if data.dtype.kind != "f":
        raise fail(path, f"labels must be whole numbers but the array has dtype {data.dtype}", fix)
    if (error := not_whole(path, data, element=element, fix=fix)) is not None:
        raise error
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if not -(2.0**63) <= low <= high < 2.0**63:
        raise fail(path, f"label values range over [{low:g}, {high:g}], beyond 64-bit integers", fix)
    info = np.iinfo(np.int32)
    target = np.int32 if info.min <= low and high <= info.max else np.int64
    return data.astype(target, order="K")  # nibabel's Fortran order kept


def describe(exc: BaseException, limit: int = 160) -> str:
    """``"ExcType: message"`` of a wrapped library exception, shortened for a one-line message."""
    text = one_line(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_file_bytes(path: Path) -> bytes:
    """The whole file, with :class:`OSError` turned into :class:`ReaderError`."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise fail(path, f"cannot read the file ({describe(exc)})", "check its permissions") from exc


def head(path: Path, n: int = 512) -> bytes:
    """The first ``n`` bytes of ``path``, or ``b""`` when it cannot be read (for sniffing)."""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def inflate_backend() -> str:
    """The gzip decompressor in use: ``"isal"`` (python-isal, when installed) or ``"zlib"`` (the fallback)."""
    return "zlib" if _inflate is zlib else "isal"


def inflater() -> Any:
    """A decompressor object for one gzip member (wbits 31: the member's CRC32 and length are checked), from
    python-isal when it is installed, else from :mod:`zlib`; it releases the GIL while it inflates."""
    return _inflate.decompressobj(31)


def gzip_bytes(data: bytes) -> bytes:
    """``data`` as one gzip member at the fastest level (1), without a timestamp: python-isal's deflate when
    it is installed (several times zlib's speed), else :func:`gzip.compress`."""
    return _gzip.compress(data, compresslevel=1, mtime=0)


def _corrupt(path: Path, exc: BaseException) -> ReaderError:
    text = str(exc).lower()
    # zlib says "incorrect data check" / "incorrect length check", ISA-L "incorrect checksum": one wording
    checks = ("data check", "length check", "checksum")
    problem = "CRC or length check failed" if any(c in text for c in checks) else describe(exc)
    return fail(path, f"corrupt gzip data ({problem})", "the file is damaged; re-run the execution")


def gunzip(path: Path, data: bytes) -> bytes:
    """Decompress ``data`` when it starts with the gzip magic number, else return it unchanged.

    Multi-member streams are joined and the CRC and length of every member are checked, so a truncated or
    corrupted file raises :class:`ReaderError` instead of yielding wrong numbers. Zero padding after the last
    member is ignored (as :func:`gzip.decompress` does); other trailing bytes are an error. The decompressor
    is python-isal's when it is installed, else zlib's (:func:`inflate_backend`).

    Examples
    --------
    >>> import gzip, pathlib
    >>> gunzip(pathlib.Path("x.gz"), gzip.compress(b"ab") + gzip.compress(b"c") + bytes(4))
    b'abc'
    """
    if not data.startswith(GZIP_MAGIC):
        return data
    return b"".join(gunzip_pieces(path, [data]))  # one member: its bytes, not a copy


def gunzip_pieces(path: Path, pieces: Iterable[bytes], max_piece: int = 0) -> Iterator[bytes]:
    """Decompress a gzip stream given in pieces (e.g. read from a file), yielding its decoded bytes, at most
    ``max_piece`` at a time when > 0 so that memory stays bounded whatever the compression ratio, with the
    checks of :func:`gunzip`.

    Examples
    --------
    >>> import gzip, pathlib
    >>> data = gzip.compress(b"abcdef") + gzip.compress(b"gh")
    >>> list(gunzip_pieces(pathlib.Path("x.gz"), [data[:5], data[5:]], max_piece=4))
    [b'abcd', b'ef', b'gh']
    """
    member, carry, started = None, b"", False
    try:
        for piece in pieces:
            data, carry = (carry + piece if carry else piece), b""
            while data:
                if member is None:  # at the start of a member, or after one: zero padding may end the stream
                    if started:
                        data = data.lstrip(b"\0")
                    if len(data) < len(GZIP_MAGIC):
                        carry = data  # a magic number split across pieces
                        break
                    if not data.startswith(GZIP_MAGIC):
                        raise fail(
                            path,
                            "corrupt gzip data (bytes after the end of the gzip stream)",
                            "the file is damaged; re-run the execution",
                        )
                    member, started = inflater(), True
                out = member.decompress(data, max_piece)
                while True:
                    if out:
                        yield out
                    if not member.unconsumed_tail:
                        break
                    out = member.decompress(member.unconsumed_tail, max_piece)
                data = b""
                if member.eof:
                    data, member = member.unused_data, None
    except (zlib.error, _inflate.error) as exc:
        raise _corrupt(path, exc) from exc
    if member is not None:
        raise fail(
            path,
            "truncated gzip stream (it ends before the end-of-stream marker)",
            "the file was cut while being written or copied; re-run the execution",
        )
    if carry:
        raise fail(path, "corrupt gzip data (bytes after the end of the gzip stream)", "re-run the execution")


def decode_text(path: Path, data: bytes, *, strict: bool = False) -> tuple[str, str]:
    r"""Decode (possibly gzip-compressed) text; return ``(text, encoding)``.

    UTF-16 with its byte-order mark (what Windows PowerShell 5's ``>`` writes) is decoded as such; otherwise
    UTF-8 (an optional BOM is dropped) is tried first; unless ``strict``, Windows-1252 (cp1252), then Latin-1 is
    the fallback. A NUL
    byte means the file is binary and raises :class:`ReaderError`.

    Examples
    --------
    >>> decode_text(Path("r.csv"), "k,v\na,1\n".encode("utf-16"))
    ('k,v\na,1\n', 'utf-16')
    """
    data = gunzip(path, data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # read as binary, its NUL bytes said nothing of UTF-16 (a review)
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise fail(
                path,
                f"not UTF-16 text although it starts with a UTF-16 byte-order mark ({exc.reason})",
                "write the file as UTF-8",
            ) from exc
    nul = data.find(b"\x00")
    if nul >= 0:
        raise fail(
            path,
            f"binary content (NUL byte at offset {nul}) where text was expected",
            "declare a binary output `kind: bytes` (or `image`, `array`), or check that the right file is declared",
        )
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        if strict:
            raise fail(
                path,
                f"not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})",
                "write the file as UTF-8",
            ) from exc
        try:  # Windows' code page: its 0x80-0x9f are characters (0x96, an en dash written for a minus, a review)
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:  # a byte cp1252 leaves undefined: every byte is a Latin-1 character
            return data.decode("latin-1"), "latin-1"


def read_only(array: np.ndarray) -> np.ndarray:
    """Mark ``array`` read-only (in place, no copy) and return it."""
    array.flags.writeable = False
    return array


def count_nonfinite(values: dict[str, np.ndarray]) -> int:
    """Number of NaN and infinite entries over all floating-point arrays of ``values``."""
    total = 0
    for array in values.values():
        if array.dtype.kind in "fc":
            total += int(array.size - np.count_nonzero(np.isfinite(array)))
    return total


#: Terminal escape sequences (ECMA-48): CSI (``ESC [ ... m`` colours, cursor moves), OSC with its terminator
#: (``ESC ] ... BEL``: window titles, hyperlinks), DCS/SOS/PM/APC strings ended by ``ESC \\``, and the short
#: escapes (``ESC`` with intermediate bytes and one final character: ``ESC (B``, ``ESC 7``, ``ESC =``). None spans
#: a line break: an unterminated OSC removes its ``ESC ]`` only, never the rest of the file.
ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)|[PX^_][^\x1b\n]*\x1b\\|[ -/]*[0-~])")


def strip_escapes(text: str) -> str:
    r"""``text`` without its terminal escape sequences (:data:`ANSI`): what a terminal shows. A coloured
    ``\x1b[32m11.5\x1b[0m`` glued the number to ``m`` (an identifier in text, a text cell in a table), so that a
    +10 change passed (a review). Line breaks and other characters are kept.

    Examples
    --------
    >>> strip_escapes("vol: \x1b[1;32m11.5\x1b[0m mm3 \x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b(B\x1b[m2")
    'vol: 11.5 mm3 link 2'
    """
    return ANSI.sub("", text) if "\x1b" in text else text


# A number written as text: thousands separators (2,341.9, 2 341.9, Python's 2_341.9, German 1.349,0, French
# 1 349,0, Swiss 1'349.0), a decimal comma (1349,0), in parentheses ((1349.0)), a unit after it (4231.7 mm3, mm³, [ml],
# 3.2 s, 12 %), an uncertainty (4.2 ± 0.1, LCModel's 1.300 (4%), a mean's 2.45 (0.12)), a flag (1.300*), a
# Fortran exponent (1.3000D-01), a Unicode minus, a bracketed list ([1.17, 1.43]), or quoted in JSON
# ("1234.56"). Dates, times, versions, ids and digests (2026-11-29, 15:00, 1.2.3, 3f2a9c..., 20261129T160730)
# and words (<LOD) are not: a unit is letters and symbols with at most one trailing digit (mm3), never letters
# and digits mixed.
_NUM = (
    r"(?:\d{1,3}(?:[,\u00a0\u202f _]\d{3})+(?:\.\d+)?"  # 2,341.9  2 341.9  Python's 2_341.9 (f"{v:_}")
    r"|\d{1,3}(?:[.\u00a0\u202f ]\d{3})+(?:,\d+)?"  # German 1.349,0, French 1 349,0
    r"|\d{1,3}(?:['\u2019]\d{3})+(?:\.\d+)?"  # Swiss 1'349.0
    r"|\d+,\d+"  # a decimal comma: 1349,0
    r"|\d+(?:\.\d+)?|\.\d+)(?:[eEdD][-+]?\d+)?"
)
_SIGNED = rf"[-+\u2212]?{_NUM}"
_UNIT = r"[\[(]?[A-Za-z\u00b5\u03bc\u00b0%][A-Za-z\u00b5\u03bc\u00b0%/^\u00b7*\u00b2\u00b3]*\d?[\])]?"
_NOTE = rf"\s*(?:\(\s*(?:[A-Za-z]{{1,4}}\s*[:=]?\s*)?{_SIGNED}\s*%?\s*\)|\*+)"  # (4%)  (0.12)  (SD 0.2)  *
_LIST = rf"\[\s*{_SIGNED}(?:\s*[,;]\s*{_SIGNED})*\s*\]"
_VALUE = rf"{_SIGNED}(?:\s*(?:\u00b1|\+/-)\s*{_NUM})?(?:\s*{_UNIT})?(?:{_NOTE})?"
_NUMBER_TEXT = re.compile(rf"{_VALUE}|\(\s*{_VALUE}\s*\)|{_LIST}")  # (1349.0): in parentheses, as accounts write


def number_text(value: str) -> bool:
    """Whether the text ``value`` is a number a reader keeps as text (see ``_NUMBER_TEXT``): when it differs
    between executions, no metric measures it.

    Examples
    --------
    >>> [number_text(v) for v in ("2,341.9", "4231.7 mm3", " 1234.56", "3.2 s", "4.2 \u00b1 0.1 mm\u00b3", "[ml]")]
    [True, True, True, True, True, False]
    >>> [number_text(v) for v in ("1.300 (4%)", "2.45 (0.12)", "1.300*", "1.3000D-01", "[1.17, 1.43]", "(n/a)")]
    [True, True, True, True, True, False]
    >>> [number_text(v) for v in ("1.349,0", "1 349,0", "1'349.0", "1349,0 mm3", "1349.0 (SD 0.2)", "(1349.0)")]
    [True, True, True, True, True, True]
    >>> [number_text(v) for v in ("6_234.5", "1_734_567", "-1_234", "2024_01_05", "12_34", "run_1_234")]
    [True, True, True, False, False, False]
    >>> [number_text(v) for v in ("<LOD", "2026-11-29", "1.2.3", "3f2a9c1e", "20261129T160730", "node-a")]
    [False, False, False, False, False, False]
    """
    return _NUMBER_TEXT.fullmatch(value.strip()) is not None


_WORD = re.compile(r"[^\W\d_][^\d/\\]{0,63}")  # a letter first, no digit nor path separator, 64 characters at most


def word_values(texts: dict[str, Any]) -> dict[str, str]:
    """The text values of ``texts`` that are words (a categorical result: ``include``, ``converged``, ``left
    hemisphere``): a letter first, no digit nor path separator, 64 characters at most; not time stamps, host
    names with numbers, paths or digests. Kept as written in ``meta["words"]``, so that the analysis can fail a
    word that differs between repetitions of one condition (review QC: an MRIQC-like `qc_decision` flipping from
    include to exclude only warned).

    Examples
    --------
    >>> word_values({"qc": "include", "t": "2026-12-01T02:50", "p": "/data/sub-01", "n": None, "h": "node12"})
    {'qc': 'include'}
    """
    return {k: v for k, v in texts.items() if isinstance(v, str) and _WORD.fullmatch(v.strip())}


def text_digest(value: Any) -> str:
    """A short digest of a non-numeric value a reader does not turn into an observation (a JSON string, a text
    cell): enough to tell whether it differs between executions without keeping it.

    Examples
    --------
    >>> text_digest("tumour") == text_digest("tumour") != text_digest("healthy")
    True
    """
    return blake3.blake3(repr(value).encode("utf-8", "replace")).hexdigest()[:16]


def new_hasher(tag: str) -> blake3.blake3:
    """A BLAKE3 hasher primed with ``reprovip.semantic.<tag>\\0`` so hashes of different formats never mix."""
    return blake3.blake3(f"reprovip.semantic.{tag}\0".encode("ascii"))


def exact_number(literal: str) -> str | None:
    """``literal``'s exact value as canonical text when float64 cannot hold it, else None: an integer beyond
    2**53, or a decimal written with more digits than float64 keeps (``0.1000000000000000055511``, a long
    double or decimal printed in full). Readers keep them in ``meta["exact"]``: two that differ may be one
    float64, and the analysis names them.

    Examples
    --------
    >>> exact_number(str(2**60 + 1)), exact_number(str(2**60)), exact_number("12.5"), exact_number("-7")
    ('1152921504606846977', None, None, None)
    >>> exact_number("0.10000000000000000555"), exact_number("0.1000000000000000"), exact_number("1e-5")
    ('0.10000000000000000555', None, None)
    >>> exact_number("0.33333333333333331"), exact_number("3e-324")  # %.17g of 1/3; a subnormal rounded
    (None, '3E-324')
    >>> exact_number("0.33333333333333332")  # 17 digits, the same float64, but not its %.17g
    '0.33333333333333332'

    >>> exact_number("1e-400"), exact_number("2e400")  # underflows to 0.0, overflows to infinity
    ('1E-400', '2E+400')
    >>> exact_number("1e999999999")
    '1E+999999999'

    """
    text = literal.strip()
    if len(text) < 16 and "e" not in text.lower():  # 2**53 has 16 digits; 15 digits are a float64's own
        return None
    if text.lstrip("+-").isdigit():
        value = int(text)
        try:
            return None if float(value) == value else str(value)
        except OverflowError:  # beyond float64 altogether
            return str(value)
    try:
        exact = decimal.Decimal(text)
        f = float(text)
    except (decimal.InvalidOperation, ValueError):
        return None
    if not exact.is_finite():  # nan, inf as written: their float64 is what they say
        return None
    # normalised with every digit kept (the default context rounds to 28), and any exponent: `1e999999999`
    # overflowed the default context's (a decimal.Overflow, an internal error: a review)
    context = decimal.Context(prec=len(text), Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    if not math.isfinite(f):  # 1e400 and 2e400 are one float64 (infinity): keep what was written
        return str(exact.normalize(context))
    if abs(f) >= sys.float_info.min and exact == decimal.Decimal(f"{f:.17g}"):
        # float64's 17-digit round-trip form (`%.17g`, `setprecision(17)`): the value a float64 tool printed,
        # not one float64 cannot hold (two reviews' `%.17g` read "not analysable"); another 17-digit decimal
        # of the same float64 (`0.33333333333333332`) carries what float64 lacks, and is kept
        return None
    # the float64's shortest repr, as a decimal: equal when the literal says no more than the float does
    return None if decimal.Decimal(repr(f)) == exact else str(exact.normalize(context))
