"""CSV and TSV tables (``table``): every numeric cell is one observation keyed ``"<rowkey>/<column>"``.

Parsing uses the standard :mod:`csv` module on the decoded text, so line numbers in messages are exact and
no type guessing happens behind our back. The rules (also in ``docs/readers.md``):

- delimiter: ``,`` for ``.csv``, tab for ``.tsv``/``.tab``; other suffixes (a ``.txt`` declared as
  ``table``): tab if the first line has one, else ``,``, else ``;``, else runs of whitespace;
- ``#`` comment lines before and after the rows are skipped (MRtrix3's ``# command_history``, numpy's footer),
  kept in ``ParsedTable.comments`` (hashed, no observation); the last leading one is the header of a first row
  of data when it names as many columns (numpy's ``savetxt(header=...)``: ``# x y z``);
- terminal escape sequences (colours: ``\\x1b[32m11.5\\x1b[0m``) are removed first, from the cells and from the
  semantic hash: a cell is what a terminal shows, and a colour change alone is no result change;
- cells are stripped of surrounding whitespace; blank rows are skipped; a missing cell is empty or one of
  ``NA N/A NaN null None`` (any case, and ``-nan`` as C prints it) and becomes NaN; the numeric cells written
  with no value (blank, ``NA N/A null None``: R's ``NA``, fMRIPrep's ``n/a``), unlike a ``NaN`` computed, are
  listed in ``meta["empty"]`` (a cell empty in every execution of a subject is no observation of it);
- a number is written with a decimal point, or as a hexadecimal float (``0x1.4bp+1``: ``float.hex``, C's
  ``%a``); followed by ``%`` (``95.1%``, ``95.1 %``) it is that number, in percent as written (95.1), as the
  text reader reads ``95%``;
- a text cell that holds a number (``4231.7 mm3``, ``~1.18``, ``1.28-1.57``, ``n=12``; see
  :func:`holds_number`) is named in ``meta["number_like_text"]``: when it differs, no metric measures it;
- a cell may be longer than the :mod:`csv` module's default limit (128 KiB);
- a decimal comma (``10,1``) is read only in a ``;``-delimited table whose column writes every fractional
  number with a comma, and not when every such cell could be a thousands separator (``1,234``); otherwise the
  cells stay text and ``meta["number_like_text"]`` says why (see :func:`_decimal_commas`);
- a column is numeric when more than half of its non-missing cells are numbers; every other non-missing
  cell of a numeric column is then an error naming its line and column; a column whose every non-missing
  cell is ``true`` or ``false`` (any case) is numeric too, 1 and 0, as JSON's booleans are, and so is a column
  whose only values are NaN as written (``nan``): a NaN computed is a value, unlike an empty cell;
- row keys: the ``key_columns`` given (joined with ``|``), else the first non-numeric column when its values
  are unique and non-empty, else the 0-based data-row index;
- a first row whose every cell is a number (``np.savetxt``, connectome matrices, FSL ``.mat`` affines) is
  data, not a header: the columns are named by their 1-based position (``"1"``, ``"2"``, ...) and
  ``meta["header"]`` is False (see :func:`_is_data_row`).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.readers.base import (
    Loaded,
    Reader,
    count_nonfinite,
    decode_text,
    describe,
    exact_number,
    fail,
    new_hasher,
    number_text,
    read_file_bytes,
    read_only,
    strip_escapes,
    suffix_of,
    text_digest,
    word_values,
)
from reprovip.readers.text import HEX_FLOAT, hex_number

# NaN as C's printf writes it for a negative NaN (glibc's `-nan`) and as MSVC does (`-nan(ind)`)
_NAN = frozenset({"nan", "-nan", "+nan", "nan(ind)", "-nan(ind)"})
EMPTY = frozenset({"", "na", "n/a", "null", "none"})  # no value written (R's NA, fMRIPrep's n/a), not a NaN computed
MISSING = EMPTY | _NAN
# Fortran's D exponent (`6.8410D+02`, with its decimal point: `099950d8` is an id) and the Microsoft C runtime's
# non-finite values (`1.#INF00`, `-1.#IND00`) are numbers too: as text, a column of them that varied only warned.
_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|(?:\d+\.\d*|\.\d+)d[+-]?\d+|1\.#(?:inf|ind|qnan|snan)\d*|inf|infinity)",
    re.IGNORECASE,
)
_CELL = re.compile(rf"({_NUMBER.pattern})(?:\s*%)?", re.IGNORECASE)  # a number, or a percentage as written
_COMMA = re.compile(r"([+-]?\d+),(\d+(?:[eE][+-]?\d+)?)(?:\s*%)?")  # a decimal comma: 10,1  -2,5e3  95,1 %
_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2},\d{3}(?:\s*%)?")  # 1,234: a decimal comma, or 1234?
# A decimal number among other characters (`~1.18`, `1.28-1.57`, `n=12.5`, `12.5 (*)`, `12.5/13`, `1.2×10⁻³`,
# `≈ 12.5`): digits with a point or an exponent, glued to no word, version or path (`v1.2`, `run_1.5`, `fwhm-1.5`,
# `1.2.3`, `data.1.5.csv`, `/data/1.5/`). As text, such cells that varied by 30% were only a warning (a review).
_DECIMAL = re.compile(
    r"(?<![\w./\\])(?<![^\W\d_]-)"
    r"(?:(?:\d+\.\d+|\.\d+)(?:[eE][-+]?\d+)?(?![\d_]|\.\w)|\d+[eE][-+]?\d+(?![\w.]))"
)
_INTEGER = re.compile(r"(?<![\w.])\d+(?![\w.])")  # a whole number, in a cell without letters: `12/13`, `~12`
_RELATION = re.compile(r"[=<>~\u2248\u223c\u2264\u2265]\s*[-+\u2212]?\.?\d")  # n=12, p<0.05, ≈ 12, ≤3
# dates and times are no numbers: 2026-11-29, 2026/11/29, 2026-11, 29/11/2026, 15:00, 16:07:30.123, 0:01:23.45
_CLOCK = re.compile(
    r"\d{4}[-/]\d{1,2}(?:[-/]\d{1,2})?|\d{1,2}/\d{1,2}/\d{2,4}|\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
    # ids are no numbers either: a UUID, a hex digest or id with letters and digits (`95e7` of a UUID read as
    # 95e7, and a run's UUID made an identical study "not analysable": a review)
    r"|(?<![\w.])[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}(?![\w.])"
    r"|(?<![\w.])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{6,}(?![\w.])",
    re.IGNORECASE,
)
_DELIMITERS = {",": "','", "\t": "tabs", ";": "';'", " ": "whitespace"}
# The csv module refuses fields beyond 128 KiB; the whole text is in memory already, so the limit guards nothing
# and a well-formed table with a long cell (a command history, a base64 thumbnail) read "malformed" (a review).
# 2**31 - 1: the largest value a C long holds everywhere (Windows included).
csv.field_size_limit(2**31 - 1)
_FIX_TABLE = "fix the program that writes the table, or declare the output as kind 'text'"


@dataclass
class ParsedTable:
    """Parsed text cells: ``header`` and ``rows`` (stripped), ``lines`` (1-based line of each row);
    ``has_header`` is False when the first row was data and ``header`` names the columns 1, 2, ...;
    ``comments``: the ``#`` lines before and after the rows, stripped (content, but no observation)."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    delimiter: str
    encoding: str
    has_header: bool = True
    comments: list[str] = field(default_factory=list)


def _fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


def _delimiter(path: Path, text: str) -> str:
    """``,`` for ``.csv`` (``;`` when the header has semicolons and no comma: a spreadsheet in a locale with
    decimal commas writes such ``.csv`` files), tabs for ``.tsv``; else the first of tab, ``,``, ``;`` in the
    header, or whitespace."""
    suffix = suffix_of(path).removesuffix(".gz")
    if suffix in (".tsv", ".tab"):
        return "\t"
    first = next((line for line in text.splitlines() if line.strip()), "")
    if suffix == ".csv":
        return ";" if ";" in first and "," not in first else ","
    return next((d for d in ("\t", ",", ";") if d in first), " ")


_SPACED = re.compile(r'"[^"]*"(?=\s|$)|\S+')  # a whitespace-delimited cell: a quoted string (spaces kept), or a word


def _records(path: Path, text: str, delimiter: str):
    """Yield ``(line_number, cells)`` for every non-blank row."""
    if delimiter == " ":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():  # R's write.table quotes its strings ("GM", "left hippocampus"): cells, unquoted
                yield number, [c[1:-1] if c[:1] == c[-1:] == '"' and len(c) > 1 else c for c in _SPACED.findall(line)]
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if any(cells):
                yield reader.line_num, cells
    except csv.Error as exc:
        raise fail(path, f"malformed table at line {reader.line_num} ({describe(exc)})", "check its quoting") from exc


def _blank_comments(text: str) -> tuple[str, list[tuple[int, str]]]:
    """``text`` with its leading and trailing comment lines (``#``: MRtrix's ``# command_history: ...``, numpy's
    ``savetxt`` header and footer) blanked, so that line numbers stay exact; and those lines (index, text after
    ``#``), the leading ones first."""
    lines = text.split("\n")
    comments: list[tuple[int, str]] = []
    for order in (range(len(lines)), range(len(lines) - 1, -1, -1)):
        for i in order:
            if lines[i].lstrip().startswith("#"):
                comments.append((i, lines[i].lstrip()[1:].strip()))
                lines[i] = ""
            elif lines[i].strip():
                break
    return ("\n".join(lines), sorted(comments)) if comments else (text, [])


def _comment_header(text: str, comments: list[tuple[int, str]], delimiter: str) -> tuple[str, int | None]:
    """Put back the last leading comment, without its ``#``, when it is the header of a table whose first row is
    data (it holds a number): it names (with a word) as many columns as that row has, and is no ``key: value``
    note (``# x y z`` above numpy's columns, ``#id,value``; not ``# command_history: ...``, nor a note above a
    real header: a review). The line put back, or None."""
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    leading = [(i, c) for i, c in comments if first is None or i < first]
    if not leading or first is None:
        return text, None
    index, names = leading[-1]

    def cells(line: str) -> list[str]:
        return line.split() if delimiter == " " else [c.strip() for c in next(csv.reader([line], delimiter=delimiter))]

    header, row = cells(names), cells(lines[first])
    note = bool(header) and header[0].endswith(":")
    if note or len(header) != len(row) or _is_data_row(header) or not any(_number(c) is not None for c in row):
        return text, None
    lines[index] = names
    return "\n".join(lines), index


def _number(cell: str) -> float | None:
    """The number a cell holds by the table's rules (a number, a percentage as written, a hexadecimal float),
    or None (decimal commas and missing cells are decided by the column)."""
    if m := _CELL.fullmatch(cell):
        literal = m[1].lower()
        if "#" in literal:  # 1.#INF00 is an infinity; 1.#IND00, 1.#QNAN0, 1.#SNAN0 are NaNs
            return float(literal.split("1.#")[0] + ("inf" if "#inf" in literal else "nan"))
        return float(literal.replace("d", "e"))
    if HEX_FLOAT.fullmatch(cell):  # float.hex and C's %a round-trip exactly: a number, not text (a review)
        return hex_number(cell)[0]
    return None


def tuple_parts(cell: str) -> list[str] | None:
    """The elements of a cell written as a tuple or list of two or more numbers, ``(1.0, 1.0, 1.2)`` or
    ``[12, 40, 7]`` (PyRadiomics' spacing, size, bounding box and centre of mass), as written (stripped), or None.

    Examples
    --------
    >>> tuple_parts("(12.000000000001, 34.5, -6)"), tuple_parts("[1, 2]"), tuple_parts("(3)"), tuple_parts("(a, 1)")
    (['12.000000000001', '34.5', '-6'], ['1', '2'], None, None)
    >>> tuple_parts("(1.0, nan, 1.2)")
    ['1.0', 'nan', '1.2']
    """
    if len(cell) < 5 or (cell[0], cell[-1]) not in (("(", ")"), ("[", "]")):
        return None
    parts = [p.strip() for p in cell[1:-1].split(",")]
    # `(1.0, nan, 1.2)`: a NaN element
    return parts if len(parts) >= 2 and all(p.lower() in _NAN or _number(p) is not None for p in parts) else None


def _element(part: str) -> float:
    """The number of a tuple's element that :func:`tuple_parts` accepted (``nan`` as written is NaN)."""
    number = math.nan if part.lower() in _NAN else _number(part)
    assert number is not None  # tuple_parts accepts numbers only
    return number


def _exact(cell: str) -> str | None:
    """The exact value of a numeric cell as canonical text when float64 cannot hold it, else None."""
    return hex_number(cell)[1] if HEX_FLOAT.fullmatch(cell) else exact_number(cell)


_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T _]\d{2}:\d{2}")  # a date and time of day (ISO 8601, Python's str())
_VERSION_KEY = re.compile(r"version|release|revision|commit", re.IGNORECASE)


def names_a_version(key: str) -> bool:
    """Whether a field or column (its last ``/`` segment) names a software version: its text is an identifier
    even when it reads as a number (BIDS writes ``"SoftwareVersion": "1.1"`` quoted, and a new version's
    sidecar made a numerically identical study "not analysable" as a number written as text: review PT).

    Examples
    --------
    >>> [names_a_version(k) for k in ("SoftwareVersion", "fit/software_versions", "Release", "volume", "subversion/x")]
    [True, True, True, False, False]
    """
    return _VERSION_KEY.search(key.rpartition("/")[2]) is not None


def holds_number(cell: str) -> bool:
    """Whether a text cell holds a number no observation measures: a number written as text
    (:func:`~reprovip.readers.base.number_text`), a decimal number among other characters, a number after
    ``=``, ``<`` or ``~``, or, in a cell without letters, a whole number. Dates, times, versions, paths and
    identifiers are not.

    Examples
    --------
    >>> [holds_number(c) for c in ("~1.18", "1.28-1.57", "n=12.5", "12.5 (*)", "12.5/13", "\u2248 12.5")]
    [True, True, True, True, True, True]
    >>> [holds_number(c) for c in ("1.2\u00d710\u207b\u00b3", "1\u00d710\u207b\u00b3", "(12)", "12*", "3-4")]
    [True, True, True, True, True]
    >>> [holds_number(c) for c in ("n=12", "12/13", "p<0.05", "0x1.4bp+1 s", "converged, loss 0.0123", "1.5mm")]
    [True, True, True, True, True, True]
    >>> [holds_number(c) for c in ("6_234.5", "1_734_567", "\\x1b[32m11.5\\x1b[0m", "\\x1b[1mn=12\\x1b[0m")]
    [True, True, True, True]
    >>> [holds_number(c) for c in ("sub-01", "Left-Cerebellum-Cortex", "ctx-lh-G_and_S_frontomargin", "node-1a")]
    [False, False, False, False]
    >>> [holds_number(c) for c in ("sub-01_desc-1.5mm_T1w.nii.gz", "v1.2", "fsl-6.0.7", "10.0.0.1", "run 3 of 5")]
    [False, False, False, False, False]
    >>> [holds_number(c) for c in ("2026-11-29T16:07:30.123Z", "29/11/2026 16:07", "20261129T160730", "3f2a9c1e")]
    [False, False, False, False]
    >>> [holds_number(c) for c in ("ec66a787-95e7-4b1c-9d2e-1f2a3b4c5d6e", "2026/11/30 06:09:34", "099950d8")]
    [False, False, False]
    """
    cell = strip_escapes(cell)  # a JSON string "\u001b[32m11.5\u001b[0m" is the number a terminal shows
    if _RELATION.search(cell) or HEX_FLOAT.search(cell):
        return True
    plain = _CLOCK.sub(" ", cell)  # dates, times and ids first: `099950d8` is an id, not Fortran's 099950 x 10^8
    if number_text(plain.strip()) or _DECIMAL.search(plain):
        return True
    return not any(c.isalpha() for c in cell) and _INTEGER.search(plain) is not None


def _is_data_row(cells: list[str]) -> bool:
    """Whether a first row is data: every cell a number by the cells' own rule (``_CELL``), a decimal comma,
    or ``nan`` as numeric writers print it. A header names its columns with at least one word (or leaves one
    empty, as pandas does above an index); a row of numbers only is the first row of a matrix."""
    return all(_number(c) is not None or _COMMA.fullmatch(c) or c.lower() in _NAN for c in cells)


ROW_NAMES = "row.names"  # the column of R's row names, written without a header cell by `write.table`


def parse_table(path: Path) -> ParsedTable:
    """Parse ``path`` into stripped text cells; raise :class:`ReaderError` on ragged or malformed rows."""
    text, encoding = decode_text(path, read_file_bytes(path))
    # a coloured cell (`\x1b[32m11.5\x1b[0m`: a tool's stdout) is the number a terminal shows; as text, +10 passed
    text, comments = _blank_comments(strip_escapes(text))
    delimiter = _delimiter(path, text)
    text, restored = _comment_header(text, comments, delimiter)
    records = _records(path, text, delimiter)
    first = next(records, None)
    if first is None:
        raise fail(path, "the table has no header row (only blank lines)", _FIX_TABLE)
    width = 1 + max(j for j, cell in enumerate(first[1]) if cell)  # trailing delimiters are no columns
    has_header = not _is_data_row(first[1][:width])
    if has_header:
        header = [name or f"Unnamed: {j}" for j, name in enumerate(first[1])]
    else:  # no names to read: the columns are numbered, and the first row is data like the others
        header = [str(j) for j in range(1, width + 1)]
        records = itertools.chain([first], records)
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            raise fail(
                path,
                f"column {name!r} appears twice (columns {seen[name] + 1} and {j + 1})",
                "give the columns unique names",
            )
        seen[name] = j
    rows, lines = [], []
    records = list(records)
    for _, cells in records:
        while len(cells) > len(header) and not cells[-1]:
            cells.pop()  # trailing delimiters
    row_names = has_header and bool(records) and all(len(cells) == len(header) + 1 for _, cells in records)
    if row_names:
        # R's write.table: row names first, a header without their cell (it read "line 2 has 4 fields but the
        # header has 3", review TX); pandas reads them as its index
        header.insert(0, ROW_NAMES)
    for line, cells in records:
        if len(cells) != len(header):
            raise fail(
                path,
                f"line {line} has {_fields(len(cells))} but the {'header' if has_header else 'first row'} has "
                f"{_fields(len(header))}",
                # a free-form report (LCModel's .table) declared `table` was told of delimiters only (review LC)
                "check the delimiter and the quoting, or declare the output `kind: text` if it is a free-form "
                "report (its numbers are then read by line)",
            )
        rows.append(cells)
        lines.append(line)
    if row_names and all(r[0].isdigit() for r in rows):  # R's default names, 1..n: the rows' order, no value
        header.pop(0)
        for r in rows:
            r.pop(0)
    # A trailing delimiter on every line, the header's too (a tool's `printf("%s\t", ...)`), is no column: an
    # "Unnamed" column empty everywhere read "3 table cells are empty" (a review)
    while has_header and len(header) > width and all(not r[-1] for r in rows):
        header.pop()
        for r in rows:
            r.pop()
    notes = [c for i, c in comments if i != restored]  # the header put back is no comment
    return ParsedTable(header, rows, lines, delimiter, encoding, has_header, notes)


_BOOLEANS = {"true": 1.0, "false": 0.0}


def _decimal_commas(cells: list[str], parsed: list[float | None], delimiter: str) -> str | None:
    """Read the decimal-comma cells of a column (in ``parsed``) when that is unambiguous; else say why not.

    Only a ``;``-delimited table writes decimal commas on purpose, and only a column whose fractional numbers
    all use the comma shows which convention it follows: with a ``1.5`` beside it the ``.`` may be a
    thousands separator, and ``1,234`` alone may be 1.234 or 1234. Those cells stay text, never a guess.
    """
    commas = [i for i, v in enumerate(parsed) if v is None and _COMMA.fullmatch(cells[i])]
    if not commas:
        return None
    example = cells[commas[0]]
    if delimiter != ";":
        return (
            f"decimal comma ({example!r}) in a table delimited by {_DELIMITERS[delimiter]}: "
            "read as numbers only in ';'-delimited tables"
        )
    point = next((c for c, v in zip(cells, parsed, strict=True) if v is not None and "." in c), None)
    if point is not None:
        return f"decimal commas ({example!r}) and points ({point!r}) in one column: one of them may group thousands"
    if all(_THOUSANDS.fullmatch(cells[i]) for i in commas):
        return f"{example!r} may be a decimal comma or a thousands separator"
    for i in commas:
        m = _COMMA.fullmatch(cells[i])
        parsed[i] = float(f"{m[1]}.{m[2]}")
    return None


def _parse_column(cells: list[str], delimiter: str) -> tuple[list[float | None], int, int, str | None]:
    """Per cell: the number, NaN when missing, None when text; the counts of numbers and texts; and why
    number-like cells stay text (:func:`_decimal_commas`), or None."""
    parsed: list[float | None] = []
    n_missing = 0
    for cell in cells:
        if cell.lower() in MISSING:
            parsed.append(float("nan"))
            n_missing += 1
        else:
            parsed.append(_number(cell))
    why = _decimal_commas(cells, parsed, delimiter)
    words = {cells[i].strip().lower() for i, v in enumerate(parsed) if v is None}
    if words and words <= _BOOLEANS.keys() and all(v is None or math.isnan(v) for v in parsed):
        # A column of true/false is read as 1/0, as JSON's booleans are: as text, a flip was only a warning
        # while the same flip in JSON failed (a review's `converged` column)
        parsed = [_BOOLEANS[c.strip().lower()] if v is None else v for c, v in zip(cells, parsed, strict=True)]
    n_text = parsed.count(None)
    return parsed, len(parsed) - n_text - n_missing, n_text, why


def _row_keys(path: Path, table: ParsedTable, key_columns: tuple[str, ...] | None, text_cols: list[int]):
    """The row keys and the key columns used; ``key_columns=()`` (declared empty): the row index."""
    if key_columns == ():  # a first text column that names the subject (asegstats2table) is no row key
        return [str(i) for i in range(len(table.rows))], ()
    if key_columns is not None:
        index = {name: j for j, name in enumerate(table.header)}
        missing = [k for k in key_columns if k not in index]
        if missing:
            raise fail(
                path,
                f"missing key column {missing[0]!r} (columns are: {', '.join(table.header)}"
                + ("" if table.has_header else "; the first row is all numbers, so the table has no header")
                + ")",
                "fix `key_columns` in the output's declaration",
            )
        keys = ["|".join(row[index[k]] for k in key_columns) for row in table.rows]
        seen: dict[str, int] = {}
        for key, line in zip(keys, table.lines, strict=True):
            if not key.strip("|"):
                raise fail(path, f"line {line} has an empty key", "every row needs a key value")
            if key in seen:
                raise fail(
                    path,
                    f"key {key!r} appears on lines {seen[key]} and {line}",
                    "choose key columns whose values are unique",
                )
            seen[key] = line
        return keys, tuple(key_columns)
    # A one-row table's time stamp says when a run wrote it, not what its row is: taken as the key, every execution
    # had another row, "not analysable: compare their logs" (review F); it stays a text column, said when it
    # differs. Rows keyed by their acquisition times are keyed so (review J: reordered, they read "not reproducible")
    stamped = len(table.rows) == 1 and _STAMP.match(table.rows[0][text_cols[0]]) if text_cols else False
    named = text_cols[1:] if stamped else text_cols
    if named:
        keys = [row[named[0]] for row in table.rows]
        if all(keys) and len(set(keys)) == len(keys):
            return keys, (table.header[named[0]],)
    return [str(i) for i in range(len(table.rows))], ()


def read_table(path: Path, *, key_columns: tuple[str, ...] | None = None) -> Loaded:
    """Read a CSV/TSV file as the ``table`` kind (see the module docstring for the rules)."""
    return table_loaded(path, parse_table(path), key_columns)


def table_loaded(path: Path, table: ParsedTable, key_columns: tuple[str, ...] | None) -> Loaded:
    """The ``table`` observations of parsed cells (the rules of the module docstring); ``path`` for messages."""
    columns: dict[int, list[float | None]] = {}
    text_cols, ignored = [], []
    number_like: dict[str, str] = {}
    for j, name in enumerate(table.header):
        parsed, n_num, n_text, why = _parse_column([row[j] for row in table.rows], table.delimiter)
        if n_num > n_text:
            if n_text:
                i = next(i for i, v in enumerate(parsed) if v is None)
                raise fail(
                    path,
                    f"line {table.lines[i]}, column {name!r}: {table.rows[i][j]!r} is not a number, "
                    f"although {n_num} other cells of this column are" + (f" ({why})" if why else ""),
                    "check the execution's log (a failing step may write text instead of a number)",
                )
            columns[j] = parsed
        elif n_text:
            text_cols.append(j)
            if why:
                number_like[name] = why
        elif table.rows:
            # A NaN the application wrote is a value, even alone (a review: a missing row); cells written empty
            # are NaN listed in meta["empty"], even when every cell of the column is: `NA` in a one-row table
            # made its file "write other fields" (not analysable) where the docs say non-finite there (review F)
            columns[j] = parsed
        else:
            ignored.append(name)  # a header without rows
    keys, used = _row_keys(path, table, key_columns, text_cols)
    used_idx = {table.header.index(k) for k in used}
    values: dict[str, np.ndarray] = {}
    for i, key in enumerate(keys):
        for j, parsed in columns.items():
            if j not in used_idx:
                values[f"{key}/{table.header[j]}"] = read_only(np.array(parsed[i], dtype=np.float64))
    numeric = [table.header[j] for j in columns if j not in used_idx]
    if len(values) != len(keys) * len(numeric):
        raise fail(path, "two cells map to the same '<rowkey>/<column>' name", "pass explicit key_columns")
    # A text column of number tuples, `(1.0, 1.0, 1.2)`: one observation per element, `<rowkey>/<column>[i]`
    # (PyRadiomics' centre of mass moved by 1e-13 under threads=2 was numbers written as text: review RD)
    tuples = {
        j: found
        for j in text_cols
        if j not in used_idx
        and None not in (found := [tuple_parts(row[j]) if row[j] else [] for row in table.rows])
        and any(found)
    }
    exact: dict[str, str] = {}
    for j, found in tuples.items():
        for key, parts in zip(keys, found, strict=True):
            for e, part in enumerate(parts):
                name = f"{key}/{table.header[j]}[{e}]"
                if name in values:  # a column `shift[0]` beside the tuple `shift` was dropped unsaid (review F)
                    raise fail(
                        path,
                        f"two cells map to the same '<rowkey>/<column>' name {name!r} (column {table.header[j]!r} "
                        "holds tuples, whose elements are named so)",
                        "rename one of the columns",
                    )
                values[name] = read_only(np.array(_element(part), dtype=np.float64))
                # digits beyond float64 in a tuple passed where the same in plain cells was said (review F)
                if e_text := _exact(part):
                    exact[name] = e_text
    text = [j for j in text_cols if j not in used_idx and j not in tuples]
    meta: dict[str, Any] = {
        "columns": list(table.header),
        "header": table.has_header,  # False: the first row was data, the columns are numbered 1, 2, ...
        "numeric_columns": numeric,
        # the numeric cells written empty (EMPTY), by '<rowkey>/<column>': no value, unlike a NaN computed
        # (a column with no value at all too: empty everywhere, it is said, not only ignored: a review)
        "empty": [
            f"{key}/{table.header[j]}"
            for i, key in enumerate(keys)
            for j in columns
            if j not in used_idx and table.rows[i][j].lower() in EMPTY
        ],
        # the text cells, no observation, by '<rowkey>/<column>': the analysis says when they differ
        # and the comment lines (`# estimated ICV = 1543210.0 mm3`), by their order: one that differs is named
        # (a review's 10% change there under threads=2 read "a string, a text column, a word" with no line named)
        "text": {f"{key}/{table.header[j]}": text_digest(table.rows[i][j]) for i, key in enumerate(keys) for j in text}
        | {f"comment {n}": text_digest(c) for n, c in enumerate(table.comments, start=1)},
        # categorical cells as written (`include`, `converged`): the analysis fails one that flips between runs
        "words": word_values(
            {f"{key}/{table.header[j]}": table.rows[i][j] for i, key in enumerate(keys) for j in text}
        ),
        "key_columns": list(used),
        "ignored_columns": [table.header[j] for j in text] + ignored,
        "tuple_columns": [table.header[j] for j in tuples],
        # text columns whose cells look like numbers, and why they were not read as numbers (decimal commas)
        "number_like_text": {
            **{name: why for name, why in number_like.items() if name not in used},
            # each cell that is a number written as text, by '<rowkey>/<column>': one that differs is no
            # observation (a unit, a thousands separator, numbers among '<LOD' cells)
            **{
                f"{key}/{table.header[j]}": f"{table.rows[i][j]!r} is a number written as text"
                for i, key in enumerate(keys)
                for j in text
                if table.header[j] not in number_like
                and not names_a_version(table.header[j])
                and holds_number(table.rows[i][j])
            },
        },
        # numbers float64 cannot hold exactly, by '<rowkey>/<column>' (see readers.base.exact_number)
        "exact": {
            f"{key}/{table.header[j]}": e
            for i, key in enumerate(keys)
            for j in columns
            if j not in used_idx and (e := _exact(table.rows[i][j]))
        }
        | exact,
        "n_rows": len(table.rows),
        # the parsed cells whatever the rows' order (the semantic hash keeps it): files that differ in their rows'
        # order alone are said as such (review EX3: a keyed table written in another order warned "the difference
        # is in what no observation measures")
        "rows_digest": text_digest([table.header, sorted(table.rows), table.comments]),
        "delimiter": table.delimiter,
        "encoding": table.encoding,
        "n_nonfinite": count_nonfinite(values),
    }
    return Loaded("table", values, meta)


def table_semantic_hash(path: Path) -> str:
    """Hash of the parsed cells: header and rows as stripped text, blank rows dropped."""
    table = parse_table(path)
    h = new_hasher("table.v1")
    # the numbered names of a table without a header are not content: its rows alone
    rows = [table.header, *table.rows] if table.has_header else table.rows
    h.update(json.dumps(rows, ensure_ascii=True, separators=(",", ":")).encode())
    if table.comments:  # a result in a comment (`# eTIV = ...`) is content, though no observation (a review)
        h.update(json.dumps(table.comments, ensure_ascii=True).encode())
    return h.hexdigest()


class TableReader(Reader):
    """Delimited text tables: CSV, TSV (optionally gzip-compressed); any text file declared ``table``."""

    name = "table"
    kinds = ("table",)
    suffixes = (".csv", ".tsv", ".tab", ".csv.gz", ".tsv.gz", ".tab.gz")
    any_suffix = True
    options = frozenset({"key_columns"})

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        return read_table(path, key_columns=options.get("key_columns"))

    def semantic_hash(self, path: Path) -> str | None:
        return table_semantic_hash(path)
