"""Read every execution's output once and assemble observation arrays ``(n_obs, n_subjects, *levels, k)``."""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.analyze.bitwise import record_key
from reprovip.analyze.design import Design, Record
from reprovip.analyze.identifiers import mixed_identifiers
from reprovip.errors import ReaderError
from reprovip.readers import check_compatible, load
from reprovip.readers.arrays import npy_values
from reprovip.readers.base import Loaded, count_nonfinite, text_digest
from reprovip.readers.compat import different_rows, examples

MAX_OBSERVATIONS = 200_000


@dataclass
class Observations:
    """Named observations of the complete subjects; ``errors`` explains every execution left out."""

    names: list[str]
    values: np.ndarray  # (n_obs, n_subjects, *levels, k)
    subjects: list[str]
    errors: list[dict[str, Any]] = field(default_factory=list)
    nonfinite: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> what is non-finite, where
    text_differs: list[str] = field(default_factory=list)  # text leaves or cells that differ within a subject
    inexact_differs: list[str] = field(default_factory=list)  # integers beyond 2**53 that differ, equal as floats
    number_like: dict[str, str] = field(default_factory=dict)  # column of a differing text cell -> why it is text
    # Observations that not every compared version writes (a field added or removed), or writes with another
    # shape: name -> {version: "number" | "text" | "shape 3x4"}, for the versions that write it. Not compared.
    version_layout: dict[str, dict[str, str]] = field(default_factory=dict)
    # Observations some complete subjects write in none of their executions (a FreeSurfer table without a
    # structure that subject lacks): name -> those subjects; their values are NaN there, and not measured.
    absent: dict[str, list[str]] = field(default_factory=dict)
    # Table cells written empty (`n/a`, `NA`, blank) in every execution of every subject that writes them
    # (fMRIPrep's first row of a derivative): no value anywhere, so no observation.
    blank: list[str] = field(default_factory=list)
    # Every file read is a table with a header and no row: nothing written, as an empty file (a review's
    # header-only CSVs in every execution read "identical", exit 0)
    no_rows: bool = False
    # Observations a few subjects write as 0 in every execution, beside others' non-zero values that vary: name
    # -> those subjects, left out of its metrics (:func:`zero_as_absent`)
    zero: dict[str, list[str]] = field(default_factory=dict)
    # Observations and text fields the study's `ignore` patterns left out, by name
    ignored: list[str] = field(default_factory=list)
    # Subjects whose text files hold the same lines in another order in some executions (:func:`_reordered`)
    reordered: list[str] = field(default_factory=list)
    # Subjects whose tables hold the same rows in another order, by how their numbers are read (:func:`_reordered_rows`)
    reordered_rows: dict[str, list[str]] = field(default_factory=dict)
    # Of them, read by key: each execution's rows whatever their order, by grid position (:func:`keyed_rows`)
    keyed_rows: dict[str, dict[Any, str]] = field(default_factory=dict)
    # Ignored observations whose values differ between executions of a subject; of them, those that repeat within
    # each condition and change between conditions, as results do (:func:`_result_like`)
    ignored_differ: list[str] = field(default_factory=list)
    ignored_result_like: list[str] = field(default_factory=list)
    # Categorical text fields whose repetitions of one condition wrote other words (:func:`_words_differ`)
    categorical: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Executions whose text file ends without a line break where the output's other files end with one
    # (:func:`cut_short`)
    cut: list[dict[str, Any]] = field(default_factory=list)
    # Arrays a subject's executions store with other number types (:func:`stored_types`)
    stored_types: list[dict[str, Any]] = field(default_factory=list)


def _elements(name: str, arr: np.ndarray) -> Iterator[tuple[str, Any]]:
    """The observations an array holds: ``name`` itself when it is one value, else ``name[i,j]`` per element."""
    if arr.size == 1:
        yield name, arr.reshape(())[()]
    else:
        for idx, v in np.ndenumerate(arr):
            yield f"{name}[{','.join(map(str, idx))}]", v


def _flatten(values: dict[str, np.ndarray]) -> dict[str, float]:
    return {n: float(v) for name, arr in values.items() for n, v in _elements(name, np.asarray(arr, np.float64))}


def _exact(got: Any) -> dict[str, str]:
    """The numbers of a loaded file that float64 cannot hold exactly, as text: the readers' ``meta["exact"]``,
    the elements of integer arrays beyond 2**53 and those of long double arrays (``float128``) that are no
    float64."""
    exact = dict(got.meta.get("exact") or {})
    for name, arr in got.values.items():
        a = np.asarray(arr)
        if a.dtype.kind in "iu" and a.size and int(np.abs(a).max()) > 2**53:
            exact.update((n, str(int(v))) for n, v in _elements(name, a) if float(v) != int(v))
        elif a.dtype.kind == "f" and a.dtype.itemsize > 8:
            exact.update((n, repr(v)) for n, v in _elements(name, a) if np.float64(v) != v)
    return exact


def _inexact_differs(
    raw: dict[str, dict[Any, tuple[Any, Any]]], loaded: dict[str, dict[Any, dict[str, float]]]
) -> list[str]:
    """Observations whose integers differ between executions of a subject while their float64 values are
    equal: no metric can see that difference."""
    differs: set[str] = set()
    for s, per in raw.items():
        exact = [_exact(got) for got, _ in per.values()]
        floats = [loaded.get(s, {}).get(pos) or {} for pos in per]
        for name in set().union(*exact):
            if len({e.get(name) for e in exact}) > 1 and len({f.get(name) for f in floats}) == 1:
                differs.add(name)
    return sorted(differs)


def stored_types(raw: Raw, limit: int = 20) -> list[dict[str, Any]]:
    """The arrays (NumPy, MATLAB, GIfTI) that executions of one subject store with other number types, each
    ``{name, subject, types: {type: [(condition, repetition), ...]}}``, at most ``limit``.

    Values are compared as stored: a float64 result one execution wrote as float32 differs only by its
    rounding, which an ICC reads as agreement, and an int16 beside a float64 of equal values read as "a string
    or a word" differed (review AR). Byte order is no type: big- and little-endian arrays of equal values agree.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> got = lambda dtype: NS(values={"data": np.zeros(2, dtype)})
    >>> rec = lambda r: NS(condition_key="-", repetition=r)
    >>> raw = {"s1": {(("-",), 0): (got("<f8"), rec(1)), (("-",), 1): (got(">f8"), rec(2))},
    ...        "s2": {(("-",), 0): (got("f8"), rec(1)), (("-",), 1): (got("f4"), rec(2))}}
    >>> stored_types(raw)
    [{'name': 'data', 'subject': 's2', 'types': {'float64': [('-', 1)], 'float32': [('-', 2)]}}]
    """
    found: list[dict[str, Any]] = []
    for s, per in raw.items():
        types: dict[str, dict[str, list[tuple[str, int]]]] = {}
        for got, rec in per.values():
            for name, value in got.values.items():
                if isinstance(value, np.ndarray):
                    where = (rec.condition_key, rec.repetition)
                    types.setdefault(name, {}).setdefault(value.dtype.name, []).append(where)
        found += [dict(name=n, subject=s, types=t) for n, t in sorted(types.items()) if len(t) > 1]
    return found[:limit]


def _signature(got: Any) -> tuple[Any, ...]:
    return (got.kind, tuple(sorted((n, np.shape(v)) for n, v in got.values.items())))


def _described(arr: np.ndarray) -> str:
    return "number" if arr.size == 1 else "shape " + "x".join(map(str, arr.shape))


Raw = dict[str, dict[tuple[tuple[str, ...], int], tuple[Any, Record]]]


def too_many(path: Path, n: int) -> str:
    """The error of a file with more than :data:`MAX_OBSERVATIONS` values. `kind: image` is NIfTI only: a .npy
    or a CSV told to declare it could not (a review)."""
    return (
        f"{path}: {n} values, more than the {MAX_OBSERVATIONS} a table, array or text output is analysed with; "
        "write a voxel map as NIfTI (`kind: image`: the voxelwise analysis), split the file, or declare the output "
        "`kind: bytes` to compare it bit for bit"
    )


def ignoring(got: Loaded, patterns: list[str], matched: set[str]) -> Loaded:
    """``got`` without the observations (and text fields, exact numbers) whose names match one of ``patterns``
    (shell-style, ``fnmatch``: ``start_epoch``, ``timing.*``, ``*/elapsed_s``), the names taken added to
    ``matched``: run-time values a study declares not to judge (review VC: an epoch time stamp in a JSON failed
    every comparison of a release, and only the whole output could be left out).

    Examples
    --------
    >>> got = Loaded("scalars", {"snr": np.array(20.0), "start_epoch": np.array(1.7e9)}, {"text": {"host": "a1"}})
    >>> seen = set()
    >>> sorted(ignoring(got, ["start_*", "host"], seen).values), sorted(seen)
    (['snr'], ['host', 'start_epoch'])
    """
    if not patterns:
        return got
    hit = [n for n in [*got.values, *(got.meta.get("text") or {})] if any(fnmatchcase(n, p) for p in patterns)]
    if not hit:
        return got
    matched.update(hit)
    drop = set(hit)
    values = {n: v for n, v in got.values.items() if n not in drop}
    # what each left-out value was, as a digest: the analysis names those that differ (review QC: a 1000-fold
    # change of an ignored `EchoTime` was listed beside ignored values that never changed)
    texts = got.meta.get("text") or {}
    left = {n: text_digest(got.values[n].tobytes()) if n in got.values else texts[n] for n in hit}
    meta = dict(got.meta, n_nonfinite=count_nonfinite(values), ignored_values=left)
    for key in ("text", "exact", "number_like_text", "words"):
        if isinstance(meta.get(key), dict):
            meta[key] = {n: v for n, v in meta[key].items() if n not in drop}
    return Loaded(got.kind, values, meta)


def _load(
    design: Design, kind: str, key_columns: list[str] | None, ignore: list[str], matched: set[str]
) -> tuple[Raw, list[dict[str, Any]]]:
    """Every readable file of ``design`` as ``raw[subject][position] = (loaded, record)``, without the
    observations ``ignore`` names (:func:`ignoring`); the others as errors."""
    errors: list[dict[str, Any]] = []
    raw: Raw = {}
    for s in design.subjects:
        for pos, rec in design.grid[s].items():
            where = dict(subject=s, condition=rec.condition_key, repetition=rec.repetition)
            if rec.path is None:
                errors.append(dict(where, error=rec.error or "missing"))
                continue
            try:
                if kind == "array" and (n := npy_values(rec.path)) is not None and n > MAX_OBSERVATIONS:
                    raise ReaderError(too_many(rec.path, n))  # from its header, before reading it whole
                got = ignoring(load(rec.path, kind=kind, key_columns=key_columns), ignore, matched)
                raw.setdefault(s, {})[pos] = (got, rec)
            except ReaderError as exc:
                errors.append(dict(where, error=str(exc)))
    return raw, errors


def _named(got: Any) -> bool:
    """Whether a file's observations are named by what they are (JSON paths, a table's row keys and header),
    not by where they stand (a log's ``line9:0``, a table's row number): only then is a field one version adds
    told apart from everything after it shifting."""
    keyed = got.kind == "table" and got.meta.get("key_columns") and got.meta.get("header", True) is not False
    return got.kind == "scalars" or bool(keyed)


def _numbered_rows(got: Any) -> set[str] | None:
    """The row numbers of a table whose rows are numbered but whose columns are named by its header (a time
    series: fMRIPrep's confounds), else None. A column one subject adds is told apart from the others then, as
    long as the rows are the same: a row one subject adds would shift every row after it."""
    if got.kind != "table" or got.meta.get("key_columns") or got.meta.get("header", True) is False:
        return None
    return {n.split("/", 1)[0] for n in got.values}


def _layouts(raw: Raw) -> dict[str, tuple[Any, Record]]:
    """Each compared version's reference file (``""`` when the records carry none, or when observations are
    named by position): the first file with the layout most of that version's files have, so one odd
    execution is the one reported."""
    split = all(_named(got) for per in raw.values() for got, _ in per.values())
    by_version: dict[str, list[tuple[Any, Record]]] = {}
    for per in raw.values():
        for got, rec in per.values():
            by_version.setdefault((rec.version or "") if split else "", []).append((got, rec))
    refs = {}
    for version, pairs in by_version.items():
        common = Counter(_signature(got) for got, _ in pairs).most_common(1)[0][0]
        refs[version] = next(pair for pair in pairs if _signature(pair[0]) == common)
    return refs


def _version_layout(refs: dict[str, tuple[Any, Record]], raw: Raw) -> dict[str, dict[str, str]]:
    """What compared versions do not share: numeric observations no file of some version holds (or that
    versions hold with other shapes), and text fields no file of some version writes; name -> {version: what it
    writes}. A version that added a field made every one of its files unreadable, and a +30% change in a
    shared field went unmeasured (a review)."""
    if len(refs) < 2:
        return {}
    # What any file of each version writes, not only its reference file: a field some subjects write (a lesion
    # volume) is written by both versions when the same subjects write it in both (a review's 10 -> 100 went
    # unmeasured, "written only by the current version").
    written: dict[str, dict[str, np.ndarray]] = {v: {} for v in refs}
    for per in raw.values():
        for got, rec in per.values():
            seen = written[rec.version or ""]
            for name, value in got.values.items():
                seen.setdefault(name, np.asarray(value))
    for v, (got, _) in refs.items():  # a shape as the reference file has it
        written[v].update((n, np.asarray(a)) for n, a in got.values.items())
    out: dict[str, dict[str, str]] = {}
    for name in set().union(*written.values()):
        there = {v: w[name] for v, w in sorted(written.items()) if name in w}
        if len(there) < len(refs) or len({a.shape for a in there.values()}) > 1:
            out[name] = {v: _described(a) for v, a in there.items()}
    texts: dict[str, set[str]] = {v: set() for v in refs}
    for per in raw.values():
        for got, rec in per.values():
            texts[rec.version or ""].update(got.meta.get("text") or {})
    for name in set().union(*texts.values()):
        # Text in one version only, or a number in one and text in another; not a number every version writes
        # that some subject writes as text (`null`): compared, that subject's files then differ (a review's
        # `gm: null` in one subject dropped `gm`, +30% in the others, from the comparison: a pass).
        numbers = all(name in w for w in written.values())
        if name in out or (not numbers and any(name not in t for t in texts.values())):
            out.setdefault(name, {}).update((v, "text") for v, t in sorted(texts.items()) if name in t)
    return dict(sorted(out.items()))


def version_layout(
    design: Design, kind: str, *, key_columns: list[str] | None = None, ignore: list[str] | None = None
) -> dict[str, dict[str, str]]:
    """The observations that not every compared version writes alike (:attr:`Observations.version_layout`):
    name -> {version: ``"number"``, ``"text"`` or ``"shape 3x4"``} for the versions that write it.

    Versions are those of the records (:attr:`Record.version`, set by ``reprovip compare``); with none, or one,
    the result is empty.

    Examples
    --------
    >>> from reprovip.analyze.design import build_design
    >>> version_layout(build_design([]), "scalars")
    {}
    """
    raw, _ = _load(design, kind, key_columns, list(ignore or ()), set())
    return _version_layout(_layouts(raw), raw)


def gather(
    design: Design, kind: str, *, key_columns: list[str] | None = None, ignore: list[str] | None = None
) -> Observations:
    """Load each record of ``design``; unreadable or incompatible files become errors, not crashes.

    Executions are compared with the most common layout (observation names and shapes), so one odd
    execution is the one reported, whichever is read first. Records of compared versions
    (:attr:`Record.version`) are held to their own version's layout: the observations every version writes
    are compared, the others named in ``version_layout``. The observations ``ignore`` names are left out
    (:func:`ignoring`), said in ``ignored``.
    """
    matched: set[str] = set()
    raw, errors = _load(design, kind, key_columns, list(ignore or ()), matched)
    # a file cut short is no value to judge (review R7: its lost digits counted in the ICC, and the study read
    # "not reproducible: run-to-run flakiness"): its subject is left out, as for an unreadable file
    cut = cut_short(raw) if kind in ("table", "text") else []
    errors += [dict(c, error="the file is cut short (it ends unlike its condition's other files)") for c in cut]
    if (mixed := mixed_identifiers({s: [got for got, _ in per.values()] for s, per in raw.items()})) is not None:
        raise ReaderError(mixed)
    refs = _layouts(raw)
    unshared = _version_layout(refs, raw)
    # Observations named by what they are: each subject's files are held to that subject's own layout, so a row
    # or field one subject writes in none of its executions is absent there (said, measured over the others)
    # rather than every file of that subject "unreadable" (a FreeSurfer aseg.stats without a structure).
    named = all(_named(got) or _numbered_rows(got) is not None for per in raw.values() for got, _ in per.values())
    loaded: dict[str, dict[tuple[tuple[str, ...], int], dict[str, float]]] = {}
    empty: dict[str, set[str]] = {}
    for s, per in raw.items():
        own = _layouts({s: per}) if named else refs
        agree = len({_signature(got) for got, _ in per.values()}) == 1
        # List positions or array shapes of its own: another element at the same place, held to the study's;
        # when its executions agree on them, that is the subject's layout, not a failure (a lesion list)
        if not _relatable(own, refs) or (not named and agree and not _relatable(_layouts({s: per}), refs)):
            if agree:
                errors += [_positions_of_subject(rec, got, refs) for got, rec in per.values()]
                continue
            own = refs
        # Cells every execution of the subject writes empty (`n/a`, `NA`, blank): no observation of that subject
        empties = [set(got.meta.get("empty", ())) for got, _ in per.values()]
        # ... and those another execution writes as text and none as a number (a `notes` column empty in some runs):
        # text there, as before a column empty in every row was read as NaN cells (review F); one an execution
        # writes as a number stays, its numbers compared (review J: dropped from every execution, 2.5 and 99.0
        # under one condition passed)
        texts = set().union(*(set(got.meta.get("text") or ()) for got, _ in per.values()))
        numbers = set().union(*(set(got.values) - e for (got, _), e in zip(per.values(), empties, strict=True)))
        empty[s] = set.intersection(*empties) | ((set().union(*empties) & texts) - numbers)
        for pos, (got, rec) in per.items():
            where = dict(subject=s, condition=rec.condition_key, repetition=rec.repetition)
            ref = own[rec.version or ""] if len(own) > 1 else next(iter(own.values()))
            try:
                # cells written empty in every execution, or as text in another (see `empty`): no observation
                drop = empty[s]
                check_compatible(_without(ref[0], drop), _without(got, drop), path_a=ref[1].path, path_b=rec.path)
                flat = _flatten({n: v for n, v in got.values.items() if n not in unshared and n not in empty[s]})
                if len(flat) > MAX_OBSERVATIONS:
                    raise ReaderError(too_many(rec.path, len(flat)))
                loaded.setdefault(s, {})[pos] = flat
            except ReaderError as exc:
                errors.append(dict(where, error=str(exc)))
        if named:
            errors.extend(_one_layout(per, loaded.get(s, {})))
    bad = {e["subject"] for e in errors}
    subjects = [s for s in design.subjects if s not in bad and loaded.get(s, {}).keys() == design.positions]
    written = {s: next(iter(loaded[s].values())).keys() for s in subjects}  # a subject's files: one layout
    names = sorted(set().union(*written.values()))
    # A failure written alike every time ({"status": "failed"}, or a runtime and no result) is no subject measured:
    # against the observations two subjects or more write, not every subject's together (one subject's 40 spike
    # columns, fMRIPrep's motion outliers, made every other subject "fewer than half": a review), nor the median
    # subject's (four failed subjects of six made the median, and the fit was measured on two: a review)
    shared = Counter(n for s in subjects for n in written[s])
    typical = sum(c >= 2 for c in shared.values()) if len(subjects) > 1 else len(names)
    # A keyed table (its rows are entities: clusters, lesions) with no row in every execution of a subject is
    # that subject's result, "nothing above threshold": its rows are absent there, said (a review's cluster table
    # made the study "not analysable: did this execution fail?")
    none_listed = {
        s for s in subjects if key_columns and all(got.meta.get("n_rows") == 0 for got, _ in raw[s].values())
    }
    # ... nor one whose rows are whole (every column of a row) in a keyed table: it lists fewer entities (a
    # subject with one lesion where others have three read "did this execution fail?": review RD)
    whole = _whole_rows(written) if kind == "table" and _keyed(raw) else set()
    if names and (
        few := [s for s in subjects if 2 * len(written[s]) < typical and s not in none_listed and s not in whole]
    ):
        for s in few:
            errors += [_few_numbers(rec, written[s], names, typical) for _, rec in raw[s].values()]
        subjects = [s for s in subjects if s not in few]
        names = sorted(set().union(*(written[s] for s in subjects)))
    blank = sorted(set().union(*(empty[s] for s in subjects)) - set(names))  # empty wherever written
    absent = {n: [s for s in subjects if n not in written[s]] for n in names}
    absent = {n: a for n, a in absent.items() if a}
    values = np.full((len(names), len(subjects), *design.levels, design.k), np.nan)
    index = {c: i for i, c in enumerate(design.cells)}
    for si, s in enumerate(subjects):
        for (cell, rep), flat in loaded[s].items():
            ci = np.unravel_index(index[cell], design.levels) if design.levels else ()
            values[(slice(None), si, *ci, rep)] = [flat.get(n, np.nan) for n in names]
    _nan_as_absent(names, values, subjects, absent)
    zero = zero_as_absent(names, values, subjects, absent)
    # (observation, subject): finite in every execution
    finite = np.isfinite(values.reshape(len(names), len(subjects), math.prod(values.shape[2:]))).all(axis=2)
    at = {n: i for i, n in enumerate(names)}
    for n, gone in absent.items():
        finite[at[n], [subjects.index(s) for s in gone]] = True  # absent, not NaN
    nonfinite = {}
    for i in np.flatnonzero(~finite.all(axis=1)):
        there = [si for si, s in enumerate(subjects) if s not in absent.get(names[i], ())]
        nonfinite[names[i]] = nonfinite_pattern(names[i], values[i, there], [subjects[si] for si in there], design)
    categorical = _words_differ(raw, set(unshared))
    ignored_differ = _differing(raw, "ignored_values", set())
    result_like = _result_like(raw, ignored_differ)
    reordered = _reordered(raw, loaded)
    text = [n for n in _text_differs(raw, set(unshared)) if n not in categorical]  # said as such, not twice
    return Observations(
        names,
        values,
        subjects,
        errors,
        nonfinite,
        text,
        _inexact_differs(raw, loaded),
        _number_like_text(raw, text),
        unshared,
        absent,
        blank,
        zero=zero,
        ignored=sorted(matched),
        categorical=categorical,
        ignored_differ=ignored_differ,
        ignored_result_like=result_like,
        reordered=reordered,
        reordered_rows=(moved := _reordered_rows(raw)),
        keyed_rows=keyed_rows(raw, moved.get("keyed") or []),
        cut=cut,
        stored_types=stored_types(raw),
        no_rows=bool(raw) and all(got.meta.get("n_rows") == 0 for per in raw.values() for got, _ in per.values()),
    )


def zero_as_absent(
    names: list[str], values: np.ndarray, subjects: list[str], absent: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The subjects to leave out of each observation's metrics for writing it as 0 in every execution, where
    every other subject writes a non-zero number in every execution and some of them vary between executions:
    fewer than half of the subjects, at least two others left. A value an application failed to compute, written
    as 0: kept, its exact agreement and its distance from the others made a study whose other subjects fail
    read "sufficiently reproducible" (review DG: ICC(A,1) 0.99 with one such subject of six, a failing 0.954
    without it). Where no other subject varies, it changes no verdict and is kept.

    Examples
    --------
    Four subjects of two executions: s2 writes `a` as 0, the others vary; `b` is 0 for s2 and s3 (half: kept);
    `c` varies nowhere:

    >>> v = np.array([[[5.0, 5.1], [0.0, 0.0], [7.0, 7.2], [6.0, 6.0]],
    ...               [[5.0, 5.1], [0.0, 0.0], [0.0, 0.0], [6.0, 6.1]],
    ...               [[5.0, 5.0], [0.0, 0.0], [7.0, 7.0], [6.0, 6.0]]])
    >>> zero_as_absent(["a", "b", "c"], v, ["s1", "s2", "s3", "s4"], {})
    {'a': ['s2']}
    """
    if not names or not subjects:
        return {}
    flat = values.reshape(len(names), len(subjects), -1)
    zero_all = (flat == 0).all(axis=2)
    number_all = ((flat != 0) & np.isfinite(flat)).all(axis=2)
    with np.errstate(invalid="ignore"):  # inf - inf: no variation said (the subject is no number there anyway)
        varies = np.ptp(flat, axis=2) > 0
    out = {}
    for i in np.flatnonzero(zero_all.any(axis=1)):
        here = [j for j, s in enumerate(subjects) if s not in absent.get(names[i], ())]
        zero = [j for j in here if zero_all[i, j]]
        rest = [j for j in here if not zero_all[i, j]]
        if 2 * len(zero) < len(here) and len(rest) >= 2 and number_all[i, rest].all() and varies[i, rest].any():
            out[names[i]] = [subjects[j] for j in zero]
    return out


def _nan_as_absent(names: list[str], values: np.ndarray, subjects: list[str], absent: dict[str, list[str]]) -> None:
    """Add to ``absent`` the subjects whose every execution holds NaN for an observation every execution of the
    others holds a number for: they have no value, as a cell left empty or a row they lack (PyRadiomics writes
    `nan` for an empty mask: review RD's study read "not analysable" where the same cells left empty read
    "with warnings"), unless most of what the subject writes is NaN in every execution: a failure written
    alike. NaN in some executions only, or an infinity, stays a finding.

    Examples
    --------
    Three subjects of two executions: s2 has no `a` (NaN in both), `b` is NaN in one execution of s1 (a
    finding), `c` has numbers everywhere; then s2 NaN for everything (a failure written alike):

    >>> v = np.array([[[1.0, 1.1], [np.nan, np.nan], [2.0, 2.1]], [[1.0, np.nan], [3.0, 3.0], [2.0, 2.0]],
    ...               [[5.0, 5.0], [6.0, 6.1], [7.0, 7.0]]])
    >>> absent = {}
    >>> _nan_as_absent(["a", "b", "c"], v, ["s1", "s2", "s3"], absent); absent
    {'a': ['s2']}
    >>> v[:, 1] = np.nan
    >>> absent = {}
    >>> _nan_as_absent(["a", "b", "c"], v, ["s1", "s2", "s3"], absent); absent
    {}
    """
    if not names or not subjects:
        return
    flat = values.reshape(len(names), len(subjects), -1)
    nan_all, finite_all = np.isnan(flat).all(axis=2), np.isfinite(flat).all(axis=2)
    # ... as long as the subject writes numbers for most of what it writes: a subject whose every field is NaN
    # in every execution is a failure written alike, as `{"status": "failed"}` is (review RG), not a subject
    # measured over nothing
    written = np.array([[s not in absent.get(n, ()) for s in subjects] for n in names], dtype=bool)
    failed = 2 * (nan_all & written).sum(axis=0) > written.sum(axis=0)
    for i in np.flatnonzero((nan_all | finite_all).all(axis=1) & finite_all.any(axis=1) & nan_all.any(axis=1)):
        gone = set(absent.get(names[i], ()))
        if add := [s for si, s in enumerate(subjects) if nan_all[i, si] and s not in gone and not failed[si]]:
            absent[names[i]] = [s for s in subjects if s in gone or s in add]


def _keyed(raw: Raw) -> bool:
    """Whether every file read is a table keyed by a column (its rows named by what they are)."""
    return all(got.meta.get("key_columns") for per in raw.values() for got, _ in per.values())


def _whole_rows(written: dict[str, Any]) -> set[str]:
    """The subjects each of whose rows (``<row>/<column>`` observations) has the columns most rows have.

    Examples
    --------
    >>> sorted(_whole_rows({"a": ["l1/x", "l1/y", "l2/x", "l2/y"], "b": ["l1/x", "l1/y"], "c": ["l1/x"]}))
    ['a', 'b']
    """
    rows: dict[str, dict[str, set[str]]] = {}
    for s, found in written.items():
        for n in found:
            row, _, column = n.rpartition("/")
            rows.setdefault(s, {}).setdefault(row, set()).add(column)
    shapes = Counter(frozenset(cols) for per in rows.values() for cols in per.values())
    if not shapes:
        return set()
    columns = shapes.most_common(1)[0][0]
    return {s for s, per in rows.items() if all(cols == columns for cols in per.values())}


_POSITION = re.compile(r"\[\d")  # a JSON list's element, or an array's: named by where it stands


def _relatable(own: dict[str, tuple[Any, Record]], refs: dict[str, tuple[Any, Record]]) -> bool:
    """Whether a subject's own layout may stand beside the study's: it differs only by observations named by
    what they are, never by list positions (an MRS fit list without Cr put Cho at Cr's place: `fits[1].amp`
    mixed both, ICC 0.998 where Cr alone had 0.02, a review), nor by numbered rows, and holds the shared ones
    with the same shape."""
    for version, (got, _) in own.items():
        ref = (refs.get(version) or next(iter(refs.values())))[0]
        if _numbered_rows(got) != _numbered_rows(ref):
            return False
        if _resized(got, ref):
            return False
        if any(np.shape(got.values[n]) != np.shape(ref.values[n]) for n in got.values.keys() & ref.values.keys()):
            return False
    return True


def _resized(got: Any, ref: Any) -> list[str]:
    """The observations named by a list position that one of the files ``got`` and ``ref`` writes and the other
    does not, because a list they both write has another length there. A JSON list the other file does not
    write at all (its parent key is absent: a region a subject lacks, with its `ci[0]` and `ci[1]`) is absent
    there, as a named field is (it made the subject's every file "not readable": a review); for files that
    do not list their lists' lengths (`meta["lists"]`), any position written by one only counts."""
    one_side = [n for n in got.values.keys() ^ ref.values.keys() if _POSITION.search(n)]
    mine, theirs = got.meta.get("lists"), ref.meta.get("lists")
    if mine is None or theirs is None:
        return one_side
    return [
        n
        for n in one_side
        if any((p := n[: m.start()]) in mine and p in theirs and mine[p] != theirs[p] for m in _POSITION.finditer(n))
    ]


def _positions_of_subject(rec: Record, got: Any, refs: dict[str, tuple[Any, Record]]) -> dict[str, Any]:
    """The error of a subject's file whose list positions are not the other subjects' while every execution of
    the subject writes the same (a lesion list as long as the subject has lesions): a position names no entity
    across subjects, so it cannot be compared between them; "compare their logs" sent a review looking for a
    failure that was not there."""
    ref = (refs.get(rec.version or "") or next(iter(refs.values())))[0]
    differ = sorted(_resized(got, ref))
    differ += [
        f"{n} of shape {np.shape(got.values[n])} where most have {np.shape(ref.values[n])}"
        for n in sorted(got.values.keys() & ref.values.keys())
        if np.shape(got.values[n]) != np.shape(ref.values[n])
    ]
    return dict(
        subject=rec.subject,
        condition=rec.condition_key,
        repetition=rec.repetition,
        error=f"{rec.path}: its lists, numbered rows or arrays have other lengths than most subjects' "
        f"({examples(differ)}), the same in every execution of subject {rec.subject}: a list's positions name no "
        "entity across subjects (element 3 of one subject is not element 3 of another), so they cannot be "
        "compared between them; write the elements with a name or an id (a table keyed by an id column, or named "
        "fields) to measure them",
    )


def _few_numbers(rec: Record, written: Any, names: list[str], typical: int) -> dict[str, Any]:
    """The error of a subject's file that holds fewer than half of the observations two subjects or more write
    (``typical``): a subject whose every execution failed alike (``{"status": "failed"}``, or a run time and
    no result) is no subject measured over the few fields it wrote (a review's read "sufficiently reproducible")."""
    missing = [n for n in names if n not in written]
    held = "no number was read from it" if not written else f"it holds {len(written)} observation(s)"
    return dict(
        subject=rec.subject,
        condition=rec.condition_key,
        repetition=rec.repetition,
        error=f"{rec.path}: {held} where {typical} are written by two subjects or more ({examples(missing)} missing); "
        "did this execution fail? check its log",
    )


def _one_layout(per: dict[Any, tuple[Any, Record]], flats: dict[Any, dict[str, float]]) -> list[dict[str, Any]]:
    """Errors for a subject's files whose observations (those every version writes) are not the ones most of
    its files hold, each removed from ``flats``: executions of one subject, under any version, write one layout."""
    layouts = Counter(frozenset(f) for f in flats.values())
    if len(layouts) < 2:
        return []
    common = layouts.most_common(1)[0][0]
    errors = []
    for pos in [p for p, f in flats.items() if f.keys() != common]:
        rec, got = per[pos][1], flats.pop(pos)
        missing, extra = sorted(common - got.keys()), sorted(got.keys() - common)
        parts = [f"{what} {examples(names)}" for what, names in (("missing", missing), ("extra", extra)) if names]
        errors.append(
            dict(
                subject=rec.subject,
                condition=rec.condition_key,
                repetition=rec.repetition,
                error=f"{rec.path}: its observations differ from the subject's other executions': {'; '.join(parts)}; "
                + different_rows(missing, extra),
            )
        )
    return errors


def _words_differ(raw: dict[str, dict[Any, tuple[Any, Any]]], unshared: set[str]) -> dict[str, dict[str, Any]]:
    """The categorical text fields (``meta["words"]``: ``include``, ``converged``) whose repetitions of one
    condition wrote other words: name -> the words, the first subject and condition where they differ. A
    categorical result that is not reproducible (review QC: `qc_decision` flipping from include to exclude between
    repetitions under threads=2 only warned, as a time stamp does). Across levels of a factor a word may change
    with what the factor sets (a BLAS name): that stays a text difference."""
    found: dict[str, dict[str, Any]] = {}
    for s, per in raw.items():
        cells: dict[tuple[str, str | None], list[Any]] = {}
        for got, rec in per.values():  # a compared version (`compare`) is a condition of its own
            cells.setdefault((rec.condition_key, rec.version), []).append(got.meta)
        for (condition, _), metas in cells.items():
            written = [m.get("words") or {} for m in metas]
            texts = [m.get("text") or {} for m in metas]
            for name in sorted(set().union(*written) - unshared - set(found)):
                values = {w.get(name) for w in written}
                # a word in every repetition of the cell, and not the same one
                if None not in values and len(values) > 1 and all(name in t for t in texts):
                    found[name] = dict(words=sorted(values), subject=s, condition=condition)
    return found


def _without(got: Loaded, names: set[str]) -> Loaded:
    """``got`` without the observations ``names`` (itself when it holds none of them)."""
    if not names or names.isdisjoint(got.values):
        return got
    return Loaded(got.kind, {n: v for n, v in got.values.items() if n not in names}, got.meta)


def _reordered(raw: dict[str, dict[Any, tuple[Any, Any]]], loaded: dict[str, dict[Any, dict[str, float]]]) -> list[str]:
    """The subjects whose text files (``meta["lines_digest"]``, the lines whatever their order) hold the same
    lines in every execution while the numbers read by position differ: lines printed in another order (review
    TX: per-region lines printed by threads as they finished read "threads changes the result" on a region whose
    value never changed)."""
    found = []
    for s, per in raw.items():
        digests = {got.meta.get("lines_digest") for got, _ in per.values()}
        flats = [loaded.get(s, {}).get(pos) for pos in per]
        # numbers compared as written (repr): NaN equals no NaN, and identical files holding `nan` read "the same
        # lines in another order" (review I)
        read = {tuple(sorted((k, repr(v)) for k, v in (f or {}).items())) for f in flats}
        if len(digests) == 1 and None not in digests and len(read) > 1:
            found.append(s)
    return found


def keyed_rows(raw: dict[str, dict[Any, tuple[Any, Any]]], subjects: list[str]) -> dict[str, dict[Any, str]]:
    """For ``subjects`` (whose keyed tables hold the same rows in another order in some executions), each
    execution's rows whatever their order (``meta["rows_digest"]``), by grid position: what identity compares
    for them (review C: a keyed table written in another order under threads=2 read "threads changes the result:
    5 of 5 comparisons between levels differ", its share of the variance 1e-16)."""
    return {s: {pos: got.meta["rows_digest"] for pos, (got, _) in raw[s].items()} for s in subjects}


def _reordered_rows(raw: dict[str, dict[Any, tuple[Any, Any]]]) -> dict[str, list[str]]:
    """The subjects two of whose tables (``meta["rows_digest"]``, the rows whatever their order) hold the same
    rows in another order, by how their numbers are read — ``keyed`` (by a key column: the two read alike) or
    ``by_position`` (no key column: numbers read by row number moved). A keyed table written in another order
    warned "the difference is in what no observation measures" (review EX3)."""
    found: dict[str, list[str]] = {}
    for s, per in raw.items():
        by_rows: dict[str, set[str]] = {}
        for got, rec in per.values():
            by_rows.setdefault(got.meta.get("rows_digest"), set()).add(record_key(rec))
        if None not in by_rows and any(len(files) > 1 for files in by_rows.values()):
            keyed = all(got.meta.get("key_columns") for got, _ in per.values())
            found.setdefault("keyed" if keyed else "by_position", []).append(s)
    return found


def _ends_a_line(path: Path) -> bool | None:
    """Whether a text file's last byte ends a line (``\\n`` or ``\\r``, in UTF-16 too); None when it is empty,
    compressed or unreadable (nothing to tell)."""
    try:
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                return None
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size == 0:
                return None
            f.seek(max(0, size - 2))
            tail = f.read()
    except OSError:
        return None
    return tail.rstrip(b"\x00")[-1:] in (b"\n", b"\r") if tail.rstrip(b"\x00") else None


def cut_short(raw: dict[str, dict[Any, tuple[Any, Any]]]) -> list[dict[str, Any]]:
    """The executions whose text file is cut short (an interrupted copy or download, a full disk): in a condition
    (and version) whose files end some with a line break and some without, the fewer kind (those without, on a
    tie). A CSV whose last number lost its last digits (`99.175` for `99.17523`) read "sufficiently reproducible:
    run-to-run flakiness" (review IN); a file cut at a line boundary among files a tool never ends ends with one
    (review R7). A tool that never ends its last line does so in every file of a condition, and nothing is said:
    a version that stopped writing it is a format, not a cut (review R6)."""
    cells: dict[tuple[str, str | None], list[tuple[Any, bool]]] = {}
    for per in raw.values():
        for _, rec in per.values():
            if (end := _ends_a_line(Path(rec.path))) is not None:
                cells.setdefault((rec.condition_key, rec.version), []).append((rec, end))
    out = []
    for ends in cells.values():
        with_break = sum(end for _, end in ends)
        if 0 < with_break < len(ends):
            odd = 2 * with_break < len(ends)  # the kind to name: with a line break when fewer files have one
            out += [
                dict(subject=rec.subject, condition=rec.condition_key, repetition=rec.repetition)
                for rec, end in ends
                if end is odd
            ]
    return out


def _text_differs(raw: dict[str, dict[Any, tuple[Any, Any]]], unshared: set[str]) -> list[str]:
    """The non-numeric leaves or cells (``meta["text"]`` of the readers) whose value is not the same in every
    execution of some subject: what no observation measures, which a flipping string would otherwise hide.
    A field some version never writes (``unshared``) is named in ``version_layout`` instead."""
    return _differing(raw, "text", unshared)


def _result_like(raw: dict[str, dict[Any, tuple[Any, Any]]], names: list[str]) -> list[str]:
    """Of the ignored ``names`` that differ, those whose value is the same in every repetition of each condition
    and differs between conditions (a version's): a result, not a time stamp that changes every run (review R5:
    `ignore: ["*time*"]` meant for a run time also took `time_to_peak_s`, which a release moved by 20%)."""
    found = []
    for name in names:
        repeat, changes = True, False
        for per in raw.values():
            by_cell: dict[tuple[str, str | None], set[Any]] = {}
            for got, rec in per.values():  # a compared version (`compare`) is a condition of its own
                cell = by_cell.setdefault((rec.condition_key, rec.version), set())
                cell.add((got.meta.get("ignored_values") or {}).get(name))
            repeat &= all(len(v) == 1 for v in by_cell.values())
            changes |= len(set().union(*by_cell.values())) > 1
        if repeat and changes:
            found.append(name)
    return found


def _differing(raw: dict[str, dict[Any, tuple[Any, Any]]], key: str, unshared: set[str]) -> list[str]:
    """The names of ``meta[key]`` (digests by name) whose digest is not the same in every execution of some
    subject, but those of ``unshared``."""
    differs: set[str] = set()
    for per in raw.values():
        texts = [got.meta.get(key) or {} for got, _ in per.values()]
        for name in set().union(*texts) - unshared:
            if len({t.get(name) for t in texts}) > 1:
                differs.add(name)
    return sorted(differs)


def _number_like_text(raw: dict[str, dict[Any, tuple[Any, Any]]], names: list[str]) -> dict[str, str]:
    """Why the differing text fields ``names`` look like numbers yet were read as text (``meta
    ["number_like_text"]`` of the readers: decimal commas the table reader would not guess, numbers with a
    unit or thousands separators, quoted numbers in JSON), by table column or JSON path."""
    fields = set(names) | {n.rsplit("/", 1)[-1] for n in names}
    why: dict[str, str] = {}
    for per in raw.values():
        for got, _ in per.values():
            why.update((c, w) for c, w in (got.meta.get("number_like_text") or {}).items() if c in fields)
    return why


def nonfinite_pattern(name: str, values: np.ndarray, subjects: list[str], design: Design) -> dict[str, Any]:
    """Where observation ``name`` (``(n_subjects, *levels, k)``) is NaN or infinite, and whether its executions
    agree: ``mixed`` when some subject's executions differ in that (a reproducibility finding), ``constant``
    when every execution of each subject has the same value (reproducible, but no metric can use it)."""
    flat = values.reshape(len(subjects), -1)
    bad = ~np.isfinite(flat)
    # A subject is mixed when its executions differ in finiteness or in which non-finite value they carry
    # (finite values that differ are ordinary variability, measured by the metrics elsewhere).
    tag = np.where(bad, np.where(np.isnan(flat), 0, np.sign(flat)), 2)
    mixed_subjects = [s for s, row in zip(subjects, tag, strict=True) if (row != row[0]).any()]
    cells = [(c, r) for c in design.cells for r in range(design.k)]
    where = []
    for si, s in enumerate(subjects):
        for j in np.flatnonzero(bad[si])[:3]:
            cell, rank = cells[j]
            rec = design.grid[s][(cell, rank)]
            where.append(
                dict(subject=s, condition=rec.condition_key, repetition=rec.repetition, value=str(flat[si, j]))
            )
    kinds = sorted({str(v) for v in flat[bad]})
    if mixed_subjects:
        first = where[[w["subject"] for w in where].index(mixed_subjects[0])]
        cond = "" if first["condition"] == "-" else f", condition {first['condition']}"
        message = (
            f"{name} is {first['value']} in subject {first['subject']}{cond}, repetition {first['repetition']}, "
            f"and differs in other executions of {len(mixed_subjects)} subject(s)"
        )
    else:
        message = (
            f"{name} is non-finite ({'/'.join(kinds)}) in every execution of {int(bad.any(axis=1).sum())} subject(s)"
        )
    return dict(
        pattern="mixed" if mixed_subjects else "constant",
        executions=int(bad.sum()),
        of=int(bad.size),
        values=kinds,
        mixed_subjects=mixed_subjects,
        where=where[:20],
        message=message,
    )
