"""The design of a study's stored outputs: which subjects, factors, levels and repetitions, and where each
execution's file sits in the ``(n_subjects, *levels, k)`` grid."""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprovip.store import BlobStore


@dataclass(frozen=True)
class Record:
    """One stored output of one execution."""

    subject: str
    labels: tuple[tuple[str, str], ...]  # (factor, level) pairs
    condition_key: str
    repetition: int
    path: Path | None
    blob: str | None
    semantic_hash: str | None
    error: str | None
    # The compared version (`reprovip compare`'s baseline or current) whose layout the file is held to: a field
    # the new version adds or drops is named, not a reason to read none of its files.
    version: str | None = None
    # Stored by `ingest` (results made elsewhere): its files may be a copy of another execution's (a run's never)
    ingested: bool = False


@dataclass(frozen=True)
class Design:
    """The balanced grid the metrics need.

    ``factors`` holds only factors with at least two levels (a constant factor cannot explain anything).
    ``complete`` lists the subjects that have every cell x ``k`` repetitions readable, ``k`` being the count of
    repetitions most cells have; only they enter ICC and variance components (complete-case analysis,
    documented in docs/analysis.md).
    """

    subjects: tuple[str, ...]
    factors: tuple[tuple[str, tuple[str, ...]], ...]
    k: int
    grid: dict[str, dict[tuple[tuple[str, ...], int], Record]]  # subject -> ((levels...), rep index) -> record

    @property
    def levels(self) -> tuple[int, ...]:
        """Number of levels of each factor."""
        return tuple(len(lv) for _, lv in self.factors)

    @property
    def factor_names(self) -> tuple[str, ...]:
        """Names of the factors."""
        return tuple(f for f, _ in self.factors)

    @property
    def cells(self) -> list[tuple[str, ...]]:
        """Every condition as a tuple of levels, in C order."""
        import itertools

        return list(itertools.product(*[lv for _, lv in self.factors]))

    @property
    def positions(self) -> frozenset[tuple[tuple[str, ...], int]]:
        """The grid positions a subject fills: every condition x ``k`` repetitions."""
        return frozenset((c, i) for c in self.cells for i in range(self.k))

    def balanced(self, subject: str) -> bool:
        """Whether ``subject`` has exactly the design's executions: each condition ``k`` times, no more."""
        return self.grid[subject].keys() == self.positions

    @property
    def complete(self) -> tuple[str, ...]:
        """Subjects with every execution present and readable."""
        return tuple(
            s
            for s in self.subjects
            if self.balanced(s) and all(r.path is not None and r.error is None for r in self.grid[s].values())
        )


_INTEGER = re.compile(r"[+-]?\d+")
_DIGITS = re.compile(r"(\d+)")


def natural_key(level: str) -> tuple[Any, ...]:
    """Sort key of a level found in data (a folder name): its runs of digits compared as numbers, the rest as
    text, so that version strings order as released: ``1.9 < 1.10 < 2.0``, ``v2 < v10``, ``6.0.5 < 6.0.10``.

    Read as text, ``1.10`` came before ``1.9`` and became the baseline of the version envelope (a review); read as
    a decimal number, ``1.10`` is ``1.1``. A decimal level is therefore ordered by its parts too (``0.5`` before
    ``0.25``): declare the order in the study file when it matters.

    Examples
    --------
    >>> sorted(["1.10", "2.0", "1.9"], key=natural_key)
    ['1.9', '1.10', '2.0']
    >>> sorted(["v10", "v2", "v1.0"], key=natural_key)
    ['v1.0', 'v2', 'v10']
    """
    parts = _DIGITS.split(level)  # text, number, text, number, ..., text: types align position by position
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), level


def ordered_by_numbers(levels: list[str]) -> bool:
    """Whether the natural order of ``levels`` (:func:`natural_key`) is decided by numbers they hold, so that it
    can stand for the order of versions: between each level and the next, the first part that differs is a
    number (``1.9 < 1.10``), or the next goes on where the level ends with ``.`` or ``-`` and a number
    (``1 < 1.1``, ``6.0.5 < 6.0.5-1``).

    Words are not ordered by their numbers: ``new < old``, ``after < before``, ``dev < stable`` by text made the
    new version the baseline (a review); nor are ``2.0 < 2.0rc1`` (a release candidate after its release) and
    ``1 < 01`` (two names of one number). All integers are ordered by value.

    Examples
    --------
    >>> ordered_by_numbers(["1.10", "1.9", "2.0"]), ordered_by_numbers(["v2", "v10", "v2.1"])
    (True, True)
    >>> ordered_by_numbers(["old", "new"]), ordered_by_numbers(["2.0", "2.0rc1"]), ordered_by_numbers(["a1", "b1"])
    (False, False, False)
    """
    if all(_INTEGER.fullmatch(lv) for lv in levels):
        return len({int(lv) for lv in levels}) == len(set(levels))
    keys = [natural_key(lv)[0] for lv in sorted(set(levels), key=natural_key)]
    return all(_decided_by_number(a, b) for a, b in zip(keys, keys[1:], strict=False))


def _decided_by_number(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Whether natural keys ``a < b`` (text, number, text, ..., text) are ordered by a number."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return bool(i % 2) or (x == "" and i == len(a) - 1 and y in (".", "-") and len(b) > i + 1)
    return False  # alike but for trailing text, or two spellings of one number


def order_levels(levels: list[str], declared: list[str] | None) -> tuple[str, ...]:
    """The declared levels first, in their order; the others naturally (integers by value, signs included).

    Examples
    --------
    >>> order_levels(["1.10", "old", "1.9"], ["old"])
    ('old', '1.9', '1.10')
    """
    known = [lv for lv in declared or [] if lv in levels]
    rest = set(levels) - set(known)
    if all(_INTEGER.fullmatch(lv) for lv in rest):
        return tuple(known + sorted(rest, key=lambda lv: (int(lv), lv)))
    return tuple(known + sorted(rest, key=natural_key))


RESTORE = "restore `.reprovip/blobs` from a backup, or run the execution again (`reprovip run --force`)"


def _damaged(path: Path, size: int | None) -> str | None:
    """What happened to a stored blob since the run (gone, or another size than the catalog recorded), else None."""
    try:
        found = path.stat().st_size
    except FileNotFoundError:
        return "the stored copy is missing from the store (deleted after the run)"
    except OSError:
        return None  # unreadable: the reader says why
    if size is not None and found != size:
        return f"the stored copy was changed after the run ({found} bytes where {size} were stored)"
    return None


def damaged(record: Record) -> bool:
    """Whether the store lost, changed or replaced ``record``'s file since the run (:func:`records_by_output`):
    nothing of the application's to compare. A deleted blob of one execution read "can be read in some of their
    executions and not in others, which is not reproducible" (review A)."""
    return record.error is not None and record.error.endswith(RESTORE)


def records_by_output(rows: list[dict[str, Any]], blobs: BlobStore) -> dict[tuple[str, str], tuple[str, list[Record]]]:
    """Group catalog output rows by (output name, relative path) into records; value: (kind, records)."""
    out: dict[tuple[str, str], tuple[str, list[Record]]] = {}
    real_blobs = blobs.blobs.resolve()
    for r in rows:
        key = (r["name"], r["relpath"])
        labels = tuple((k, str(v)) for k, v in (r["condition"] or {}).items())
        # An output known only by the MD5 a Boutiques record gives has no file to read.
        path = blobs.path(r["blob"], r["suffix"] or "") if r.get("blob") and not r["blob"].startswith("md5:") else None
        error = r.get("error") if not r.get("missing") else "missing"
        if path is not None and (path.is_symlink() or path.resolve().parent.parent != real_blobs):
            # The store writes blobs as regular files in its own shard folders: a link (of the file or of its
            # folder) was put there by hand, and may point anywhere.
            path, error = None, f"{path}: the stored blob is a symbolic link, not read; {RESTORE}"
        elif path is not None and (damage := _damaged(path, r.get("size"))):
            # Deleted or changed after the run: "the execution probably failed before writing it" and "check its
            # permissions" blamed the application and the user for the store's damage (a review)
            path, error = None, f"{path}: {damage}; {RESTORE}"
        rec = Record(
            r["subject"],
            labels,
            r["condition_key"],
            int(r["repetition"]),
            path,
            r.get("blob"),
            r.get("semantic_hash"),
            error,
            ingested=r.get("source") == "ingest",
        )
        out.setdefault(key, (r["kind"], []))[1].append(rec)
    return _execution_named(_subject_named(out))


def _subject_named(
    groups: dict[tuple[str, str], tuple[str, list[Record]]],
) -> dict[tuple[str, str], tuple[str, list[Record]]]:
    """Join the files of one output that differ only by their subject's name (a glob ``*_dseg.nii.gz``
    matching BIDS names ``sub-01_dseg.nii.gz``, ``sub-02_dseg.nii.gz``...) under one path, the subject written
    ``{subject}``: each file of one subject was analysed as an output of its own, with one subject (a review).
    Only when every such file holds one subject, whose name it contains (:func:`subject_placeholder`)."""
    by_name: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in groups:
        by_name[key[0]].append(key)
    out = dict(groups)
    for name, keys in by_name.items():
        subjects = [{rec.subject for rec in groups[k][1]} for k in keys]
        if len(keys) < 2 or any(
            len(s) != 1 or subject_placeholder(k[1], next(iter(s))) == k[1] for s, k in zip(subjects, keys, strict=True)
        ):
            continue
        joined: dict[tuple[str, str], tuple[str, list[Record]]] = {}
        for (subject,), key in zip(subjects, keys, strict=True):
            kind, recs = out.pop(key)
            joined.setdefault((name, subject_placeholder(key[1], subject)), (kind, []))[1].extend(recs)
        out.update(joined)
    return out


def _execution_named(
    groups: dict[tuple[str, str], tuple[str, list[Record]]],
) -> dict[tuple[str, str], tuple[str, list[Record]]]:
    """Join the files of one output when each is one execution's and no execution wrote two (a name stamped with
    a process id or a time, ``qc_4711.json``): each was an output of its own, "not written by every
    execution", and 12 executions gave 12 failed outputs (a review). Joined under their common start and end
    around a ``*`` (``qc_*.json``)."""
    by_name: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in groups:
        by_name[key[0]].append(key)
    out = dict(groups)
    for name, keys in by_name.items():
        single = [k for k in keys if len(groups[k][1]) == 1]  # the others (a summary.json) stay as they are
        recs = [groups[k][1][0] for k in single]
        executions = {(r.subject, r.condition_key, r.repetition) for r in recs}
        kinds = {groups[k][0] for k in single}
        if len(single) < 2 or len(kinds) != 1 or len(executions) < len(recs):
            continue
        paths = [k[1] for k in single]
        head = os.path.commonprefix(paths)
        tail = os.path.commonprefix([p[len(head) :][::-1] for p in paths])[::-1]
        # cut at a word's edge: pids 4711 and 4712 gave `qc_471*.json`, a name that changed with the pids
        head, tail = re.sub(r"[A-Za-z0-9]+$", "", head), re.sub(r"^[A-Za-z0-9]+", "", tail)
        # A stamp two executions happened to share (a time in seconds: `qc_1700000000.json` written twice in one
        # second) joins too, when no execution wrote two such files: it kept the others from joining, "written by
        # every execution" failed and the study read "not reproducible" (a review)
        kind = kinds.pop()
        for k in keys:
            if k in single or groups[k][0] != kind or not (k[1].startswith(head) and k[1].endswith(tail)):
                continue
            if len(k[1]) <= len(head) + len(tail):
                continue
            theirs = {(r.subject, r.condition_key, r.repetition) for r in groups[k][1]}
            if len(theirs) == len(groups[k][1]) and not theirs & executions:
                executions |= theirs
                recs = recs + groups[k][1]
                single.append(k)
        for k in single:
            del out[k]
        out[(name, f"{head}*{tail}")] = (kind, recs)
    return out


def most_common_count(counts: Counter[int]) -> int:
    """The count most cells have, the largest on a tie (0 when none).

    Examples
    --------
    >>> most_common_count(Counter({3: 5, 2: 1})), most_common_count(Counter({1: 2, 2: 2})), most_common_count(Counter())
    (3, 2, 0)
    """
    return max(counts, key=lambda n: (counts[n], n), default=0)


def subject_placeholder(path: str, subject: str) -> str:
    """``path`` with its subject's name written ``{subject}``: the BIDS entity ``sub-<subject>`` when the path
    has it, else the name standing as a word of its own. Not every occurrence: subject ``01`` in
    ``ses-01/anat/sub-01_ses-01_vol.csv`` made ``ses-{subject}`` and joined sessions of other subjects into a
    bogus output, and subject ``1`` split ``T1w`` (a review).

    Examples
    --------
    >>> subject_placeholder("ses-01/anat/sub-01_ses-01_vol.csv", "01")
    'ses-01/anat/sub-{subject}_ses-01_vol.csv'
    >>> subject_placeholder("1_T1w.csv", "1"), subject_placeholder("sub-01_T1w.csv", "sub-01")
    ('{subject}_T1w.csv', '{subject}_T1w.csv')
    """
    word = r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])"
    entity = re.compile(word % ("sub-" + re.escape(subject)))
    if entity.search(path):
        return entity.sub("sub-{subject}", path)
    return re.sub(word % re.escape(subject), "{subject}", path)


def build_design(
    records: list[Record], declared: dict[str, list[str]] | None = None, *, k: int | None = None
) -> Design:
    """Place records in the grid; factor levels ordered as declared in the study, else naturally. ``k``: the
    repetitions per condition, when the executions that ran say so (a file a glob output matches in some of
    them only: counted from its files, 1 of 3 repetitions made the design's k 1, and a subject with 2 read
    "2 of 1", a review); else the count most cells have."""
    seen: dict[str, list[str]] = defaultdict(list)
    for rec in records:
        for f, lv in rec.labels:
            if lv not in seen[f]:
                seen[f].append(lv)
    factors = tuple((f, order_levels(lv, (declared or {}).get(f))) for f, lv in seen.items() if len(set(lv)) >= 2)
    names = [f for f, _ in factors]
    by_cell: dict[tuple[str, tuple[str, ...]], list[Record]] = defaultdict(list)
    for rec in records:
        d = dict(rec.labels)
        by_cell[(rec.subject, tuple(d.get(f, "") for f in names))].append(rec)
    # Repetitions per condition: the count most cells have (the largest on a tie), so that one subject with an
    # extra repetition is the one left out (and named), not every other subject.
    if k is None:
        k = most_common_count(Counter(len(v) for v in by_cell.values()))
    grid: dict[str, dict[tuple[tuple[str, ...], int], Record]] = defaultdict(dict)
    for (subject, cell), recs in by_cell.items():
        # Repetitions are exchangeable: their rank in the cell is their position.
        for i, rec in enumerate(sorted(recs, key=lambda r: r.repetition)):
            grid[subject][(cell, i)] = rec
    subjects = tuple(sorted(grid))
    return Design(subjects, factors, k, {s: grid[s] for s in subjects})
