"""Register outputs that already exist on disk as executions, so they can be analysed without running.

A pattern such as ``results/{version}/{subject}/run-{repetition}`` names the folders holding one execution's
outputs: ``{subject}`` is required, ``{repetition}`` optional (digits only, default 1) and every other
placeholder becomes a factor whose levels are the folder names found, ordered as the analysis orders them
(declared in the study file first, the others naturally). A version factor (``version``, ``environments``)
whose baseline, its first level, would be chosen by the text of names such as ``old`` and ``new`` is refused
until the study file declares the order.
"""

from __future__ import annotations

import filecmp
import fnmatch
import glob
import json
import os
import re
import shutil
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprovip.analyze.design import natural_key, order_levels, ordered_by_numbers
from reprovip.criteria.rules import ENVELOPE_FACTORS
from reprovip.errors import InputError
from reprovip.execute.sandbox import COPIED, OutputDecl, output_matches, stream_file
from reprovip.plan.expand import execution_id
from reprovip.spec.models import RESERVED_FACTOR_NAMES
from reprovip.spec.subjects import SubjectsLeftOut, bids_non_subject, few, is_utf8
from reprovip.store import BlobStore, RunLock
from reprovip.store.blobs import file_hash, suffix_of

if TYPE_CHECKING:
    from reprovip.study import Study

_PH = re.compile(r"\{([A-Za-z_][A-Za-z0-9_\-]*)\}")


@dataclass
class IngestSummary:
    """What ``ingest`` found."""

    executions: int = 0
    complete: int = 0
    incomplete: int = 0
    replaced: int = 0  # executions stored before (same subject, condition, repetition), now the ingested ones
    factors: list[str] = field(default_factory=list)
    # Each factor's levels in the analysis' order, those stored before included; a version factor's first
    # level is the baseline of the envelope test.
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Warnings for the console, one line each: a factor named like the repetitions, executions that are copies
    cautions: list[str] = field(default_factory=list)


def _pattern_regex(pattern: str) -> tuple[re.Pattern[str], list[str]]:
    names = _PH.findall(pattern)
    if "subject" not in names:
        raise InputError(f"ingest pattern {pattern!r} needs a {{subject}} placeholder")
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise InputError(f"ingest pattern {pattern!r} repeats {sorted(dupes)}; name each placeholder once")
    for n in names:  # every other placeholder becomes a factor: not one of the names the analysis keeps
        if n not in ("subject", "repetition") and n in RESERVED_FACTOR_NAMES:
            raise InputError(
                f"ingest pattern {pattern!r}: {{{n}}} cannot name a factor ({RESERVED_FACTOR_NAMES[n]}); rename it"
            )
    rx, pos = "", 0
    for m in _PH.finditer(pattern):
        group = r"\d+" if m.group(1) == "repetition" else "[^/]+"
        rx += re.escape(pattern[pos : m.start()]) + f"(?P<{m.group(1).replace('-', '_')}>{group})"
        pos = m.end()
    rx += re.escape(pattern[pos:])
    return re.compile("^" + rx.rstrip("/") + "/?$"), names


def find_execution_dirs(root: Path, pattern: str) -> tuple[list[tuple[Path, dict[str, str]]], list[str]]:
    """Folders under ``root`` matching ``pattern``, with the placeholder values of each; and the folders at the
    pattern's depth it does not match (``run-x`` for ``run-{repetition}``), relative to ``root``, to be named.

    An absolute pattern is matched against the absolute paths it finds (it was an internal error: a review).
    """
    regex, _ = _pattern_regex(pattern)
    found, skipped, broken = [], [], []
    for p in sorted(glob.glob(os.path.join(glob.escape(str(root)), _wild(pattern)))):
        if os.path.islink(p) and not os.path.exists(p):
            broken.append(f"{_as_written(Path(p), root, pattern)} -> {os.readlink(p)}")
            continue
        if not os.path.isdir(p):
            continue
        rel = _as_written(Path(p), root, pattern)
        if m := regex.match(rel):
            if not all(is_utf8(v) for v in m.groupdict().values()):  # crashed storing it (review N8)
                shown = p.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                raise InputError(
                    f"{shown}: a subject or level named in no UTF-8 text; rename it in UTF-8 "
                    "(convmv -f latin1 -t utf8 -r --notest <folder>)"
                )
            found.append((Path(p), m.groupdict()))
        else:
            skipped.append(rel)
    if broken:  # results on storage not mounted: skipped, a review's 3 repetitions read "identical" from 2
        raise InputError(
            f"{len(broken)} folder(s) under {root} matching {pattern!r} are links to nothing: {few(broken)}; "
            "mount or restore what they point to, or remove the links"
        )
    return found, skipped


def _as_written(folder: Path, root: Path, pattern: str) -> str:
    """``folder``'s path as ``pattern`` writes it: absolute, or relative to ``root``."""
    return folder.as_posix() if Path(pattern).is_absolute() else folder.relative_to(root).as_posix()


def _shown(path: Path, root: Path) -> str:
    """``path`` as the user wrote it: relative to ``root`` when under it (an absolute pattern's are not)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


# Archives a results tree is shipped in (a download, a cluster's transfer): folders to extract first (review IN)
_ARCHIVE = re.compile(r".+\.(?:tar|tgz|tar\.gz|tbz2?|tar\.bz2|txz|tar\.xz|tar\.zst|zip|7z|rar)$", re.I)


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a file named as an archive (``results.tar.gz``, ``run.zip``).

    Examples
    --------
    >>> is_archive(Path("/nonexistent/results.tar.gz")), is_archive(Path("/"))
    (False, False)
    """
    return bool(_ARCHIVE.fullmatch(path.name)) and path.is_file()


def _extract_first(archives: list[Path], root: Path) -> str:
    names = [_shown(a, root) for a in archives]
    return f"{few(names)} {'is an archive: extract it' if len(names) == 1 else 'are archives: extract them'} first"


def check_root(root: Path) -> None:
    """Refuse a ``--root`` that is no folder, saying so of an archive (review IN: "is a file", nothing more).

    Raises
    ------
    InputError
        ``root`` is a file.
    """
    if is_archive(root):
        raise InputError(f"--root {root} is an archive: extract it first, and give the folder it holds as --root")
    if root.is_file():
        raise InputError(f"--root {root} is a file: give the folder the results are in")


def _wild(pattern: str) -> str:
    """``pattern`` as a glob: its placeholders ``*``, the rest literal (review E: a study folder `study [v2]`
    matched nothing, and `study[12]` reached a neighbour's results and crashed).

    Examples
    --------
    >>> _wild("run[1]/{subject}/rep-{repetition}")
    'run[[]1]/*/rep-*'
    """
    out, pos = "", 0
    for m in _PH.finditer(pattern):
        out += glob.escape(pattern[pos : m.start()]) + "*"
        pos = m.end()
    return out + glob.escape(pattern[pos:])


def _prefix(root: Path, pattern: str, k: int) -> str:
    """The glob of the first ``k`` path parts of ``pattern`` (its placeholders as ``*``) under ``root``."""
    head = "/".join(_wild(part) for part in pattern.rstrip("/").split("/")[:k])
    return os.path.join(glob.escape(str(root)), head) if head else ("/" if k else glob.escape(str(root)))


def _folders(glob_text: str) -> list[Path]:
    return [Path(p) for p in sorted(glob.glob(glob_text)) if os.path.isdir(p)]


def archives_on_the_way(root: Path, pattern: str) -> list[Path]:
    """The archives in the deepest folders an upper part of ``pattern`` reaches, where its next part found no
    folder (``results.tar.gz`` for ``results/{version}/...``): read "no folder matches" (review IN)."""
    reached = [root]
    for k in range(1, len(pattern.rstrip("/").split("/"))):
        deeper = _folders(_prefix(root, pattern, k))
        if not deeper:
            break
        reached = deeper
    return [c for d in reached for c in _entries(d) or () if is_archive(c)]


def _entries(folder: Path) -> list[Path] | None:
    """What ``folder`` holds but hidden entries (``.snakemake/``, ``.DS_Store``), sorted; None if unreadable."""
    try:
        return sorted(c for c in folder.iterdir() if not c.name.startswith("."))
    except OSError:
        return None


def _holds_results(folder: Path, outputs: list[str]) -> bool:
    """Whether ``folder`` holds what executions may have written: a folder (but a hidden one), an archive, or a
    file named as a declared output. An empty folder, or one of files alone (``logs/``), holds none."""
    entries = _entries(folder)
    if entries is None:
        return True  # unreadable: what it holds is unknown, and the pattern could not look there either
    for c in entries:
        if c.is_dir() or is_archive(c) or any(fnmatch.fnmatch(c.name, o) for o in outputs):
            return True
    return False


def _inside(folder: Path, depth: int) -> str:
    """What ``folder`` holds, as a path ``depth`` folders down (``segtool-2.0_download/sub-01/rep-1``), an archive
    it holds, or its first file."""
    entries = _entries(folder)
    if entries is None:
        return "it cannot be read: check its permissions"
    if archives := [c for c in entries if is_archive(c)]:
        return _extract_first(archives, folder)
    path, here = [], folder
    while len(path) < depth and (subs := [c for c in _entries(here) or () if c.is_dir()]):
        here = subs[0]
        path.append(here.name)
    return f"it holds {'/'.join(path or [entries[0].name])}"


def check_dropped_folders(
    root: Path, pattern: str, found: list[tuple[Path, dict[str, str]]], outputs: list[str]
) -> None:
    """Refuse folders that match an upper level of ``pattern`` and lead to no execution folder, while the folders
    beside them do: their executions sit at another depth (``results/2.0/segtool-2.0_download/sub-01/rep-1``,
    ``sub-01/ses-01/rep-1``) or in an archive, and were left out unsaid, a whole version or condition among them
    (review IN: "bit-for-bit identical" on the one level left). Hidden folders, folders of files alone (``logs/``)
    or of nothing, and the entries of a BIDS dataset that are not subjects (:func:`bids_left_out`) are ignored.

    Raises
    ------
    InputError
        Such folders, each named with the pattern's level it matches and what it holds.
    """
    parts = pattern.rstrip("/").split("/")
    holders = {str(a) for folder, _ in found for a in folder.parents}
    subject, dropped = _subject_part(pattern), []
    for k in range(1, len(parts)):  # the upper levels (the last one is the execution folders', checked by regex)
        if not _PH.search(parts[k - 1]):
            continue  # a folder named in the pattern has no siblings it matches
        level = [f for f in _folders(_prefix(root, pattern, k)) if not any(d in f.parents for d, _ in dropped)]
        full = {str(f.parent) for f in level if str(f) in holders}
        shapes = {(str(f.parent), _shape(f.name)) for f in level if str(f) in holders}
        for f in level:
            if str(f) in holders or str(f.parent) not in full:
                continue
            if k - 1 == subject and bids_non_subject(f.parent, f.name):
                continue  # left out with a warning when it holds matches; else nothing of it is read
            if not _holds_results(f, outputs):
                # files alone or nothing: a `logs/` beside the subjects is no result, but a `sub-04/` holding a
                # crash log, or a `2.0/` a README, named as a sibling holding executions is (`sub-01`, `1.9`), a
                # subject or version whose executions all failed, and was dropped unsaid: "bit-for-bit identical"
                # (review N4); `run3_logs/` beside `v1.9/`, or `2024/` beside `subj01/`, is not (review P10)
                if "0" not in _shape(f.name) or (str(f.parent), _shape(f.name)) not in shapes:
                    continue
                held = [c.name for c in _entries(f) or ()]
                what = f"it holds only {', '.join(held[:3])}" if held else "it is empty"
                dropped.append((f, f"{_shown(f, root)} ({parts[k - 1]}; {what})"))
                continue
            dropped.append((f, f"{_shown(f, root)} ({parts[k - 1]}; {_inside(f, len(parts) - k + 1)})"))
    if dropped:
        raise InputError(
            f"{few([d for _, d in dropped])}: {len(dropped)} folder(s) under {root} match an upper level of "
            f"{pattern!r} but hold no folder matching the rest of it, where the folders beside them do: their "
            "executions would be left out unsaid; move each execution folder to the pattern's depth (or ingest "
            "that tree with its own pattern), or move the folder out of the results tree (a subject or level whose "
            "executions all failed: give each a folder at the pattern's depth, holding its log: it counts as failed)"
        )


def _shape(name: str) -> str:
    """``name`` with each run of digits as ``0`` and of letters as ``a``: the form a level's folders share.

    Examples
    --------
    >>> [_shape(n) for n in ("sub-04", "sub-01", "2.0", "v1.10", "run3_logs", "2024", "subj01")]
    ['a-0', 'a-0', '0.0', 'a0.0', 'a0_a', '0', 'a0']
    """
    return re.sub(r"[^\W\d_]+", "a", re.sub(r"\d+", "0", name))


def _subject_part(pattern: str) -> int:
    """The index of the path part of ``pattern`` that holds ``{subject}``.

    Examples
    --------
    >>> _subject_part("deriv/{version}/{subject}/anat"), _subject_part("/data/sub-{subject}")
    (2, 2)
    """
    return next(i for i, part in enumerate(pattern.split("/")) if "{subject}" in part)


def bids_left_out(
    found: list[tuple[Path, dict[str, str]]], pattern: str, root: Path
) -> tuple[list[tuple[Path, dict[str, str]]], list[str]]:
    """The folders whose ``{subject}`` part is a subject, and those left out: in a BIDS root (fMRIPrep's
    derivatives hold ``dataset_description.json``) only ``sub-<label>`` entries are subjects, as for a
    ``subjects.glob`` (:func:`reprovip.spec.subjects.bids_non_subject`). Its ``logs/`` folder made a subject
    whose executions all "failed" (a review).
    """
    i = _subject_part(pattern)
    kept, left_out = [], []
    for folder, groups in found:
        parts = Path(_as_written(folder, root, pattern)).parts
        parent = Path(*parts[:i]) if i else Path(".")
        if bids_non_subject(parent if parent.is_absolute() else root / parent, parts[i]):
            left_out.append(_shown(folder, root))
        else:
            kept.append((folder, groups))
    return kept, left_out


def _left_out_message(pattern: str, left_out: list[str]) -> str:
    return (
        f"left out {len(left_out)} folder(s) the pattern {pattern!r} matches in a BIDS dataset that are not "
        f"subjects ({few(left_out)}): there only sub-<label> entries are subjects; rename a folder sub-<label> if it "
        "holds the results of a subject"
    )


def output_files(folder: Path, decls: list[OutputDecl]) -> list[tuple[OutputDecl, list[str], list[str]]]:
    """Each declared output of the execution in ``folder`` with the files that are it (none: missing), and what
    else its glob matched (a link to no file, a folder: :func:`~reprovip.execute.sandbox.output_matches`)."""
    out = []
    for d in decls:
        # A declared stream (`{stdout}`, `{stderr}.csv`) is looked for as stdout.txt, stderr.csv.
        stream = stream_file(str(folder), d.pattern)
        pattern = os.path.basename(stream) if stream else d.pattern
        out.append((d, *output_matches(str(folder), pattern)))
    return out


def _file_identity(path: str) -> tuple[int, int] | None:
    """The device and inode of the file ``path`` names, equal for symbolic and hard links to one file; None for a
    file of a git-annex (DataLad) store, whose identical contents are one object by design, not a copy.

    Examples
    --------
    >>> _file_identity("/data/.git/annex/objects/Xx/Yy/MD5E-s3--ab.csv/MD5E-s3--ab.csv") is None
    True
    """
    if "/annex/objects/" in os.path.realpath(path).replace(os.sep, "/"):
        return None
    st = os.stat(path)
    return st.st_dev, st.st_ino


def check_distinct_files(files: list[tuple[Path, list[tuple[OutputDecl, list[str], list[str]]]]], root: Path) -> None:
    """Refuse executions that share an output file (a link to another's, or a folder linked to another's).

    ``run-2`` and ``run-3`` linked to ``run-1`` (folders, files, hard links) read "bit-for-bit identical" from
    one execution (a review): one file is the output of one execution, whichever subject it is said to be of.

    Raises
    ------
    InputError
        Two executions' output files are the same file (same device and inode, which a real path shares).
    """
    owner: dict[tuple[int, int], tuple[Path, str]] = {}
    for folder, outs in files:
        for _, paths, _ in outs:
            for p in paths:
                ident = _file_identity(p)
                first, path = owner.setdefault(ident, (folder, p)) if ident else (folder, p)
                if first != folder:
                    raise InputError(
                        f"{_shown(Path(path), root)} and {_shown(Path(p), root)} are the same file (a link to one "
                        "file): two executions cannot have written it; copy the real outputs of each execution "
                        "into its own folder, or remove the links"
                    )


def _output_names(decls: list[OutputDecl]) -> list[str]:
    """File-name globs of the declared outputs (``{stdout}`` as ``stdout.txt``), but those any file matches."""
    names = []
    for d in decls:
        stream = stream_file("", d.pattern)
        name = os.path.basename(stream) if stream else _PH.sub("*", os.path.basename(d.pattern))
        if name.strip("*"):
            names.append(name)
    return names


def _record_outputs(
    blobs: BlobStore, files: list[tuple[OutputDecl, list[str], list[str]]], folder: Path
) -> list[dict[str, Any]]:
    from reprovip.readers import semantic_hash

    rows = []
    for d, paths, odd in files:
        if odd:  # a link to no file, a folder, where the glob looks for files: that execution is not complete
            rows.append(dict(name=d.name, relpath=d.pattern, kind=d.kind, missing=True, error="; ".join(odd)))
        elif not paths and not d.optional:
            stream = stream_file(str(folder), d.pattern)
            pattern = os.path.basename(stream) if stream else d.pattern
            rows.append(dict(name=d.name, relpath=d.template or pattern, kind=d.kind, missing=True, error="missing"))
        for p in paths:
            digest, suffix = file_hash(p), suffix_of(p)
            dest = blobs.path(digest, suffix)
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                blobs.put_bytes_from(Path(p), dest)
            row = dict(
                name=d.name,
                relpath=d.relpath(Path(p).relative_to(folder).as_posix()),
                kind=d.kind,
                blob=digest,
                suffix=suffix,
                size=os.path.getsize(p),
                missing=False,
                error=None,
                semantic_hash=None,
            )
            try:
                row["semantic_hash"] = semantic_hash(p, kind=d.kind)
            except Exception as exc:  # recorded on the output; the analysis reports it
                row["error"] = f"{exc.__class__.__name__}: {exc}"
            rows.append(row)
    return rows


MAX_REPETITION = 2**31 - 1


def as_declared(labels: dict[str, str], declared: dict[str, list[str]]) -> dict[str, str]:
    """``labels`` (factor -> level found) in the order the study file declares its factors, each level spelt as
    the file does when it writes the same whole number (``threads-01`` for ``threads: [1, 2]``): the condition
    keys of a results tree laid out another way, or numbered so, matched none of the declared ones, and the plan
    check was off ("reproducible" with a third of the executions missing, review N2). Versions are not numbers
    (``1.10`` is no ``1.1``): only whole numbers are read so. A declared factor of one level the tree does not
    name takes that level.

    Examples
    --------
    >>> as_declared({"mode": "a", "threads": "01"}, {"threads": ["1", "2"], "mode": ["a", "b"]})
    {'threads': '1', 'mode': 'a'}
    >>> as_declared({"version": "1.1"}, {"version": ["1.10", "1.9"], "threads": ["1"]})  # one level: filled in
    {'version': '1.1', 'threads': '1'}
    """
    labels = {**{f: lv[0] for f, lv in declared.items() if len(lv) == 1 and f not in labels}, **labels}
    out = {}
    for f in [*(f for f in declared if f in labels), *(f for f in labels if f not in declared)]:
        level = labels[f]
        if _WHOLE.fullmatch(level) and level not in declared.get(f, [level]):
            same = [d for d in declared[f] if _WHOLE.fullmatch(d) and int(d) == int(level)]
            level = same[0] if len(same) == 1 else level
        out[f] = level
    return out


_WHOLE = re.compile(r"[+-]?\d+")


def _executions(
    found: list[tuple[Path, dict[str, str]]], factors: list[str], root: Path, declared: dict[str, list[str]]
) -> list[tuple[Path, dict[str, str], int, dict[str, str], str]]:
    """``(folder, groups, repetition, factor labels, condition key)`` of each matched folder (labels as the study
    file declares them: :func:`as_declared`); two folders that name one execution (``run-1`` and ``run-01``) are
    an error, not one silently replacing the other."""
    out, seen = [], {}
    for folder, groups in found:
        rep = int(groups.get("repetition", "1"))
        if rep > MAX_REPETITION:  # SQLite's integers: an internal error (a review)
            raise InputError(
                f"{_shown(folder, root)}: repetition {groups['repetition']} is beyond {MAX_REPETITION}; number the "
                "repetition folders 1, 2, ..."
            )
        labels = as_declared({f: groups[f.replace("-", "_")] for f in factors}, declared)
        key = ",".join(f"{k}={v}" for k, v in labels.items()) or "-"
        other = seen.setdefault((groups["subject"], key, rep), folder)
        if other != folder:
            raise InputError(
                f"{_shown(other, root)} and {_shown(folder, root)} are the same execution (subject "
                f"{groups['subject']!r}, condition {key}, repetition {rep}); rename or remove one of them"
            )
        out.append((folder, groups, rep, labels, key))
    return out


def _gone(
    stored: list[dict[str, Any]], ingested: list[dict[str, Any]], root: Path, pattern: str
) -> list[dict[str, Any]]:
    """The executions ingested before from folders under ``root`` that ``pattern`` matches, in a condition this
    ingest finds too, which are gone from the tree now, as failed rows to store in their place: re-ingesting a
    tree where a subject's runs now crashed (no folder) kept its earlier results, counted, unsaid ("bit-for-bit
    identical", review N7). A condition the tree no longer holds at all (`results/v1` removed once stored, `v2`
    added: review P1) keeps its stored results."""
    regex, _ = _pattern_regex(pattern)
    ids, conditions = {r["id"] for r in ingested}, {r["condition_key"] for r in ingested}
    out = []
    for r in stored:
        folder = Path(r.get("input") or "")
        if r.get("source") != "ingest" or r["id"] in ids or r["condition_key"] not in conditions or folder.exists():
            continue
        try:
            rel = _as_written(folder, root, pattern)
        except ValueError:  # under another root: another ingest's
            continue
        if regex.match(rel):
            out.append(
                dict(
                    {k: r[k] for k in ("id", "subject", "input", "condition_key", "condition", "repetition")},
                    status="failed",
                    source="ingest",
                    attempts=1,
                    finished_at=time.time(),
                    error=f"its results folder {folder} is gone from the tree at the latest ingest",
                    outputs=[],
                )
            )
    return out


def check_same_number_levels(levels: dict[str, tuple[str, ...]], where: dict[str, dict[str, str]]) -> None:
    """Refuse two levels of a factor that read as the same number (``01`` and ``1``): one level written two ways
    made two conditions, ``threads: 01, 1, 4``, and every subject "6 of 9" executions (review IN), as two folders
    naming one repetition are refused.

    Raises
    ------
    InputError
        Such levels, each named with a folder of it (``where[factor][level]``) or as stored before.
    """
    for f, lv in levels.items():
        seen: dict[tuple[Any, ...], str] = {}
        for x in lv:
            other = seen.setdefault(natural_key(x)[0], x)
            if other != x:
                shown = [where.get(f, {}).get(y, "stored before") for y in (other, x)]
                raise InputError(
                    f"the `{f}` levels {other} and {x} read as the same number ({shown[0]}; {shown[1]}): one level "
                    "written two ways splits its executions into two conditions; rename the folders so that each "
                    "level is written one way"
                )


# Placeholders a user may mean as the repetitions: without {repetition}, they are a factor (review IN)
_REPETITION_LIKE = ("run", "rep", "reps", "repeat", "repetitions", "trial", "iteration", "iter")


def repetition_hint(factors: list[str], levels: dict[str, tuple[str, ...]]) -> str | None:
    """A warning when the pattern has no ``{repetition}`` and a factor named like it (``rep-{run}``): its levels
    were compared as conditions, the repetitions being one (review IN); None otherwise.

    Examples
    --------
    >>> repetition_hint(["threads", "run"], {"run": ("1", "2")})[:44]
    'the pattern names no {repetition}, and {run}'
    >>> repetition_hint(["threads"], {}) is None
    True
    """
    named = [f for f in factors if f.lower() in _REPETITION_LIKE]
    if not named or "repetition" in factors:
        return None
    f = named[0]
    return (
        f"the pattern names no {{repetition}}, and {{{f}}} is a factor: its levels {', '.join(levels.get(f, ()))} "
        f"are compared as conditions, each execution read as the only repetition of its own; did you mean "
        "{repetition}?"
    )


def copied_executions(
    files: list[tuple[Path, list[tuple[OutputDecl, list[str], list[str]]]]],
) -> list[tuple[Path, Path]]:
    """``(copy, original)`` for each execution folder whose output files are all files of one other execution,
    content and modification time to the nanosecond alike: ``cp -a rep-1 rep-2`` read "bit-for-bit identical"
    (review IN), and files that executions write never share a nanosecond time. Times with no sub-second part (an
    archive's, a coarse file system's) say nothing and are left out; so do files written in one tick of the
    kernel's clock (a few milliseconds), which share a time: one of the two folders' files must have had their
    time set (``cp -a``, ``rsync -a``: a change time other than the modification time).
    """
    stamps: dict[tuple[int, int], list[tuple[Path, str]]] = {}
    mine: dict[Path, list[tuple[tuple[int, int], str]]] = {}
    time_set: dict[Path, bool] = {}  # every file's time was set after it was written (a copy keeping times)
    for folder, outs in files:
        for _, paths, _ in outs:
            for p in paths:
                st = os.stat(p)
                key = (st.st_mtime_ns, st.st_size)
                stamps.setdefault(key, []).append((folder, p))
                mine.setdefault(folder, []).append((key, p))
                time_set[folder] = time_set.get(folder, True) and st.st_ctime_ns != st.st_mtime_ns
    copies = []
    for folder, _ in files:
        held = mine.get(folder, [])
        if not held or any(key[0] % 1_000_000_000 == 0 for key, _ in held):
            continue
        twins: set[Path] | None = None
        for key, p in held:
            same = {f for f, q in stamps[key] if f != folder and filecmp.cmp(p, q, shallow=False)}
            twins = same if twins is None else twins & same
        earlier = sorted(t for t in twins or () if t < folder and (time_set[folder] or time_set[t]))
        if earlier:
            copies.append((folder, earlier[0]))
    return copies


def _copies_message(copies: list[tuple[Path, Path]], root: Path) -> str:
    pairs = [f"{_shown(c, root)} = {_shown(o, root)}" for c, o in copies]
    return (
        f"{len(copies)} execution folder(s) hold the same files as another's, modification times to the nanosecond "
        f"included ({few(pairs)}): copies of one another? `cp -a` keeps times; ingest the folders the executions "
        "wrote"
    )


def factor_levels(study: Study, found: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    """The levels of each factor found (name -> levels) with those of the executions stored before, which the
    analysis reads with them, in its order: declared in the study file first, the others naturally.

    Raises
    ------
    InputError
        A version factor (``version``, ``environments``) whose baseline the study file does not declare and
        whose levels hold no numbers to order them (``old`` and ``new``): the text order chose the new version as
        the baseline, and a noisier, shifted new version passed as "within the envelope" of the old one.
    """
    levels = {f: set(lv) for f, lv in found.items()}
    sid = study.catalog.study_id(study.name)
    for row in study.catalog.executions(sid) if sid is not None else ():
        for f, lv in (row["condition"] or {}).items():
            if f in levels:
                levels[f].add(str(lv))
    declared = {f.name: list(f.levels) for f in study.spec.factor_list()}
    out = {f: order_levels(sorted(lv), declared.get(f)) for f, lv in levels.items()}
    for f, lv in out.items():
        known = set(declared.get(f, ())) & set(lv)
        if f in ENVELOPE_FACTORS and len(lv) > 1 and not known and not ordered_by_numbers(list(lv)):
            # quoted: `1.10` unquoted is the number 1.1, which the study file refuses
            quoted = [json.dumps(x) for x in lv]
            example = (
                f"[{', '.join(quoted)}]" if f == "version" else "{" + ", ".join(f"{x}: [...]" for x in quoted) + "}"
            )
            raise InputError(
                f"{study.path}: the `{f}` levels {', '.join(lv)} hold no version numbers to order them, so which "
                f"one is the baseline (the version the others are held to) is unknown: declare the order in the "
                f"study file, the baseline first (`factors: {{{f}: {example}}}` makes {lv[0]} the baseline)"
            )
    return out


def _check_factor_set(study: Study, pattern: str, factors: list[str]) -> None:
    """Every execution of a study varies the same factors: those the study file declares when it runs an
    application, else those of the executions stored. A pattern naming others made a design of `threads=1`,
    `threads=2` and `host=clusterB` conditions, each subject "6 of 4" executions (a review).

    Raises
    ------
    InputError
        The pattern's factors are not those.
    """
    if study.spec.application is not None:
        expected, whose = set(study.spec.factors), "the study file declares (its application runs with them)"
    elif study.spec.factors:
        # declared, not run: a pattern leaving one out read the other level's absence as no news (review N1); one
        # declared for its order only (`version: [v2, v1]`) leaves the pattern free to name others (review P8),
        # and a factor of one level is no variation to name (review P9)
        several = {f.name for f in study.spec.factor_list() if len(f.levels) > 1}
        expected, whose = set(factors) | several, "the study file declares"
    else:
        if not study.store.exists():  # nothing stored yet (and nothing created by this check)
            return
        sid = study.catalog.study_id(study.name)
        stored = {frozenset((r["condition"] or {}).keys()) for r in study.catalog.executions(sid)} if sid else set()
        if len(stored) != 1:
            return
        expected, whose = set(next(iter(stored))), "the executions stored already have"
    if set(factors) != expected:
        missing, extra = sorted(expected - set(factors)), sorted(set(factors) - expected)
        fix = [f"name {', '.join('{' + f + '}' for f in missing)} in the pattern"] if missing else []
        fix += [f"drop {', '.join('{' + f + '}' for f in extra)} from it"] if extra else []
        raise InputError(
            f"{study.path}: the pattern {pattern!r} names the factors {', '.join(factors) or 'none'}, where {whose} "
            f"{', '.join(sorted(expected)) or 'none'}: every execution of a study varies the same factors; "
            f"{' and '.join(fix)}, or ingest into another study"
        )


def ingest_outputs(study: Study, pattern: str, *, root: Path | None = None) -> IngestSummary:
    """Ingest every execution folder matching ``pattern`` (relative to ``root``, default the study folder).

    Raises
    ------
    InputError
        A pattern without ``{subject}``, no folder matched, two folders name one execution, two executions share
        an output file (:func:`check_distinct_files`), or a version factor's baseline is unknown
        (:func:`factor_levels`).

    Warns
    -----
    SubjectsLeftOut
        Folders the ``{subject}`` capture matched in a BIDS root that are not ``sub-<label>`` (left out).
    """
    root = Path(root) if root else study.directory
    check_root(root)
    every, skipped = find_execution_dirs(root, pattern)
    found, left_out = bids_left_out(every, pattern, root)
    if left_out and not found:
        raise InputError(f"no subject under {root}: {_left_out_message(pattern, left_out)}")
    if left_out:
        warnings.warn(_left_out_message(pattern, left_out), SubjectsLeftOut, 2)
    if not found:
        here = root == study.directory
        where = " (the study's folder: the pattern starts there; --root sets another)" if here else ""
        archives = archives_on_the_way(root, pattern)
        fix = _extract_first(archives, root) if archives else "check the pattern against your results tree"
        raise InputError(f"no folder under {root}{where} matches {pattern!r}; {fix}")
    if skipped:  # refused, not dropped: a run-3b beside run-1..3 held another result, and the verdict never saw it
        raise InputError(
            f"{len(skipped)} folder(s) under {root} sit where {pattern!r} looks but do not match it "
            f"({{repetition}} is digits): {few(skipped)}; rename them or move them out of the results tree"
        )
    _, names = _pattern_regex(pattern)
    factors = [n for n in names if n not in ("subject", "repetition")]
    _check_factor_set(study, pattern, factors)
    decls = [OutputDecl(n, o.path, o.kind, optional=o.optional) for n, o in study.spec.outputs.items()]
    check_dropped_folders(root, pattern, every, _output_names(decls))
    summary = IngestSummary(factors=factors)
    declared = {f.name: [str(lv) for lv in f.levels] for f in study.spec.factor_list()}
    executions = _executions(found, factors, root, declared)  # before anything is stored
    values = [
        {"subject": groups["subject"], "repetition": rep, **labels, **{f"{f}_level": v for f, v in labels.items()}}
        for _, groups, rep, labels, _ in executions
    ]
    files = [
        output_files(folder, [d.rendered(v) for d in decls]) for (folder, *_), v in zip(executions, values, strict=True)
    ]
    check_distinct_files([(e[0], f) for e, f in zip(executions, files, strict=True)], root)
    if copies := copied_executions([(e[0], f) for e, f in zip(executions, files, strict=True)]):
        summary.cautions.append(_copies_message(copies, root))
    copy_of = {folder: other for folder, other in copies}
    if not any(matched for held in files for _, matched, _ in held) and all(
        any(c.is_dir() for c in folder.iterdir()) for folder, *_ in executions
    ):
        # Every execution "missing outputs", replacing complete ones stored before (a review's `results/{subject}`
        # stopped a level above its run folders): refused before anything is stored. Folders of files (a version
        # whose runs crashed, logs only) are failed executions, a finding.
        inside = sorted({c.name for folder, *_ in executions[:20] for c in folder.iterdir() if c.is_dir()})[:5]
        raise InputError(
            f"none of the {len(executions)} folder(s) matching {pattern!r} holds a declared output "
            f"({', '.join(d.pattern for d in decls)}); they hold folders ({', '.join(inside)}): does the pattern "
            "stop a level too high?"
        )
    summary.levels = factor_levels(study, {f: {labels[f] for *_, labels, _ in executions} for f in factors})
    where: dict[str, dict[str, str]] = {}
    for folder, _, _, labels, _ in executions:
        for f, lv in labels.items():
            where.setdefault(f, {}).setdefault(lv, _shown(folder, root))
    check_same_number_levels(summary.levels, where)
    if hint := repetition_hint(factors, summary.levels):
        summary.cautions.insert(0, hint)
    with RunLock(study.store):
        catalog, blobs = study.catalog, BlobStore(study.store)
        study_id = catalog.ensure_study(study.name, study.spec.model_dump(mode="json"), str(study.directory))
        stored_rows = catalog.executions(study_id)
        # an execution stored under its levels in another order (an earlier reprovip's key) is the same one: its
        # key kept, so that it is replaced, not doubled (review P11)
        keyed = {
            (r["subject"], frozenset((r["condition"] or {}).items()), int(r["repetition"])): r["condition_key"]
            for r in stored_rows
        }
        rows = []
        for (folder, groups, rep, labels, key), found_files in zip(executions, files, strict=True):
            key = keyed.get((groups["subject"], frozenset(labels.items()), rep), key)
            outs = _record_outputs(blobs, found_files, folder)
            missing = [f"{o['name']} ({o['error']})".replace(" (missing)", "") for o in outs if o["missing"]]
            rows.append(
                dict(
                    id=execution_id(study.name, groups["subject"], key, rep),
                    subject=groups["subject"],
                    input=str(folder),
                    condition_key=key,
                    condition=labels,
                    repetition=rep,
                    status="failed" if missing else "done",
                    source="ingest",
                    attempts=1,
                    # When it was recorded: part of the executions' digest, so a verdict made before another
                    # ingest of other results is stale (`check --no-reanalyze` accepted it: a review).
                    finished_at=time.time(),
                    # a copy's evidence kept with it: a warning on the console only, and `check` passed (review E)
                    error=f"missing outputs: {', '.join(missing)}"
                    if missing
                    else f"{COPIED}: the same files as {_shown(copy_of[folder], root)}, modification times to the "
                    "nanosecond included"
                    if folder in copy_of
                    else None,
                    outputs=outs,
                )
            )
            summary.complete += not missing
            summary.incomplete += bool(missing)
        gone = _gone(stored_rows, rows, root, pattern)
        if gone:
            summary.cautions.append(
                f"{len(gone)} execution(s) ingested before from this tree have no folder in it now: they count as "
                f"failed ({few([_shown(Path(r['input']), root) for r in gone])})"
            )
        summary.replaced = catalog.insert_ingested(study_id, rows + gone) - len(gone)  # those replace themselves
        run_id = catalog.start_run(study_id, "ingest", len(rows), socket.gethostname(), os.getpid())
        catalog.finish_run(run_id, "finished", summary.complete, summary.incomplete)
        shutil.rmtree(blobs.tmp, ignore_errors=True)
    summary.executions = len(rows)
    return summary
