"""Bit-for-bit verdicts from stored hashes alone: no output file is read.

Identity uses the semantic hash when the reader defines one (decoded image + the header fields that matter,
canonical JSON, normalised tables), so a gzip timestamp is not a difference; byte identity is reported too.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from reprovip.analyze.design import Design, Record, damaged
from reprovip.errors import MD5_ONLY

NONDETERMINISM_HINTS = {
    "threads": "nondeterminism under multithreading",
    "seed": "an unseeded (or seed-dependent) random generator",
    "perturb": "numerical instability: a few ULPs of input noise change the result",
    "blas": "a BLAS kernel that is not reproducible from run to run",
}


def record_key(r: Record) -> str:
    """What identity compares: the semantic hash, else the bytes' hash (a missing file equals nothing)."""
    return r.semantic_hash or r.blob or f"missing:{id(r)}"


def decoded(r: Record) -> bool:
    """Whether the stored file of ``r`` could be decoded as its declared kind when it was hashed.

    A file whose reader failed (cut, header only, garbage, a ``.nii.gz`` that is no gzip) has an ``error`` and
    only its bytes' hash: equal bytes in every execution support no identity, since nothing was read from them
    (a review's truncated images in every execution read "1 of 1 outputs bit-for-bit identical"). A file known by
    its record's MD5 alone (:data:`~reprovip.errors.MD5_ONLY`) was never there to decode: its bytes are what
    compares, as the record ingested them.
    """
    return r.error is None or r.error == MD5_ONLY


def _stored(r: Record) -> bool:
    """Whether ``r`` has a stored file to compare: written, and not lost or changed in the store since (the
    store's damage is no finding of the application's: the output is not analysable, `outputs readable`)."""
    return bool(r.blob) and not damaged(r)


def _cell_records(design: Design, subject: str, cell: tuple[str, ...]) -> list[Record]:
    return [r for (c, _), r in design.grid[subject].items() if c == cell and _stored(r)]


def _agree(records: list[Record]) -> bool | None:
    """Whether ``records`` are identical: None when that is not established (fewer than two, or files no reader
    could decode, the same in each), False when they differ or only some of them decode (a file that opens in
    one execution and not in another is not reproducible)."""
    broken = sum(not decoded(r) for r in records)
    if len({record_key(r) for r in records}) > 1 or 0 < broken < len(records):
        return False
    return None if len(records) < 2 or broken else True


def _overall(flags: list[bool | None]) -> bool | None:
    """False if any flag is False, else None if there is no flag or one is None (undecodable files), else True."""
    if False in flags:
        return False
    return True if flags and None not in flags else None


def bitwise_summary(design: Design) -> dict[str, Any]:
    """Per cell and per factor identity, with a sentence for each factor that changes the result.

    Identity is a tri-state: True (every compared execution agrees), False (some differ, or a file decodes in
    some executions of a subject and not in others), None (not established: no subject has two stored
    executions, or some stored files could not be decoded as the output's kind). None is never to be shown
    as identical; ``not_compared`` says why.

    Returns
    -------
    dict
        ``identical`` (every execution of each subject agrees, semantically), ``bytes_identical``,
        ``repetitions_identical`` (within every subject x condition), ``not_compared`` (why identity is None, or
        None), ``undecodable`` (stored files no reader could decode), ``decoded_in_some`` (subjects whose file
        decodes in some executions only), ``compared_subjects``, ``cells`` (one entry per subject x condition),
        ``conditions`` (identical cells per condition) and ``factors`` (per factor: within-level identity per
        level, between-level differences, ``changes_result`` and ``explanation``).
    """
    cells, per_condition = [], {}
    subject_flags, byte_flags, cell_flags = [], [], []
    undecodable, decoded_in_some = 0, []
    lost = 0  # stored files the store lost or changed since the run: no identity stands without them
    compared = 0  # subjects with two stored executions or more: none, and "identical" is vacuous
    for s in design.subjects:
        every = [r for r in design.grid[s].values() if _stored(r)]
        lost += sum(r.blob is not None and damaged(r) for r in design.grid[s].values())
        compared += len(every) >= 2
        broken = sum(not decoded(r) for r in every)
        undecodable += broken
        if 0 < broken < len(every):
            decoded_in_some.append(s)
        if len(every) >= 2:  # a subject with one execution compares nothing, and says nothing of the others
            subject_flags.append(_agree(every))
            byte_flags.append(len({r.blob for r in every}) <= 1)
        for cell in design.cells:
            recs = _cell_records(design, s, cell)
            ck = _cond_key(design, cell)
            agree = _agree(recs)
            cells.append(
                dict(
                    subject=s,
                    condition=ck,
                    n=len(recs),
                    distinct_bytes=len({r.blob for r in recs}),
                    distinct_semantic=len({record_key(r) for r in recs}),
                    identical=agree,
                )
            )
            if agree is not None:  # one execution, none, or undecodable files: the cell compares nothing (a review)
                cell_flags.append(agree)
                pc = per_condition.setdefault(ck, {"cells": 0, "identical_cells": 0})
                pc["cells"] += 1
                pc["identical_cells"] += agree
    # a subject's undecodable lone file, or none compared: no identity stands on files that were not read
    identical = None if (undecodable or lost) and _overall(subject_flags) else _overall(subject_flags)
    not_compared = None
    if identical is None:
        not_compared = (
            f"{undecodable} stored file(s) could not be decoded as the output's kind: equal bytes of files nothing "
            "was read from prove no identity"
            if undecodable
            else f"{lost} stored file(s) are missing or changed in the store since the run: the others' agreement "
            "proves no identity"
            if lost
            else "no subject has two stored executions of this output"
        )
    quiet, sporadic = [], []
    for c in design.cells:
        pc = per_condition.get(_cond_key(design, c), {"cells": 0, "identical_cells": 0})
        differing = pc["cells"] - pc["identical_cells"]
        if differing == 0 and pc["cells"]:
            quiet.append(c)
        elif differing < SPORADIC * pc["cells"]:
            sporadic.append(c)  # a few flaky subjects: no property of the condition (see _factor_effect)
    fresh_noisy = _fresh_noisy(design)
    factors = {f: _factor_effect(design, j, fresh_noisy) for j, (f, _) in enumerate(design.factors)}
    nondeterminism = _culprits(design, quiet, sporadic, per_condition)
    for f in nondeterminism["combined_factors"]:
        # Its differing cells are the combination's: "sporadic, too few to tie to threads" beside "only under the
        # combination threads=2,seed=2" contradicted it (a review)
        said = factors[f]["explanation"].split("; ")
        factors[f]["explanation"] = "; ".join(p for p in said if not p.endswith(f"too few to tie to {f}"))
    return dict(
        nondeterminism=nondeterminism,
        repetitions=design.k,
        identical=identical,
        # not established either where identity is not: equal bytes nothing was read from read "identical (bytes)"
        bytes_identical=False if False in byte_flags else None if identical is None else True,
        repetitions_identical=None if identical is None else _overall(cell_flags),
        not_compared=not_compared,
        undecodable=undecodable,
        decoded_in_some=decoded_in_some,
        compared_subjects=compared,
        cells=cells,
        conditions=per_condition,
        factors=factors,
    )


def copied_levels(design: Design) -> list[dict[str, str]]:
    """The factor levels whose stored files are another level's, file for file, in every subject, where
    repetitions differ: a run rarely makes nondeterministic bytes again, so those results may be a copy (review E:
    `compare` of a current study holding a `cp -a` of the baseline's results read "within the envelope (max |z|
    0)"). Each ``{factor, level, copy_of}``; only ingested results (an execution reprovip ran wrote its own
    files), and a deterministic application may repeat its bytes, so it is not named; one seeded by its
    repetition's number may too, so it is a warning (ingest's evidence of a copy fails)."""
    found = []
    for j, (name, levels) in enumerate(design.factors):
        for a, b in itertools.combinations(levels, 2):
            same, noisy = True, False
            for s in design.subjects:
                for cell in design.cells:
                    if cell[j] != a:
                        continue
                    other = (*cell[:j], b, *cell[j + 1 :])
                    mine = sorted(r.blob for r in _cell_records(design, s, cell))
                    copies = _cell_records(design, s, other)
                    theirs = sorted(r.blob for r in copies)
                    same &= bool(mine) and mine == theirs and all(r.ingested for r in copies)
                    noisy |= len(set(mine)) > 1
            if same and noisy:
                found.append(dict(factor=name, level=str(b), copy_of=str(a)))
    return found


def tied(differing: int, cells: int, quiet_cells: int, tests: int = 1) -> bool:
    """Whether ``differing`` of ``cells`` (subject, condition) cells with differing repetitions, beside
    ``quiet_cells`` cells where none differ, tie the difference to what sets them apart: every cell differs, or
    the one-sided Fisher exact test's p (every differing cell falling on one side by chance) is at most
    :data:`ALPHA` / ``tests`` (Bonferroni over the factors). Sporadic flakiness of an application whose factors
    change nothing named threads or seed in up to 8 of 10 designs of 4 subjects (a condition's 2 of 4 subjects
    beside 0 of 4, p = 0.21; half of one level's 8 cells beside none of another's, p = 0.038 for one of 2
    factors: a review); a level under which every execution differs is what nondeterminism looks like.

    Examples
    --------
    >>> tied(4, 8, 8, tests=2), tied(6, 8, 8, tests=2), tied(2, 4, 4), tied(2, 2, 2)
    (False, True, False, True)
    """
    if not differing or not quiet_cells:
        return False
    if differing == cells:
        return True
    return math.comb(cells, differing) / math.comb(cells + quiet_cells, differing) <= ALPHA / max(tests, 1)


ALPHA = 0.05


def _culprits(
    design: Design,
    quiet: list[tuple[str, ...]],
    sporadic: list[tuple[str, ...]],
    per_condition: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """Which factor levels make repetitions disagree, found condition by condition.

    A condition whose repetitions differ is explained by the factor in which it differs from a neighbouring
    condition (one factor apart) whose repetitions agree: with quiet ``seed=42,threads=1``, a noisy
    ``seed=42,threads=2`` blames ``threads=2`` and a noisy ``seed=random,threads=1`` blames ``seed=random``.
    A ``sporadic`` condition (repetitions differ for fewer than half of its subjects) blames nothing, and
    neither does a noisy one whose differing cells are too few beside a quiet neighbour's to be tied to it
    (:func:`tied`): it is sporadic too.
    """

    def counts(c: tuple[str, ...]) -> tuple[int, int]:
        pc = per_condition.get(_cond_key(design, c), {"cells": 0, "identical_cells": 0})
        return pc["cells"] - pc["identical_cells"], pc["cells"]

    def apart(c: tuple[str, ...], q: tuple[str, ...]) -> list[int]:
        return [j for j, (a, b) in enumerate(zip(c, q, strict=True)) if a != b]

    # a condition with no subject's two executions compared is neither (review A: one execution per subject under
    # threads=2 read "repetitions differ under threads=2 (0 of 0 subjects)")
    uncompared = [c for c in design.cells if not counts(c)[1]]
    noisy = [c for c in design.cells if c not in quiet and c not in sporadic and c not in uncompared]
    untied = []  # half or more of its subjects differ, too few beside its quiet neighbours' to tie to a level
    for c in list(noisy):
        neighbours = [q for q in quiet if len(apart(c, q)) == 1]
        if neighbours and not any(tied(*counts(c), counts(q)[1], len(design.factors)) for q in neighbours):
            noisy.remove(c)
            untied.append(c)
    blamed: dict[str, set[str]] = {}
    unexplained, combined = [], []
    involved: set[str] = set()  # the factors of the combinations that alone are quiet
    for c in noisy:
        found = set()
        for q in quiet:
            diff = apart(c, q)
            if len(diff) == 1 and tied(*counts(c), counts(q)[1], len(design.factors)):
                f, _ = design.factors[diff[0]]
                blamed.setdefault(f, set()).add(c[diff[0]])
                found.add(f)
        if not found:
            unexplained.append(_cond_key(design, c))
        elif len(found) > 1:  # each of its levels alone is quiet: the combination is the cause
            combined.append(_cond_key(design, c))
            involved.update(found)
    parts = []
    for f, levels in blamed.items():
        hint = NONDETERMINISM_HINTS.get(f, f"nondeterminism that depends on {f}")
        parts.append(f"{f}={'/'.join(sorted(levels))} ({hint})")
    text = ""
    if quiet and noisy:
        text = (
            f"repetitions agree under {', '.join(_cond_key(design, q) for q in quiet)} but differ under "
            f"{', '.join(_cond_key(design, c) for c in noisy)}"
        )
        if parts:
            text += ": blamed on " + "; ".join(parts)
    if sporadic:
        text += "; " if text else ""
        under = f" under {', '.join(_cond_key(design, c) for c in sporadic)}" if design.factors else ""
        text += (
            f"repetitions differ sporadically{under} (for fewer than half of the subjects): run-to-run flakiness"
            + (", not tied to a level" if design.factors else "")
        )
    if untied:
        text += "; " if text else ""
        shown = ", ".join(f"{_cond_key(design, c)} ({counts(c)[0]} of {counts(c)[1]} subjects)" for c in untied)
        text += (
            f"repetitions differ under {shown}: too few beside the conditions where they agree to tie them to a "
            "level (one-sided Fisher test): run-to-run flakiness, or a level's effect that more subjects would show"
        )
    if uncompared and text:  # beside what the others show (alone, "every condition" is said downstream)
        text += "; " if text else ""
        text += (
            f"no subject has two executions under {', '.join(_cond_key(design, c) for c in uncompared)}: not compared"
        )
    interaction = ""
    if combined:
        interaction = (
            f"repetitions differ only under the combination {'; '.join(combined)}: each of its levels alone "
            "gives identical repetitions (an interaction)"
        )
    return dict(
        quiet=[_cond_key(design, q) for q in quiet],
        noisy=[_cond_key(design, c) for c in noisy],
        blamed={f: sorted(v) for f, v in blamed.items()},
        unexplained=unexplained,
        combined=combined,
        combined_factors=sorted(involved),
        interaction=interaction,
        explanation=text,
    )


def _cond_key(design: Design, cell: tuple[str, ...]) -> str:
    return ",".join(f"{f}={lv}" for (f, _), lv in zip(design.factors, cell, strict=True)) or "-"


SPORADIC = 0.5  # a level is named nondeterministic when at least half of its (subject, condition) cells differ
FRESH_SEEDS = ("random", "unseeded")  # seed levels (list form) under which every execution has its own seed


def _fresh_seeds(design: Design, cell: tuple[str, ...], j: int) -> bool:
    """Whether ``cell`` holds a ``seed`` level that draws a fresh seed per execution, in a factor other than
    ``j`` (-1: any)."""
    return any(f == "seed" and cell[i] in FRESH_SEEDS for i, (f, _) in enumerate(design.factors) if i != j)


def _fresh_noisy(design: Design) -> bool:
    """Whether executions under a fresh seed disagree somewhere: the seed moves the result, so two such
    conditions that differ may differ by their seeds alone. Where they never do, the seed is inert."""
    return any(
        len({record_key(r) for r in _cell_records(design, s, cell)}) > 1
        for s in design.subjects
        for cell in design.cells
        if _fresh_seeds(design, cell, -1)
    )


def _factor_effect(design: Design, j: int, fresh_noisy: bool) -> dict[str, Any]:
    name, levels = design.factors[j]
    within: dict[str, dict[str, int]] = {lv: {"cells": 0, "identical_cells": 0} for lv in levels}
    between_pairs = between_diff = 0
    for s in design.subjects:
        reps: dict[tuple[str, ...], set[str]] = {}
        for cell in design.cells:
            recs = _cell_records(design, s, cell)
            if not any(decoded(r) for r in recs):  # none stored, or none decodable: nothing to compare
                continue
            keys = {record_key(r) for r in recs}
            reps[cell] = keys
            if len(recs) >= 2:  # one execution compares nothing: "identical for threads=2", never repeated (review A)
                within[cell[j]]["cells"] += 1
                within[cell[j]]["identical_cells"] += len(keys) == 1
        # Pairs of conditions differing only in this factor, both internally identical; not under a seed level
        # that draws a fresh seed per execution when that seed moves the result: two such conditions ran on
        # other seeds whatever this factor does (a review: threads "changes the result", its 4 differing
        # comparisons all under seed=random, where repetitions agreed by chance). Nor seed=42 against
        # seed=random itself: a subject whose fresh seeds agreed by chance read "seed changes the result ... each
        # of two conditions whose repetitions agree" beside "differs for seed=random" (review F2).
        for a, b in itertools.combinations(reps, 2):
            if fresh_noisy and (_fresh_seeds(design, a, -1) or _fresh_seeds(design, b, -1)):
                continue
            if all(x == y for i, (x, y) in enumerate(zip(a, b, strict=True)) if i != j) and a[j] != b[j]:
                if len(reps[a]) == 1 and len(reps[b]) == 1:
                    between_pairs += 1
                    between_diff += reps[a] != reps[b]
    noisy = [lv for lv, w in within.items() if w["identical_cells"] < w["cells"]]
    quiet = [lv for lv, w in within.items() if w["cells"] and w["identical_cells"] == w["cells"]]
    if design.k == 1 and between_diff:
        # One execution per condition: its "repetitions" agree vacuously, and run-to-run noise would make the
        # levels differ just as well (a review: pure noise blamed on threads, "pin the thread count").
        return dict(
            levels=within,
            nondeterministic_levels=[],
            between_pairs=between_pairs,
            between_differ=between_diff,
            changes_result=False,
            explanation=f"{between_diff} of {between_pairs} comparisons between {name} levels differ, but with one "
            f"repetition per condition a {name} effect cannot be told from run-to-run noise: add repetitions",
        )
    parts = []
    differing = {lv: within[lv]["cells"] - within[lv]["identical_cells"] for lv in noisy}
    if noisy and quiet and max(differing[lv] / within[lv]["cells"] for lv in noisy) < SPORADIC:
        # A few flaky runs that happen to fall under one level are no property of that level (a review: one
        # flaky execution of 120 named both threads=1 and seed=42 as causes, each "differs for" its level).
        runs = sum(differing.values())
        cells = sum(within[lv]["cells"] for lv in noisy)
        parts.append(
            f"repetitions differ for {name}={'/'.join(noisy)} only, but in {runs} of its {cells} (subject, "
            f"condition) cells: sporadic, too few to tie to {name}"
        )
        noisy = []
    if noisy and quiet:
        hint = NONDETERMINISM_HINTS.get(name, f"nondeterminism that depends on {name}")
        parts.append(f"identical for {name}={'/'.join(quiet)}, differs for {name}={'/'.join(noisy)}: {hint}")
    if between_diff:
        parts.append(
            f"{name} changes the result: {between_diff} of {between_pairs} comparisons between levels differ, "
            f"each of two conditions whose repetitions agree ({name} effect)"
        )
    return dict(
        levels=within,
        nondeterministic_levels=noisy,
        between_pairs=between_pairs,
        between_differ=between_diff,
        changes_result=bool((noisy and quiet) or between_diff),
        explanation="; ".join(parts),
    )
