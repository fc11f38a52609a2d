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

import itertools
import re
from collections.abc import Iterable
from typing import Any

_INDEX = re.compile(r"\[(\d+)\]")
_LAST_INDEX = re.compile(r"^(.*)\[(\d+)\]\.([^.\[\]]+)$")  # `fits[3].name`: a field of a list's element
# A name is an identifier's by its words (camelCase and snake_case split): its last word is one of _ID_WORDS
# (`Label`, `LabelID`, `SegId`, `ROIs`, `region_index`), or its first is an entity and its last a way to number
# it (`LabelValue`, `parcel_no`). Not a measurement of an entity (`roi_nvox`, `region_volume`).
_ID_WORDS = frozenset(
    "label id idx index roi region structure struct seg segid segment parcel node tract code key".split()
)
_ENTITIES = frozenset("label roi region structure struct seg segment parcel node tract".split())
_NUMBERING = frozenset("id idx index value number no num code key label".split())


def named_as_identifier(name: str) -> bool:
    """Whether a column or field name names identifiers (its words: see the comment of ``_ID_WORDS``).

    Examples
    --------
    >>> [named_as_identifier(n) for n in ("Label", "LabelID", "ROIs", "LabelValue", "roi_nvox", "volume")]
    [True, True, True, True, False, False]
    """
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()) if w]
    words = [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words]
    if not words:
        return False
    return words[-1] in _ID_WORDS or (words[0] in _ENTITIES and words[-1] in _NUMBERING)


def _sequences(got: Any) -> dict[str, dict[str, Any]]:
    """The identifier-like sequences of one loaded file: family -> {position: value}.

    Families: a numbered-row table's numeric column named as an identifier (``column 'Label'``, positions are
    rows) and its text cells, row by row (``text columns``: `hemi` and `structure` together); the first row of a
    table without a header (``first row``, positions are columns); a field of a JSON list's elements, text or a
    number named as an identifier (``fits[*].name``, positions are indices), when numbers sit in those elements.
    Text values are their digests.
    """
    out: dict[str, dict[str, Any]] = {}
    if got.kind == "table" and not got.meta.get("key_columns"):
        headed = got.meta.get("header", True) is not False
        named: dict[str, bool] = {}  # column -> named as an identifier (a table may have 10^5 cells)
        for name, value in got.values.items():
            row, _, column = name.partition("/")
            if headed and named.setdefault(column, named_as_identifier(column)):
                out.setdefault(f"column {column!r}", {})[row] = float(value)
            elif not headed and row == "0":
                out.setdefault("first row", {})[column] = float(value)
        texts: dict[str, list[tuple[str, str]]] = {}
        for name, digest in sorted((got.meta.get("text") or {}).items()):
            row, _, column = name.partition("/")
            texts.setdefault(row, []).append((column, digest))
        if headed and texts:
            out["text columns"] = {row: tuple(cells) for row, cells in texts.items()}
    elif got.kind == "scalars":
        numbered = {m[1] + f"[{m[2]}]" for n in got.values if (m := _LAST_INDEX.match(n))}
        leaves = [(n, v) for n, v in (got.meta.get("text") or {}).items()]
        leaves += [(n, float(v)) for n, v in got.values.items() if named_as_identifier(n.rsplit(".", 1)[-1])]
        for name, value in leaves:
            m = _LAST_INDEX.match(name)
            if m and f"{m[1]}[{m[2]}]" in numbered:  # numbers sit in that element: they would be mixed
                out.setdefault(_INDEX.sub("[*]", name), {})[",".join(_INDEX.findall(name))] = value
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
        # Every pair of distinct sequences (the subjects grouped by theirs: few groups, however many subjects)
        groups: dict[tuple[tuple[str, Any], ...], str] = {}
        for subject in sorted(by_subject):
            groups.setdefault(tuple(sorted(by_subject[subject].items())), subject)
        for (a_key, first), (b_key, other) in itertools.combinations(groups.items(), 2):
            a, b = dict(a_key), dict(b_key)
            shared = sorted(set(a) & set(b), key=_position_key)
            differ = [p for p in shared if a[p] != b[p]]
            agree = len(differ) < len(shared)
            moved = bool(set(a[p] for p in differ) & set(b[p] for p in differ))  # one id at two places
            if differ and (agree or moved):
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
    if family == "text columns":
        columns = ", ".join(column for column, _ in a)
        return (
            f"the rows are numbered, and their text ({columns}) differs between {first}'s row {position} and "
            f"{other}'s: rows of one number are different things in different subjects, so each observation would "
            f"mix them; declare `key_columns: [{columns}]` in the output's declaration"
        )
    return (
        f"{family} differs between subjects at list position [{position}] ({first} against {other}): the list "
        "holds different things at one index in different subjects, so each observation would mix them; write the "
        'list as an object keyed by that name ({"GSH": {...}})'
    )
