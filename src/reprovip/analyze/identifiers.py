"""Identifiers standing at positions: when observations are named by where they stand, the things there must be
the same in every subject.

A table without key columns names its rows by number, a JSON list its elements by index, a table without a header
its columns by number. When what stands at a position is an identifier that differs between subjects (label 2 in
some subjects' row 1, label 3 in the others'; GSH in some subjects' ``fits[3]``, Lac in the others'), each
observation mixes different quantities: its ICC is computed between different things, and a 30% change of one of
them passed (a review: ANTs ``LabelStats`` CSVs, MRS fits written as a list, a wide table whose header is label
ids). :func:`mixed_identifiers` finds such a position; the analysis refuses the output, naming how to key it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_INDEX = re.compile(r"\[(\d+)\]")
# A numeric column named as an identifier: `Label`, `label_id`, `SegId`, `ROI`, `region_index`, `StructID`...
_ID_NAME = re.compile(
    r"(?:^|[^a-z])(?:label|id|ids|index|idx|roi|region|structure|struct|seg|segid|parcel|code|key)(?:$|[^a-z])|"
    r"(?:label|segid|structid|roiid|regionid)$",
    re.IGNORECASE,
)


def _sequences(got: Any) -> dict[str, dict[str, Any]]:
    """The identifier-like sequences of one loaded file: family -> {position: value}.

    Families: a numbered-row table's numeric column named as an identifier (``column 'Label'``, positions are
    rows); the first row of a table without a header (``first row``, positions are columns); a JSON list's text
    leaf (``fits[*].name``, positions are indices), each value its digest.
    """
    out: dict[str, dict[str, Any]] = {}
    if got.kind == "table" and not got.meta.get("key_columns"):
        headed = got.meta.get("header", True) is not False
        named: dict[str, bool] = {}  # column -> named as an identifier (a table may have 10^5 cells)
        for name, value in got.values.items():
            row, _, column = name.partition("/")
            if headed and named.setdefault(column, bool(_ID_NAME.search(column))):
                out.setdefault(f"column {column!r}", {})[row] = float(value)
            elif not headed and row == "0":
                out.setdefault("first row", {})[column] = float(value)
    elif got.kind == "scalars":
        for name, digest in (got.meta.get("text") or {}).items():
            indices = _INDEX.findall(name)
            if indices:
                out.setdefault(_INDEX.sub("[*]", name), {})[",".join(indices)] = digest
    return {k: v for k, v in out.items() if _identifiers(v.values())}


def _integer_rows(got: Any) -> bool:
    """Whether a table without a header holds whole numbers below its first row (streamline counts)."""
    return all(float(v).is_integer() for n, v in got.values.items() if not n.startswith("0/"))


def _identifiers(values: Iterable[Any]) -> bool:
    """Unique, and whole numbers when numbers: what identifies rows, columns or list elements."""
    seen = list(values)
    if len(seen) < 2 or len(set(seen)) < len(seen):
        return False
    return all(not isinstance(v, float) or v.is_integer() for v in seen)


def mixed_identifiers(files: dict[str, list[Any]]) -> str | None:
    """Why observations named by position would mix quantities across subjects, or None.

    Parameters
    ----------
    files : dict of str to list
        Each subject's loaded files (:class:`~reprovip.readers.Loaded`).

    Returns
    -------
    str or None
        A sentence naming the family (a column, the first row, a list's text leaf), the position and two
        subjects, and how to name the observations by what they are; None when every subject holds the same
        identifiers at the same positions, or none are found.
    """
    # A first row over whole numbers in every file (a connectome of streamline counts) is data like the rest
    headless = [got for loaded in files.values() for got in loaded if got.meta.get("header", True) is False]
    counts = bool(headless) and all(_integer_rows(got) for got in headless if got.kind == "table")
    # A subject's sequence: the same in each of its files, else not an identifier of that subject's layout
    per: dict[str, dict[str, dict[str, Any]]] = {}
    for subject, loaded in files.items():
        seqs = [_sequences(got) for got in loaded]
        common = {f: s for f, s in seqs[0].items() if all(other.get(f) == s for other in seqs[1:])} if seqs else {}
        for family, seq in common.items():
            if not (counts and family == "first row"):
                per.setdefault(family, {})[subject] = seq
    for family, by_subject in sorted(per.items()):
        subjects = sorted(by_subject)
        first = subjects[0]
        for other in subjects[1:]:
            a, b = by_subject[first], by_subject[other]
            shared = sorted(set(a) & set(b), key=_position_key)
            agree = [p for p in shared if a[p] == b[p]]
            differ = [p for p in shared if a[p] != b[p]]
            if agree and differ:
                return _message(family, differ[0], a[differ[0]], b[differ[0]], first, other)
    return None


def _position_key(position: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in position.split(","))


def _message(family: str, position: str, a: Any, b: Any, first: str, other: str) -> str:
    """The sentence of :func:`mixed_identifiers`: what differs where, and the fix."""
    if family.startswith("column "):
        column = family[len("column ") :]
        return (
            f"the rows are numbered, and {family} holds {a:g} in {first}'s row {position} but {b:g} in {other}'s: "
            "rows of one number are different things in different subjects, so each observation would mix them; "
            f"declare `key_columns: [{column[1:-1]}]` in the output's declaration"
        )
    if family == "first row":
        return (
            f"the table has no header (its first row is numbers), and that row holds {a:g} in {first}'s column "
            f"{position} but {b:g} in {other}'s: columns of one number are different things in different subjects "
            "(ids in place of a header?), so each observation would mix them; write column names that are not "
            "numbers (`label_2`), or one row per id with a key column"
        )
    return (
        f"{family} differs between subjects at list position [{position}] ({first} against {other}) while other "
        "positions agree: the list holds different things at one index in different subjects, so each observation "
        'would mix them; write the list as an object keyed by that name ({"GSH": {...}})'
    )
