"""Boutiques execution records as executions of a study: ``reprovip ingest --boutiques-records DIR``.

``bosh exec launch`` writes one JSON record per execution in its cache (``~/.cache/boutiques/data/``; studies
run with ``launcher: bosh`` keep theirs in ``.reprovip/boutiques-records/``):

- ``summary``: the tool's ``name``, ``descriptor-doi`` (a Zenodo DOI, or the name of a copy of the descriptor
  saved next to the record, which gives the ``tool-version``) and ``date-time``;
- ``public-invocation``: the invocation, each ``File`` input replaced by ``{"file-name", "md5sum"}``;
- ``public-output``: ``exit-code``, ``stdout``, ``stderr``, ``error-message``, ``shell-command``,
  ``missing-files`` and ``output-files`` (``{id: {"file-name", "md5sum"}}``; a folder is
  ``{"file-name", "files": [...]}``);
- ``additional-information``: what ``--provenance`` added (reprovip's launcher adds ``reprovip``).

Rules (docs/vip.md): records of one tool (``name``) are kept; executions of the same subject (the MD5s of its
``File`` inputs) with the same parameters are repetitions, numbered by date. A parameter becomes a factor when
it takes two values or more within one subject; a parameter that only varies between subjects describes the
subject; inputs that only place outputs (their value-key appears in an output path template, and no value is
given to two subjects) are ignored; a ``File`` input one of whose files goes with several files of the others
(a configuration file) is a parameter, not the subject's; two tool versions within one subject make a
``version`` factor. Records written by reprovip's launcher carry their subject, condition and repetition, which
are used as they are. Outputs are compared by the records' MD5 (``blob = "md5:<hex>"``) unless every file of
that output is on disk with the recorded MD5: then they are hashed with BLAKE3 and stored like any other
output; a file found for a record without an MD5 is refused when another execution is given it too. A recorded
MD5 that is the empty file's (``d41d8cd98f00b204e9800998ecf8427e``) is an empty file, unreadable as ``run``
finds one (never an identity).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import os
import re
import shutil
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprovip.criteria.rules import ENVELOPE_FACTORS
from reprovip.errors import EMPTY_FILE, MD5_ONLY, InputError, ReprovipError
from reprovip.execute.sandbox import folder_output
from reprovip.ingest.folders import IngestSummary, factor_levels
from reprovip.plan.expand import execution_id
from reprovip.store import BlobStore, RunLock
from reprovip.store.blobs import file_hash, suffix_of

if TYPE_CHECKING:
    from reprovip.study import Study

MD5_PREFIX = "md5:"
EMPTY_MD5 = hashlib.md5(b"", usedforsecurity=False).hexdigest()  # d41d8cd98f00b204e9800998ecf8427e
EMPTY_HINT = "the execution probably failed before writing it; see its record's stderr"


@dataclass(frozen=True)
class BoutiquesRecord:
    """One execution record written by ``bosh exec launch``."""

    path: Path
    tool: str
    version: str
    date: str
    invocation: dict[str, Any]
    output: dict[str, Any]
    reprovip: dict[str, Any]
    descriptor: dict[str, Any] | None


@dataclass
class BoutiquesIngestSummary(IngestSummary):
    """What ``ingest --boutiques-records`` found; ``hashes`` tells, per output, ``md5`` or ``blake3``."""

    tool: str = ""
    versions: list[str] = field(default_factory=list)
    records: int = 0
    superseded: int = 0
    subjects: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    unmatched_outputs: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # what the design suggests to pass (also warned)


_DOI = re.compile(r"^(?:doi:)?10\.\d{4,9}/\S+$|zenodo\.\d+", re.I)  # a descriptor named by its DOI (Zenodo's)


def _load_descriptor(folders: list[Path], name: Any, cache: dict[Path, Any]) -> dict[str, Any] | None:
    if not isinstance(name, str) or not name.endswith(".json"):
        return None  # a Zenodo DOI: not fetched (no network); the version then comes from the provenance
    for folder in folders:
        p = folder / Path(name).name
        if p not in cache:
            try:
                cache[p] = json.loads(p.read_text()) if p.is_file() else None
            except (OSError, ValueError):
                cache[p] = None
        if cache[p]:
            return cache[p]
    return None


def read_records(directory: str | Path) -> tuple[list[BoutiquesRecord], list[str]]:
    """Every Boutiques execution record under ``directory`` (recursively), and the unreadable files skipped.

    Raises
    ------
    InputError
        ``directory`` is not a folder.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a folder of Boutiques records; check the --boutiques-records path")
    records, skipped, descriptors = [], [], {}
    for p in sorted(directory.rglob("*.json")):
        try:
            doc = json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            skipped.append(f"{p.name}: unreadable ({exc.__class__.__name__})")
            continue
        if not (
            isinstance(doc, dict)
            and isinstance(doc.get("summary"), dict)
            and isinstance(doc.get("public-output"), dict)
        ):
            continue  # a cached descriptor or another file: not a record
        extra = doc.get("additional-information")
        own = extra.get("reprovip") if isinstance(extra, dict) else None
        own = own if isinstance(own, dict) else {}
        desc = _load_descriptor([p.parent, directory], doc["summary"].get("descriptor-doi"), descriptors)
        # without the descriptor's copy, its DOI names the release: two releases were one condition (review E)
        doi = doc["summary"].get("descriptor-doi")
        named = f"doi:{doi.removeprefix('doi:')}" if isinstance(doi, str) and _DOI.match(doi) else ""
        version = (desc or {}).get("tool-version") or own.get("tool_version") or named
        records.append(
            BoutiquesRecord(
                p,
                str(doc["summary"].get("name", "")),
                str(version),
                str(doc["summary"].get("date-time", "")),
                doc.get("public-invocation") or {},
                doc["public-output"],
                own,
                desc,
            )
        )
    return records, skipped


def _is_file(v: Any) -> bool:
    if isinstance(v, list):
        return bool(v) and all(_is_file(x) for x in v)
    return isinstance(v, dict) and "file-name" in v


def _identity(v: Any) -> str:
    """What makes an input value the same: a file's MD5 (else its name), any other value as JSON."""
    if isinstance(v, list):
        return json.dumps([_identity(x) for x in v])
    if _is_file(v):
        return v.get("md5sum") or v["file-name"]
    return json.dumps(v, sort_keys=True)


def _readable(v: Any) -> str:
    if isinstance(v, list):
        return "+".join(_readable(x) for x in v)
    if _is_file(v):
        return str(v["file-name"])
    return "none" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def _labels_for(values: dict[str, Any]) -> dict[str, str]:
    """A readable label per distinct value; values that read alike get their identity appended."""
    out, seen = {}, {}
    for ident, v in values.items():
        label = _readable(v)
        out[ident] = label if seen.setdefault(label, ident) == ident else f"{label}@{ident[:8]}"
    return out


def _stem(name: str) -> str:
    suffix = suffix_of(name)
    return name[: -len(suffix)] if suffix and name.lower().endswith(suffix) else name


def _study_md5s(study: Study) -> dict[str, str]:
    """MD5 of each of the study's own subject input files -> its subject id (to name subjects alike)."""
    try:
        subjects = study.subjects if study.spec.subjects is not None else []
    except (ReprovipError, OSError):
        return {}
    out = {}
    for s in subjects:
        if os.path.isfile(s.input):
            out[_md5(Path(s.input))] = s.id
    return out


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _placing_inputs(records: list[BoutiquesRecord], subjects: list[str]) -> set[str]:
    """Inputs whose value-key appears in an output path template and whose values are each of one subject: they
    say where outputs go (an output folder per execution), not how.

    A value shared by subjects is a level, like a factor's, even when the output is named after it
    (``vol_frac-[FRAC].csv``): dropped, its 2 levels became 4 repetitions and the verdict blamed run-to-run
    nondeterminism (a review)."""
    out = set()
    for r in records:
        desc = r.descriptor or {}
        templates = " ".join(o.get("path-template", "") for o in desc.get("output-files", []))
        out |= {i["id"] for i in desc.get("inputs", []) if i.get("value-key") and i["value-key"] in templates}
    return {i for i in out if not _shared_by_subjects(records, subjects, i)}


def _shared_by_subjects(records: list[BoutiquesRecord], subjects: list[str], input_id: str) -> bool:
    """One value of ``input_id`` is given to two subjects or more."""
    owners: dict[str, set[str]] = {}
    for r, s in zip(records, subjects, strict=True):
        if input_id in r.invocation:
            owners.setdefault(_identity(r.invocation[input_id]), set()).add(s)
    return any(len(v) > 1 for v in owners.values())


def _repeating_files(records: list[BoutiquesRecord], ids: list[str]) -> list[str]:
    """The inputs of ``ids`` one of whose values goes with several values of the others: a configuration file
    given to every subject, not a subject's own file.

    Examples
    --------
    >>> def rec(t1, cfg):
    ...     inv = {"t1": {"file-name": t1, "md5sum": t1}, "cfg": {"file-name": cfg, "md5sum": cfg}}
    ...     return BoutiquesRecord(Path("r.json"), "t", "1", "", inv, {}, {}, None)
    >>> _repeating_files([rec("a", "fast"), rec("b", "fast"), rec("a", "slow")], ["t1", "cfg"])
    ['t1', 'cfg']
    >>> _repeating_files([rec("a", "fast"), rec("b", "fast"), rec("c", "slow")], ["t1", "cfg"])
    ['cfg']
    """
    out = []
    for i in ids:
        others: dict[str, set[str]] = {}
        for r in records:
            rest = json.dumps([_identity(r.invocation.get(j)) for j in ids if j != i])
            others.setdefault(_identity(r.invocation.get(i)), set()).add(rest)
        if any(len(v) > 1 for v in others.values()):
            out.append(i)
    return out


def _bids_named(records: list[BoutiquesRecord], input_id: str) -> bool:
    """Every file of ``input_id`` is named after a BIDS subject (``sub-01_T1w.nii.gz``)."""
    values = [r.invocation.get(input_id) for r in records]
    files = [f for v in values for f in (v if isinstance(v, list) else [v]) if _is_file(f)]
    return bool(files) and all(Path(str(f["file-name"])).name.startswith("sub-") for f in files)


def subject_files(study: Study, records: list[BoutiquesRecord], ids: list[str], tool: str) -> list[str]:
    """The ``File`` inputs of ``ids`` that identify a subject: not those one of whose files goes with several
    files of the others (``slow.cnf`` given to every subject), which are then parameters, factors when they vary
    within a subject. Without it, 3 subjects x 2 configuration files made 6 subjects and no factor (a review).

    When every varying input is so (crossed), the subject's are those holding the study's subject inputs (by
    MD5), else those whose files are all named ``sub-<label>...``.

    Raises
    ------
    InputError
        Crossed inputs and nothing to tell which names the subject.
    """
    varying = [i for i in ids if len({_identity(r.invocation.get(i)) for r in records}) > 1]
    repeating = _repeating_files(records, varying) if len(varying) > 1 else []
    if repeating and len(repeating) == len(varying):
        md5s = _study_md5s(study)
        known = [i for i in varying if all(_identity(r.invocation.get(i)) in md5s for r in records)]
        named = [i for i in varying if _bids_named(records, i)]
        chosen = known or named
        if not chosen or len(chosen) == len(varying):
            counts = ", ".join(f"{i} ({len({_identity(r.invocation.get(i)) for r in records})} files)" for i in varying)
            raise InputError(
                f"records of {tool!r} cross the File inputs {counts}: each file of one goes with several of the "
                "others, so which one names the subject is unknown; pass it with --subject-input <id> (the others "
                "become factors)"
            )
        repeating = [i for i in varying if i not in chosen]
    return [i for i in ids if i not in repeating]


def _input_order(records: list[BoutiquesRecord]) -> list[str]:
    order: list[str] = []
    for r in records:
        for i in (r.descriptor or {}).get("inputs", []):
            if i["id"] not in order:
                order.append(i["id"])
    for r in records:
        for k in sorted(r.invocation):
            if k not in order:
                order.append(k)
    return order


def _subjects(study: Study, records: list[BoutiquesRecord], ids: list[str]) -> list[str]:
    keys = [tuple(_identity(r.invocation.get(i)) for i in ids) for r in records]
    varying = [j for j in range(len(ids)) if len({k[j] for k in keys}) > 1] or [0]
    md5s = _study_md5s(study)
    names: dict[tuple[str, ...], str] = {}
    taken: dict[str, tuple[str, ...]] = {}
    for r, key in zip(records, keys, strict=True):
        if key in names:
            continue
        known = next((md5s[k] for k in key if k in md5s), None)
        first = r.invocation.get(ids[varying[0]])
        first = first[0] if isinstance(first, list) and first else first
        name = known or (_stem(first["file-name"]) if _is_file(first) else _readable(first)) or "subject"
        if taken.setdefault(name, key) != key:
            name = f"{name}-{hashlib.md5(json.dumps(key).encode(), usedforsecurity=False).hexdigest()[:8]}"
        names[key] = name
    return [r.reprovip.get("subject") or names[k] for r, k in zip(records, keys, strict=True)]


def _conditions(
    records: list[BoutiquesRecord], subjects: list[str], params: list[str]
) -> tuple[list[dict[str, str]], list[str]]:
    """Level labels per record, and the factors: parameters with two values or more within one subject."""
    within: dict[tuple[str, str], set[str]] = {}
    for r, s in zip(records, subjects, strict=True):
        if r.reprovip.get("condition") is None:
            for p in params:
                within.setdefault((p, s), set()).add(_identity(r.invocation.get(p)))
            within.setdefault(("\0version", s), set()).add(r.version)
    factors = [p for p in [*params, "\0version"] if any(len(v) > 1 for (q, _), v in within.items() if q == p)]
    version_name = "version" if "version" not in params else "tool_version"
    labels: dict[str, dict[str, str]] = {}
    for p in factors:
        vals = {
            (_identity(r.invocation.get(p)) if p != "\0version" else r.version): (
                r.invocation.get(p) if p != "\0version" else r.version
            )
            for r in records
        }
        labels[p] = _labels_for(vals)
    out = []
    for r in records:
        if r.reprovip.get("condition") is not None:
            out.append({str(k): str(v) for k, v in r.reprovip["condition"].items()})
            continue
        out.append(
            {
                (version_name if p == "\0version" else p): labels[p][
                    r.version if p == "\0version" else _identity(r.invocation.get(p))
                ]
                for p in factors
            }
        )
    named = [version_name if p == "\0version" else p for p in factors]
    # Records reprovip's launcher wrote carry their condition: its factors are the study's too (the summary said
    # "no factor" beside stored seed and mflag conditions: a review).
    named += [k for k in dict.fromkeys(k for lab in out for k in lab) if k not in named]
    return out, named


def _check_versions(
    study: Study, records: list[BoutiquesRecord], labels: list[dict[str, str]], factors: list[str]
) -> None:
    """Refuse records of several tool versions one of which is unknown (no descriptor copy, no DOI, no version
    recorded), and versions whose order, hence the baseline, is unknown, as an ingest of folders does
    (:func:`~reprovip.ingest.folders.factor_levels`): an unknown version became the baseline, and `2.0` was held
    to `2.0rc1`'s envelope in text order (review E: both read "sufficiently reproducible").

    Raises
    ------
    InputError
        As said.
    """
    versions = {r.version for r in records}
    if len(versions) > 1 and "" in versions:
        unknown = next(r.path.name for r in records if not r.version)
        raise InputError(
            f"the records name {len(versions) - 1} tool version(s) ({', '.join(sorted(versions - {''}))}) and an "
            f"unknown one ({unknown}: no copy of its descriptor beside it, no DOI, no version recorded), which would "
            "be compared as a version of its own: put each descriptor's copy beside its records"
        )
    if found := {f: {lab[f] for lab in labels if f in lab} for f in factors if f in ENVELOPE_FACTORS}:
        factor_levels(study, found)


def _output_map(study: Study, records: list[BoutiquesRecord]) -> tuple[dict[str, str], list[str]]:
    """Declared output name -> Boutiques output id: the same name, else the one whose file name matches."""
    names: dict[str, set[str]] = {}
    for r in records:
        for oid, f in (r.output.get("output-files") or {}).items():
            names.setdefault(oid, set()).add(str((f or {}).get("file-name", "")))
        for oid in r.output.get("missing-files") or {}:
            names.setdefault(oid, set())
        for o in (r.descriptor or {}).get("output-files", []):
            names.setdefault(o["id"], set())
    mapping, unmatched = {}, []
    for name, o in study.spec.outputs.items():
        base = o.path.rsplit("/", 1)[-1]
        hits = [oid for oid, fns in names.items() if any(fnmatch.fnmatch(fn, base) for fn in fns)]
        if name in names:
            mapping[name] = name
        elif len(hits) == 1:
            mapping[name] = hits[0]
        else:
            unmatched.append(name)
    if not mapping:
        raise InputError(
            f"no declared output ({', '.join(study.spec.outputs)}) matches the records' output files "
            f"({', '.join(sorted(names)) or 'none'}); name the study's outputs after these ids"
        )
    return mapping, unmatched


def optional_hint(study: Study, records: list[BoutiquesRecord], mapping: dict[str, str]) -> str | None:
    """A hint when the descriptor a record carries marks an output ``optional`` that the study file does not:
    its executions without that file fail (a review's mask, written under bet's ``-m`` only); the study file
    decides, so that ``run``, ``ingest`` and the analysis judge it alike.

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> study = N(spec=N(outputs={"mask": N(optional=False), "brain": N(optional=False)}))
    >>> records = [N(descriptor={"output-files": [{"id": "mask_file", "optional": True}, {"id": "brain"}]})]
    >>> optional_hint(study, records, {"mask": "mask_file", "brain": "brain"})[:60]
    'the descriptor marks mask optional and the study file does n'
    """
    ids = {o.get("id") for r in records for o in (r.descriptor or {}).get("output-files", []) if o.get("optional")}
    names = [n for n, oid in mapping.items() if oid in ids and not study.spec.outputs[n].optional]
    if not names:
        return None
    return (
        f"the descriptor marks {', '.join(names)} optional and the study file does not: an execution without it "
        f"fails; declare `optional: true` under `outputs: {{{names[0]}: ...}}` and ingest again to judge only "
        "whether repetitions agree on writing it"
    )


def _files(entry: Any, prefix: str = "") -> list[tuple[str, str | None]]:
    """(path inside the output, MD5) of each file of a record's output entry (folders recursively)."""
    if not isinstance(entry, dict) or entry.get("not_found"):
        return []
    if "files" in entry:
        return [f for sub in entry["files"] for f in _files(sub, f"{prefix}{entry.get('file-name', '')}/")]
    return [(f"{prefix}{entry.get('file-name', '')}", entry.get("md5sum"))]


def _template_path(r: BoutiquesRecord, oid: str) -> str | None:
    """The output's path template filled with the record's values (File inputs by their file name)."""
    d = r.descriptor or {}
    out = next((o for o in d.get("output-files", []) if o.get("id") == oid), None)
    if out is None:
        return None
    path = out.get("path-template", "")
    for inp in d.get("inputs", []):
        key = inp.get("value-key")
        if not key or key not in path:
            continue
        v = _readable(r.invocation.get(inp["id"])).replace("+", " ") if inp["id"] in r.invocation else ""
        for ext in out.get("path-template-stripped-extensions", []):
            if v.endswith(ext):
                v = v[: -len(ext)]
        path = path.replace(key, v)
    return path


def _locate(r: BoutiquesRecord, oid: str, inner: str, md5: str | None, root: Path) -> Path | None:
    """The file on disk with the recorded MD5: at reprovip's recorded path, the template's, or by name."""
    sub = inner.split("/", 1)[1] if "/" in inner else ""
    bases = [Path(p) for p in [(r.reprovip.get("output-paths") or {}).get(oid), _template_path(r, oid)] if p]
    candidates = [(b if b.is_absolute() else root / b) for b in bases] + [root / inner.split("/", 1)[0]]
    for c in candidates:
        c = c / sub if sub else c
        if c.is_file() and (md5 is None or _md5(c) == md5):
            return c
    return None


def _parse_date(text: str) -> float | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d_%Hh%Mm%Ss%fms").timestamp()
    except ValueError:
        return None


def _select(records: list[BoutiquesRecord], tool: str | None, directory: Path) -> tuple[str, list[BoutiquesRecord]]:
    names = sorted({r.tool for r in records})
    if not records:
        raise InputError(
            f"no Boutiques execution record under {directory}; `bosh exec launch` writes them "
            "to ~/.cache/boutiques/data (unless --skip-data-collection)"
        )
    if tool is None and len(names) > 1:
        raise InputError(f"{directory} holds records of several tools ({', '.join(names)}); choose one with --tool")
    tool = tool if tool is not None else names[0]
    chosen = [r for r in records if r.tool == tool]
    if not chosen:
        raise InputError(f"no record of tool {tool!r} under {directory}; found: {', '.join(names)}")
    return tool, chosen


def _number(
    records: list[BoutiquesRecord], subjects: list[str], labels: list[dict[str, str]]
) -> tuple[list[tuple[BoutiquesRecord, str, dict[str, str], int]], int]:
    """Repetitions: reprovip's numbers when recorded (a retry's last record wins), else by date."""
    cells: dict[tuple[str, str], list[tuple[BoutiquesRecord, dict[str, str]]]] = {}
    for r, s, lab in zip(records, subjects, labels, strict=True):
        cells.setdefault((s, ",".join(f"{k}={v}" for k, v in lab.items()) or "-"), []).append((r, lab))
    out, superseded = [], 0
    for (s, _), members in cells.items():
        members.sort(key=lambda m: (m[0].date, str(m[0].path)))
        placed: dict[int, tuple[BoutiquesRecord, dict[str, str]]] = {}
        for r, lab in members:
            rep = r.reprovip.get("repetition")
            if isinstance(rep, int) and r.reprovip.get("subject"):
                superseded += rep in placed
                placed[rep] = (r, lab)
        nxt = 1
        for r, lab in members:
            if not (isinstance(r.reprovip.get("repetition"), int) and r.reprovip.get("subject")):
                while nxt in placed:
                    nxt += 1
                placed[nxt] = (r, lab)
        out += [(r, s, lab, rep) for rep, (r, lab) in sorted(placed.items())]
    return out, superseded


def _output_rows(
    name: str,
    kind: str,
    decl_path: str,
    files: list[tuple[str, str | None, Path | None]],
    *,
    use_file: bool,
    constant: bool,
    optional: bool,
    blobs: BlobStore,
) -> list[dict[str, Any]]:
    from reprovip.readers import semantic_hash

    if not files and optional:
        return []  # an optional output left unwritten: no missing output (the analysis says who wrote it)
    if not files:
        # Every key of a found file's row: the catalog inserts an execution's rows in one statement.
        return [
            dict(
                name=name,
                relpath=decl_path,
                kind=kind,
                blob=None,
                suffix=None,
                size=None,
                semantic_hash=None,
                missing=True,
                error="missing",
            )
        ]
    rows = []
    for inner, md5, path in files:
        rel = inner if "/" in inner or constant else f"{name}{suffix_of(inner)}"
        row: dict[str, Any] = dict(
            name=name,
            relpath=rel,
            kind=kind,
            suffix=suffix_of(inner),
            missing=False,
            size=None,
            semantic_hash=None,
            error=None,
        )
        if use_file and path is not None:
            digest = file_hash(path)
            dest = blobs.path(digest, row["suffix"])
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                blobs.put_bytes_from(path, dest)
            row.update(blob=digest, size=path.stat().st_size)
            try:
                row["semantic_hash"] = semantic_hash(path, kind=kind)
            except Exception as exc:  # recorded on the output; the analysis reports it
                row["error"] = f"{exc.__class__.__name__}: {exc}"
        elif md5 == EMPTY_MD5:
            # The file was written empty: unreadable, as `run` finds an empty file, not an MD5 to compare (a
            # review's tool that wrote nothing for one subject in every run read "sufficiently reproducible").
            error = f"{rel}: {EMPTY_FILE} (the record's MD5 is that of no bytes); {EMPTY_HINT}"
            row.update(blob=f"{MD5_PREFIX}{md5}", size=0, error=error)
        elif md5:
            row.update(blob=f"{MD5_PREFIX}{md5}", error=MD5_ONLY)
        else:
            row.update(blob=None, missing=True, error="the record has no MD5 for this file")
        rows.append(row)
    return rows


def _error(r: BoutiquesRecord, outs: list[dict[str, Any]], folders: dict[str, str]) -> str | None:
    """The execution's error: its exit code's, or its missing outputs (``folders``: declared path of each output
    the record gives as a folder, named as ``run`` names it)."""
    code = r.output.get("exit-code")
    if code != 0:
        why = (r.output.get("error-message") or "").strip()
        why = why or ((r.output.get("stderr") or "").strip().splitlines() or [""])[-1][:200]
        return f"exit code {code}" + (f": {why}" if why else "")
    missing = sorted({o["name"] for o in outs if o["missing"]})
    named = [f"{n} ({folder_output(folders[n])})" if n in folders else n for n in missing]
    return f"missing outputs: {', '.join(named)}" if missing else None


def _found_files(
    study: Study, placed: list[Any], mapping: dict[str, str], root: Path
) -> dict[str, list[list[tuple[str, str | None, Path | None]]]]:
    """Per declared output, per execution: (path inside the output, MD5, verified file on disk or None)."""
    found: dict[str, list[list[tuple[str, str | None, Path | None]]]] = {n: [] for n in mapping}
    for r, _, _, _ in placed:
        for name, oid in mapping.items():
            entry = (r.output.get("output-files") or {}).get(oid)
            files = _files(entry)
            pattern = study.spec.outputs[name].path
            chosen = [f for f in files if any(fnmatch.fnmatch(f[0], p) for p in (pattern, f"*/{pattern}"))]
            # A folder is no output, as in `run`: its files are, when the declared path names them (`stats/**`).
            chosen = chosen or ([] if isinstance(entry, dict) and "files" in entry else files)
            found[name].append([(inner, md5, _locate(r, oid, inner, md5, root)) for inner, md5 in chosen])
    return found


class RecordsHint(UserWarning):
    """What the records' design suggests ``ingest --boutiques-records`` be given (one line)."""


def design_hints(
    tool: str, subjects: list[str], factors: list[str], labels: list[dict[str, str]], *, chosen: bool
) -> list[str]:
    """Hints on a design that cannot be analysed as the records read: one subject with factors (a BIDS app's
    ``participant_label`` made a factor: "not analysable" and no hint, a review), or a factor whose every level
    is one execution's (an output name or a seed the descriptor does not use in a path). ``factors``: those that
    are inputs (not the tool's version); ``chosen``: the subject inputs were given.

    Examples
    --------
    >>> labs = [{"participant_label": p, "n": n} for p in "123" for n in "12" for _ in "ab"]
    >>> [hint] = design_hints("app", ["ds"] * 12, ["participant_label", "n"], labs, chosen=False)
    >>> "participant_label (3 levels), n (2 levels)" in hint, "--subject-input participant_label " in hint
    (True, True)
    >>> [hint] = design_hints("app", ["a", "a", "b", "b"], ["seed"], [{"seed": s} for s in "1234"], chosen=True)
    >>> "--ignore-input seed " in hint
    True
    """
    out = []
    if len(set(subjects)) == 1 and factors and not chosen:
        counts = {f: len({lab.get(f) for lab in labels}) for f in factors}
        named = [f for f in factors if any(w in f.lower() for w in ("participant", "subject"))]
        best = named[0] if named else max(factors, key=lambda f: counts[f])
        shown = ", ".join(f"{f} ({counts[f]} levels)" for f in factors)
        out.append(
            f"records of {tool!r} make 1 subject with factors {shown}: if {best} names the subject (a BIDS app's "
            f"participant_label), ingest again with --subject-input {best} into a study with nothing stored yet"
        )
    for f in factors:
        levels = [lab.get(f) for lab in labels]
        if len(levels) > 1 and len(set(levels)) == len(levels):
            out.append(
                f"the factor {f} of the records of {tool!r} takes another value in each of the {len(levels)} "
                f"executions: no two are repetitions; if it only names the execution (an output, a seed not used "
                f"in a path), ingest again with --ignore-input {f} into a study with nothing stored yet"
            )
    return out


def check_unverified_files(
    placed: list[tuple[BoutiquesRecord, str, dict[str, str], int]],
    found: dict[str, list[list[tuple[str, str | None, Path | None]]]],
    root: Path,
) -> None:
    """Refuse a file on disk given to an execution whose record has no MD5 for it, when other executions are
    given it too: nothing says whose output it is. One file left at the template's path was taken by the 6
    executions of 3 subjects, whose records had no MD5, and read "bit-for-bit identical" (a review).

    Raises
    ------
    InputError
        Such a file: named, with two of the records.
    """
    claims: dict[tuple[int, int], list[tuple[BoutiquesRecord, str | None, Path, str]]] = {}
    for name, per in found.items():
        for (r, *_), files in zip(placed, per, strict=True):
            for _, md5, path in files:
                if path is not None:
                    st = path.stat()
                    claims.setdefault((st.st_dev, st.st_ino), []).append((r, md5, path, name))
    for members in claims.values():
        unverified = [m for m in members if m[1] is None]
        others = [m for m in members if m[0] is not unverified[0][0]] if unverified else []
        if others:
            (r, _, path, name), (other, *_) = unverified[0], others[0]
            try:
                shown = path.relative_to(root).as_posix()
            except ValueError:
                shown = str(path)
            raise InputError(
                f"{r.path} has no MD5 for its output {name!r} and {other.path} is given the same file {shown}: "
                "nothing says it is either's output (a file left by another run?); keep each execution's outputs "
                "at its own path, or ingest records that carry the outputs' MD5s"
            )


def ingest_boutiques_records(
    study: Study,
    directory: str | Path,
    *,
    tool: str | None = None,
    root: str | Path | None = None,
    ignore: tuple[str, ...] | list[str] = (),
    subject_inputs: tuple[str, ...] | list[str] | None = None,
) -> BoutiquesIngestSummary:
    """Register the Boutiques execution records under ``directory`` as executions of ``study``.

    Parameters
    ----------
    study : Study
        The study whose declared outputs are matched to the records' output files (by id, else file name).
    directory : path
        A folder of records: a copy of ``~/.cache/boutiques/data``, ``.reprovip/boutiques-records``, or
        records downloaded from a platform. No output file is needed.
    tool : str, optional
        The tool's name, when the folder holds records of several tools.
    root : path, optional
        Where relative output paths are looked for (default: the study folder).
    ignore : list of str
        Input ids never used as factors (e.g. a per-run random seed that is not a condition).
    subject_inputs : list of str, optional
        The inputs that identify a subject (default: every ``File`` input).

    Returns
    -------
    BoutiquesIngestSummary

    Raises
    ------
    InputError
        No record, several tools without ``tool``, no input to tell subjects apart (or crossed ``File`` inputs,
        :func:`subject_files`), no declared output found, or a file found for a record without its MD5 that another
        execution is given too (:func:`check_unverified_files`).

    Warns
    -----
    RecordsHint
        One subject with factors, or a factor of a level per execution (:func:`design_hints`).
    """
    directory = Path(directory)
    records, skipped = read_records(directory)
    tool, records = _select(records, tool, directory)
    ids = (
        list(subject_inputs)
        if subject_inputs
        else [i for i in _input_order(records) if any(_is_file(r.invocation.get(i)) for r in records)]
    )
    unknown = [i for i in ids if not any(i in r.invocation for r in records)]
    if not ids or unknown:
        raise InputError(
            f"records of {tool!r} have no input {unknown or 'of type File'} to tell subjects "
            "apart; name the inputs that identify a subject with --subject-input"
        )
    if not subject_inputs:
        ids = subject_files(study, records, ids, tool)
    subjects = _subjects(study, records, ids)
    skip = set(ids) | set(ignore) | _placing_inputs(records, subjects)
    labels, factors = _conditions(records, subjects, [p for p in _input_order(records) if p not in skip])
    _check_versions(study, records, labels, factors)
    placed, superseded = _number(records, subjects, labels)
    mapping, unmatched = _output_map(study, records)
    root = Path(root) if root else study.directory
    found = _found_files(study, placed, mapping, root)
    check_unverified_files(placed, found, root)
    inputs = [f for f in factors if any(f in r.invocation for r in records)]  # not the tool's version
    hints = design_hints(tool, subjects, inputs, labels, chosen=bool(subject_inputs))
    hints += [hint] if (hint := optional_hint(study, records, mapping)) else []
    for hint in hints:
        warnings.warn(hint, RecordsHint, 2)
    # One kind of hash per output for every execution, so the analysis compares like with like.
    use_file = {n: any(per) and all(p is not None for fs in per for *_, p in fs) for n, per in found.items()}
    constant = {n: len({f[0] for fs in per for f in fs if "/" not in f[0]}) <= 1 for n, per in found.items()}
    summary = BoutiquesIngestSummary(
        factors=factors,
        tool=tool,
        records=len(records),
        superseded=superseded,
        skipped=skipped,
        versions=sorted({r.version for r in records}),
        unmatched_outputs=unmatched,
        hashes={n: "blake3" if u else "md5" for n, u in use_file.items()},
        hints=hints,
    )
    with RunLock(study.store):
        catalog, blobs = study.catalog, BlobStore(study.store)
        study_id = catalog.ensure_study(study.name, study.spec.model_dump(mode="json"), str(study.directory))
        rows = []
        for index, (r, subject, lab, rep) in enumerate(placed):
            outs = [
                o
                for name in mapping
                for o in _output_rows(
                    name,
                    study.spec.outputs[name].kind,
                    study.spec.outputs[name].path,
                    found[name][index],
                    use_file=use_file[name],
                    constant=constant[name],
                    optional=study.spec.outputs[name].optional,
                    blobs=blobs,
                )
            ]
            given = r.output.get("output-files") or {}
            folders = {
                n: study.spec.outputs[n].path
                for n, oid in mapping.items()
                if isinstance(given.get(oid), dict) and "files" in given[oid]
            }
            error = _error(r, outs, folders)
            key = ",".join(f"{k}={v}" for k, v in lab.items()) or "-"
            when, seed, code = _parse_date(r.date), str(r.reprovip.get("seed")), r.output.get("exit-code")
            rows.append(
                dict(
                    id=execution_id(study.name, subject, key, rep),
                    subject=subject,
                    condition_key=key,
                    condition=lab,
                    input=" ".join(_readable(r.invocation.get(i)) for i in ids),
                    repetition=rep,
                    status="done" if error is None else "failed",
                    source="ingest",
                    attempts=1,
                    error=error,
                    exit_code=code if isinstance(code, int) else None,
                    started_at=when,
                    finished_at=when,
                    seed=int(seed) if seed.isdigit() else None,
                    outputs=outs,
                )
            )
            summary.complete += error is None
            summary.incomplete += error is not None
        summary.replaced = catalog.insert_ingested(study_id, rows)
        run_id = catalog.start_run(study_id, "ingest", len(rows), socket.gethostname(), os.getpid())
        catalog.finish_run(run_id, "finished", summary.complete, summary.incomplete)
        shutil.rmtree(blobs.tmp, ignore_errors=True)
    summary.executions = len(rows)
    summary.subjects = sorted({s for _, s, _, _ in placed})
    return summary
