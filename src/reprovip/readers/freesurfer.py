"""FreeSurfer ``.stats`` files (``aseg.stats``, ``lh.aparc.stats``, ``brainvol.stats``...) as the ``table`` kind.

FreeSurfer's ``mri_segstats`` and ``mris_anatomical_stats`` write a header of ``#`` comment lines, then a
whitespace-delimited table. The results are in two places:

- ``# Measure <name>, <short name>, <description>, <value>, <unit>`` lines: one observation each,
  ``"Measure/<short name>"`` (``Measure/eTIV``, ``Measure/BrainSegVol``, ``Measure/MeanThickness``);
- the table under ``# ColHeaders <names...>``: read by the table rules (``reprovip.readers.table``), each numeric
  cell an observation ``"<StructName>/<column>"`` (``Left-Hippocampus/Volume_mm3``), but ``Index``, a row counter.

Every other comment line describes the run, not its results (``# CreationTime``, ``# hostname``, ``# cmdline``,
``# user``, ``# SUBJECTS_DIR``, file time stamps): it is neither an observation nor part of the semantic hash,
so two executions that differ only there are identical, as a user comparing FreeSurfer runs expects. A file
cut short (fewer rows than its ``# NRows`` says, or a row with fewer fields than ``# ColHeaders``) is an error,
never a smaller table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.readers.base import (
    Loaded,
    Reader,
    count_nonfinite,
    decode_text,
    fail,
    head,
    new_hasher,
    read_file_bytes,
    read_only,
)
from reprovip.readers.table import ParsedTable, table_loaded

_SNIFF = re.compile(rb"^#\s*(?:Measure|ColHeaders)\s", re.MULTILINE)
_VALUE = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf)", re.IGNORECASE)
_RERUN = "the execution may have been cut short: run it again, or declare the output `kind: text`"


@dataclass
class _Measure:
    name: str
    short: str
    description: str
    value: float
    text: str  # the value as written (hashed as written: 1.0 and 1.000000 are different files)
    unit: str


@dataclass
class _Stats:
    measures: list[_Measure]
    table: ParsedTable | None


def _measure(path: Path, line: int, rest: str) -> _Measure:
    """One ``# Measure`` line's fields (the description may itself hold commas)."""
    parts = [p.strip() for p in rest.split(",")]
    if len(parts) < 5:
        raise fail(
            path,
            f"line {line}: '# Measure' needs 5 comma-separated fields (name, short name, description, value, "
            f"unit), got {len(parts)}",
            _RERUN,
        )
    value = parts[-2]
    if not _VALUE.fullmatch(value):
        raise fail(path, f"line {line}: the value of measure {parts[1]!r} is {value!r}, not a number", _RERUN)
    return _Measure(parts[0], parts[1], ", ".join(parts[2:-2]), float(value), value, parts[-1])


def parse_stats(path: Path) -> _Stats:
    """The measures and the table of a FreeSurfer stats file; ReaderError when it is malformed or truncated."""
    text, encoding = decode_text(path, read_file_bytes(path))
    measures: list[_Measure] = []
    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    declared: dict[str, tuple[int, str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            word, _, rest = line[1:].strip().partition(" ")
            if word == "Measure":
                measures.append(_measure(path, number, rest))
            elif word == "ColHeaders":
                if header is not None:
                    raise fail(path, f"a second '# ColHeaders' line at line {number} (first at {header_line})", _RERUN)
                header, header_line = rest.split(), number
            elif word in ("NRows", "NTableCols"):
                declared[word] = (number, rest.strip())
            continue
        if header is None:
            raise fail(path, f"line {number} holds data before any '# ColHeaders' line", _RERUN)
        cells = line.split()
        if len(cells) != len(header):
            raise fail(
                path,
                f"line {number} has {len(cells)} fields but '# ColHeaders' (line {header_line}) names {len(header)}",
                _RERUN,
            )
        rows.append(cells)
        lines.append(number)
    if not measures and header is None:
        raise fail(
            path,
            "no '# Measure' line and no '# ColHeaders' table: not a FreeSurfer stats file",
            "declare the output's kind (`table` for a plain table, `text` to read every number)",
        )
    for word, count in (("NRows", len(rows)), ("NTableCols", len(header or ()))):
        if word in declared and declared[word][1] != str(count):
            at, said = declared[word]
            raise fail(path, f"'# {word} {said}' (line {at}) but the table has {count}", _RERUN)
    shorts = [m.short for m in measures]
    if len(set(shorts)) != len(shorts):
        twice = next(s for s in shorts if shorts.count(s) > 1)
        raise fail(path, f"measure {twice!r} appears twice", "declare the output `kind: text` to read every number")
    table = None if header is None else ParsedTable(header, rows, lines, " ", encoding)
    return _Stats(measures, table)


def read_stats(path: Path, *, key_columns: tuple[str, ...] | None = None) -> Loaded:
    """Read a FreeSurfer stats file as the ``table`` kind (see the module docstring)."""
    stats = parse_stats(path)
    if stats.table is not None:
        table = stats.table
        if "Index" in table.header:
            # mri_segstats' row counter, renumbered 1..N whatever the order: another row order read "ICC 0 on
            # Left-Amygdala/Index, threads changes the result" (a review); the rows are keyed by StructName
            at = table.header.index("Index")
            table = ParsedTable(
                table.header[:at] + table.header[at + 1 :],
                [r[:at] + r[at + 1 :] for r in table.rows],
                table.lines,
                table.delimiter,
                table.encoding,
            )
        if key_columns is None and "StructName" in table.header:
            key_columns = ("StructName",)  # a name twice is an error, not a table keyed by row number (a review)
        loaded = table_loaded(path, table, key_columns)
        values, meta = dict(loaded.values), dict(loaded.meta)
    else:
        values, meta = {}, {"columns": [], "numeric_columns": [], "n_rows": 0}
    for m in stats.measures:
        name = f"Measure/{m.short}"
        if name in values:
            raise fail(path, f"the table has a row named 'Measure' beside '# Measure' lines ({name!r} twice)", _RERUN)
        values[name] = read_only(np.array(m.value, dtype=np.float64))
    meta["format"] = "freesurfer-stats"
    meta["measures"] = {m.short: {"name": m.name, "description": m.description, "unit": m.unit} for m in stats.measures}
    meta["n_nonfinite"] = count_nonfinite(values)
    return Loaded("table", values, meta)


def stats_semantic_hash(path: Path) -> str:
    """Hash of the measures (as written, with their units) and the table cells; the other comment lines
    (time stamps, host, command line) are left out."""
    stats = parse_stats(path)
    h = new_hasher("freesurfer-stats.v1")
    content: dict[str, Any] = {"measures": [[m.name, m.short, m.text, m.unit] for m in stats.measures]}
    if stats.table is not None:
        content["table"] = [stats.table.header, *stats.table.rows]
    h.update(json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode())
    return h.hexdigest()


class FreeSurferStatsReader(Reader):
    """FreeSurfer ``.stats`` files, recognised by their ``# Measure`` or ``# ColHeaders`` lines."""

    name = "freesurfer-stats"
    kinds = ("table",)
    options = frozenset({"key_columns"})

    def sniff(self, path: Path) -> bool:
        start = head(path, 1 << 16)
        return start[:1] == b"#" and _SNIFF.search(start) is not None

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        return read_stats(path, key_columns=options.get("key_columns"))

    def semantic_hash(self, path: Path) -> str | None:
        return stats_semantic_hash(path)
