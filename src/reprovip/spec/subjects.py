"""Find the subjects of a study on disk: an explicit list or map, a glob with a ``{subject}`` capture, or BIDS."""

from __future__ import annotations

import fnmatch
import glob as globlib
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprovip.errors import SpecError
from reprovip.execute.trace import glob_regex
from reprovip.spec.loader import locator
from reprovip.spec.models import StudySpec

# A path part a glob matched rather than wrote: a capture or a wildcard.
_MATCHED_PART = re.compile(r"\{subject\}|[*?\[]")


_WARNED: set[tuple[str, str]] = set()


class SubjectsLeftOut(UserWarning):
    """A glob matched entries of a BIDS dataset that are not subjects (``derivatives``, ``code``...): they are
    left out, and this warning names them (one line)."""


@dataclass(frozen=True)
class Subject:
    """One input dataset: its identifier and the path given to ``{input}``."""

    id: str
    input: str


def resolve_subjects(spec: StudySpec, study_dir: Path, *, file: str = "study.yaml") -> list[Subject]:
    """Return the study's subjects sorted by id, each input checked to exist.

    Parameters
    ----------
    spec : StudySpec
        The validated study.
    study_dir : Path
        The folder relative paths are resolved against.
    file : str
        The study file, named in errors.

    Raises
    ------
    SpecError
        No subject found, duplicated subject ids, or missing inputs (every one of them, each at its line).
    """
    s = spec.subjects
    if s is None:
        raise SpecError("no `subjects` declared; add them to run this study", file=file, key="subjects")
    locate = locator(file)
    if s.glob is not None:
        found, left_out = _glob_subjects(s.glob, study_dir)
        if left_out:
            _warn_once(locate(_left_out_message(s.glob, left_out), ("subjects", "glob")))
        if left_out and not found:
            raise locate(f"no subject found: {_left_out_message(s.glob, left_out)}", ("subjects", "glob"))
        where = {sub.id: ("subjects", "glob") for sub in found}
    elif s.list is not None:
        found = [Subject(_stem(p), _abs(p, study_dir)) for p in s.list]
        where = {sub.id: ("subjects", "list", i) for i, sub in enumerate(found)}
    elif s.map is not None:
        found = [Subject(str(k), _abs(v, study_dir)) for k, v in s.map.items()]
        where = {sub.id: ("subjects", "map", sub.id) for sub in found}
    else:
        found, left = _from_bids(s.bids or {}, study_dir, file)
        where = {}
        ignored = (
            f"left out {len(left)} file(s) outside the dataset's sub-<label> folders or named by its .bidsignore: "
            f"{few(left)}"
            if left
            else None
        )
        for message in (
            ignored,
            _participants_counted_twice(found),
            _participants_left_out(s.bids or {}, study_dir, found),
        ):
            if message:
                _warn_once(locate(message, ("subjects", "bids")))
    if not found:
        if s.glob is None:
            raise SpecError("no subject found; check the BIDS filters", file=file, key="subjects")
        wildcard = (study_dir / _wildcard(s.glob)).as_posix()
        raise locate(
            f"no subject found: no file or folder matches the glob {s.glob!r} ({wildcard}); "
            "check the pattern and that the inputs exist",
            ("subjects", "glob"),
            key="subjects",
        )
    for sub in found:
        if not is_utf8(sub.id) or not is_utf8(str(sub.input)):
            # the run crashed planning it, after `validate` said ok (review H)
            shown = str(sub.input).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise locate(
                f"the input of a subject is named in no UTF-8 text: {shown}; rename it in UTF-8 "
                "(convmv -f latin1 -t utf8 -r --notest <folder>)",
                where.get(sub.id, ("subjects",)),
            )
    ids = [x.id for x in found]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise locate(f"duplicate subject ids {dupes}; use `map` to name them", ("subjects",))
    missing = [
        locate(
            f"input of subject {sub.id!r} does not exist: {sub.input}; fix the path or remove the subject",
            where.get(sub.id, ("subjects",)),
        )
        for sub in found
        if not Path(sub.input).exists()
    ]
    empty = [
        locate(
            f"input of subject {sub.id!r} is a folder that holds no file: {sub.input}; "
            + (
                f"its {dangling} link(s) point to missing files (an unfetched git-annex or DataLad dataset? "
                "`datalad get` them)"
                if dangling
                else "add the subject's data or remove the subject"
            ),
            where.get(sub.id, ("subjects",)),
        )
        for sub in found
        if (dangling := _holds_no_file(Path(sub.input))) is not None
    ]
    if missing or empty:
        raise SpecError.gather(missing + empty)
    return sorted(found, key=lambda x: x.id)


def _holds_no_file(path: Path) -> int | None:
    """For a folder with no file in it or below (stopping at the first file), how many links to missing files it
    holds (an unfetched git-annex dataset: review R4); None for a file, or a folder holding a file. An empty BIDS
    subject folder ran, its tool wrote zeros for it, and the study's ICC leant on them (review MC: 0.996 with it,
    0.434 without)."""
    if not path.is_dir():
        return None
    dangling = 0
    for parent, _, files in os.walk(path):
        for name in files:
            if os.path.exists(os.path.join(parent, name)):
                return None
            dangling += 1
    return dangling


def _warn_once(err: SpecError) -> None:
    """Warn at the study file's line (Python shows it, and the line itself), once per process: ``validate`` and
    ``run`` list the subjects more than once."""
    key = (os.path.abspath(err.file or ""), err.message)
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn_explicit(f"{err.key}: {err.message}", SubjectsLeftOut, err.file or "study.yaml", err.line or 0)


def _abs(p: str, study_dir: Path) -> str:
    """An absolute path, ``..`` removed, symbolic links kept: an input linked from a store (git-annex, DataLad)
    keeps its BIDS name (resolved, the application got `.git/annex/objects/...`: a review)."""
    return os.path.abspath(study_dir / p) if not Path(p).is_absolute() else p


def _stem(p: str) -> str:
    name = Path(p).name
    for suffix in (".nii.gz", ".tar.gz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or name


def _wildcard(pattern: str) -> str:
    before, after = pattern.split("{subject}", 1)
    return before + "*" + after.replace("{subject}", "*")


def from_glob(pattern: str, study_dir: Path) -> list[Subject]:
    """Files or folders (a pattern ending in ``/``, or matching folders) whose path fits the pattern.

    The pattern is relative to the study folder, may climb out of it (``../shared/{subject}.nii``) or be
    absolute; the capture is matched against the path as the pattern writes it. In a BIDS dataset, entries that
    are not subjects are left out, with a :class:`SubjectsLeftOut` warning (see :func:`bids_non_subject`).
    """
    found, left_out = _glob_subjects(pattern, study_dir)
    if left_out:
        warnings.warn(_left_out_message(pattern, left_out), SubjectsLeftOut, 2)
    return found


def bids_non_subject(folder: Path, name: str) -> bool:
    """``name``, an entry of ``folder``, is not a subject because ``folder`` is a BIDS dataset's root (it holds
    ``dataset_description.json`` or ``participants.tsv``, or ``sub-*`` folders are most of its entries besides
    the folders BIDS reserves) and ``name`` is not ``sub-<label>``: ``derivatives``,
    ``code``, ``sourcedata``, ``stimuli``, ``phenotype``, a dot-folder, ``participants.tsv``...

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for d in ("sub-01", "sub-02", "derivatives"):
    ...     (root / d).mkdir()
    >>> bids_non_subject(root, "derivatives"), bids_non_subject(root, "sub-01")
    (True, False)
    >>> for d in ("alice", "bob"):
    ...     (root / d).mkdir()
    >>> bids_non_subject(root, "alice")  # sub-* folders are no longer most of it: no BIDS root
    False
    >>> _ = (root / "participants.tsv").write_text("participant_id")
    >>> bids_non_subject(root, "alice")  # a participants table says it is one
    True
    """
    if name.startswith("sub-"):
        return False
    try:
        # participants.tsv alone says it too: a dataset without its description, with code/, derivatives/,
        # sourcedata/ and stimuli/ beside 3 subjects, made 7 subjects and a false pass (a review).
        if (folder / "dataset_description.json").is_file() or (folder / "participants.tsv").is_file():
            return True
        # Without it, sub-* folders must be most of the folder: one `sub-analysis` beside alice/, bob/ and
        # carol/ left the three real subjects out and the study ran on that folder alone (a review).
        subjects = others = 0
        for e in os.scandir(folder):
            if e.name.startswith("sub-") and e.is_dir():
                subjects += 1
            elif not e.name.startswith(".") and not _BIDS_ROOT_FILES.match(e.name) and e.name not in _BIDS_FOLDERS:
                others += 1
        return subjects > others
    except OSError:  # unreadable: nothing says it is a BIDS root
        return False


# What a BIDS root holds besides its subjects: not counted against them (sidecars inherited by every subject too)
_BIDS_FOLDERS = frozenset(("code", "derivatives", "sourcedata", "stimuli", "phenotype"))  # reserved by BIDS
_BIDS_ROOT_FILES = re.compile(r"(?:participants|samples)\.(?:tsv|json)|README.*|CHANGES.*|LICENSE.*|.*\.json", re.I)


def _glob_subjects(pattern: str, study_dir: Path) -> tuple[list[Subject], list[str]]:
    """:func:`from_glob`'s subjects, and the paths it matched in a BIDS dataset that are not subjects.

    Each path part the pattern matched by a wildcard or the capture (never one it writes, such as
    ``derivatives/fmriprep/{subject}/``) is checked with :func:`bids_non_subject` against its parent folder."""
    before, after = pattern.split("{subject}", 1)
    capture = re.compile(
        "^"
        + glob_regex(before)
        + "(?P<subject>[^/]+?)"
        + glob_regex(after).replace(r"\{subject\}", "(?P=subject)")
        + "$"
    )
    written = pattern.split("/")
    roots: dict[tuple[str, str], bool] = {}  # (parent, entry) -> not a subject: one scan per parent folder
    found, left_out = [], []
    for path in sorted(globlib.glob(_wildcard(pattern), root_dir=study_dir)):
        m = capture.match(path)
        if not m:
            continue
        parts = path.split("/")  # the glob is not recursive: one part per part of the pattern
        matched = [i for i, w in enumerate(written) if parts[i] and _MATCHED_PART.search(w)]
        if any(_non_subject(study_dir, parts, i, roots) for i in matched):
            left_out.append(path)
        else:
            found.append(Subject(m.group("subject"), _abs(path, study_dir)))
    return found, left_out


def _non_subject(study_dir: Path, parts: list[str], i: int, seen: dict[tuple[str, str], bool]) -> bool:
    parent = "/".join(parts[:i]) or ("/" if i == 1 and not parts[0] else ".")
    if (parent, parts[i]) not in seen:
        seen[parent, parts[i]] = bids_non_subject(study_dir / parent, parts[i])
    return seen[parent, parts[i]]


def is_utf8(text: str) -> bool:
    """Whether ``text`` is UTF-8 text, not a name whose bytes Python holds as lone surrogates (a Latin-1 name)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def few(paths: list[str], most: int = 5) -> str:
    """The first ``most`` of ``paths``, and how many more, for a one-line message."""
    return ", ".join(paths[:most]) + (f" and {len(paths) - most} more" if len(paths) > most else "")


def _left_out_message(pattern: str, left_out: list[str]) -> str:
    shown = few(left_out)
    return (
        f"left out {len(left_out)} path(s) the glob {pattern!r} matches in a BIDS dataset that are not subjects "
        f"({shown}): there only sub-<label> entries are subjects; write the glob with `sub-{{subject}}` to match "
        "the subjects alone, or list other subjects under `map`"
    )


def repeated_participants(ids: list[str]) -> dict[str, Any] | None:
    """BIDS participants (``sub-<label>``) that several subject ids belong to (``sub-01_ses-01``, ``sub-01_ses-02``,
    or ``sub-01_session-01``): their sessions or runs are subjects of their own; None when each is one.

    Examples
    --------
    >>> repeated_participants(["sub-01_ses-01", "sub-01_ses-02", "sub-02_ses-01", "patient_1", "patient_2"])
    {'inputs': 5, 'participants': 4, 'repeated': ['sub-01']}
    >>> repeated_participants(["sub-01", "sub-02"]) is None
    True
    """
    owner = {i: m[1] for i in ids if (m := re.match(r"(sub-[A-Za-z0-9]+)_", i))}
    counts = Counter(owner.get(i, i) for i in ids)
    repeated = sorted(p for p, n in counts.items() if n > 1 and p.startswith("sub-"))
    if not repeated:
        return None
    return dict(inputs=len(ids), participants=len(counts), repeated=repeated)


def participants_message(found: dict[str, Any]) -> str:
    """The notice of :func:`repeated_participants`: the ICC's subjects are not independent."""
    return (
        f"{found['inputs']} inputs from {found['participants']} participants: each session or run is a subject of "
        f"its own ({few(found['repeated'])} count several times), so the ICC's between-subject variance counts a "
        "participant once per file, as if independent; filter one session and run (`session: '01'`, `run: 1`, or "
        "a glob on one session) to compare participants"
    )


def _participants_counted_twice(found: list[Subject]) -> str | None:
    """A notice when BIDS files of one participant (sessions, runs) are several subjects: the between-subject
    variance then counts that participant once per file, as if independent (a review: 10 "subjects" from 4
    participants, unsaid); None when each participant is one subject."""
    repeated = repeated_participants([sub.id for sub in found])
    return participants_message(repeated) if repeated else None


def _participants_left_out(opts: dict, study_dir: Path, found: list[Subject]) -> str | None:
    """A notice when the dataset's ``participants.tsv`` lists participants the filters give no input of (a
    review's `run: 1` kept 1 of 4, the others having no run entity, unsaid); None when all are there."""
    try:
        lines = (study_dir / str(opts.get("root") or "") / "participants.tsv").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    header = lines[0].split("\t") if lines else []
    if "participant_id" not in header:
        return None
    column = header.index("participant_id")
    listed = [cells[column] for cells in (line.split("\t") for line in lines[1:]) if len(cells) > column]
    have = {sub.id.split("_", 1)[0] for sub in found}
    gone = [p for p in listed if p and p not in have]
    if not gone:
        return None
    return (
        f"participants.tsv lists {len(listed)} participants, and the BIDS filters give no input of {len(gone)}: "
        f"{few(gone)}; check the filters (an entity such as `run` that their files do not have leaves them out)"
    )


def _from_bids(opts: dict, study_dir: Path, file: str) -> tuple[list[Subject], list[str]]:
    """The subjects of a BIDS dataset (pybids), and the files its filters matched that are no subject's raw data
    (outside the root's ``sub-<label>`` folders, or named by the dataset's ``.bidsignore``)."""
    try:
        from bids import BIDSLayout
    except ImportError as exc:
        raise SpecError(
            "BIDS subjects need pybids: pip install 'reprovip[bids]'", file=file, key="subjects.bids"
        ) from exc
    opts = dict(opts)
    root = opts.pop("root", None)
    if not root:
        raise SpecError("`bids` needs a `root` folder", file=file, key="subjects.bids")
    try:
        layout = BIDSLayout(str(study_dir / root), validate=False)
        files = layout.get(return_type="object", **opts)
    except Exception as exc:  # pybids raises many kinds; all mean the dataset or filters are wrong
        raise SpecError(f"cannot read the BIDS dataset: {exc}", file=file, key="subjects.bids") from exc
    if not files and opts:
        raise SpecError(f"no subject found: {_unmatched(layout, opts)}", file=file, key="subjects.bids")
    out, left = [], []
    base = Path(layout.root)
    ignored = _bidsignore(base)
    for f in files:
        ent = f.get_entities()
        if "subject" not in ent:  # a sidecar or template at the root, inherited by every subject: none itself
            continue
        rel = Path(f.path).relative_to(base).as_posix() if Path(f.path).is_relative_to(base) else f.path
        if rel.split("/", 1)[0] != f"sub-{ent['subject']}" or _ignored(rel, ignored):
            # Not a subject's raw data: a folder the dataset's .bidsignore names, or any other folder than the
            # root's sub-<label> (a review's `extra/sub-99/` became a fifth subject and joined the ICC)
            left.append(rel)
            continue
        sub = "sub-" + str(ent["subject"]) + "".join(f"_{k}-{ent[k]}" for k in ("session", "run") if k in ent)
        out.append(Subject(sub, f.path))
    return out, left


def _unmatched(layout: Any, opts: dict) -> str:
    """What the dataset holds for each filter that matched no file: ``session: 1`` (a YAML number) is not the
    label ``01`` the files are named with, and "check the BIDS filters" did not say so (a review)."""
    parts = []
    for key, wanted in opts.items():
        try:
            held = sorted(map(str, layout.get(return_type="id", target=key)))
        except Exception:  # noqa: BLE001 -- not an entity pybids knows (its own error is the filter's)
            held = []
        shown = ", ".join(repr(v) for v in held[:8]) + (", ..." if len(held) > 8 else "") if held else "none"
        parts.append(f"{key}: {wanted!r} (the dataset's values: {shown})")
    quote = (
        "; BIDS labels are text: quote them as the files write them ('01', not 1)"
        if any(isinstance(x, int | float) for v in opts.values() for x in (v if isinstance(v, list) else [v]))
        else ""
    )
    return "the BIDS filters match no file: " + "; ".join(parts) + quote


def _bidsignore(root: Path) -> list[str]:
    """The patterns of the dataset's ``.bidsignore`` (the validator's, gitignore-like), comments left out."""
    try:
        lines = (root / ".bidsignore").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _ignored(rel: str, patterns: list[str]) -> bool:
    """Whether the dataset path ``rel`` is one a ``.bidsignore`` pattern names: a pattern with a ``/`` inside
    matches from the root (``extra/``, ``/derivatives/tmp``), one without matches any path component
    (``*_scratch``, ``tmp/``).

    Examples
    --------
    >>> _ignored("extra/sub-99/anat/x.nii.gz", ["extra/"]), _ignored("sub-01/anat/x.nii.gz", ["extra/"])
    (True, False)
    >>> _ignored("sub-02/ses-01/tmp/x.nii.gz", ["tmp/"]), _ignored("sub-03/anat/sub-03_T1w.nii.gz", ["*_T1w.nii.gz"])
    (True, True)
    """
    parts = rel.split("/")
    for pattern in patterns:
        body = pattern.strip("/")
        if not body:
            continue
        if "/" in body or pattern.startswith("/"):
            depth = body.count("/") + 1
            if fnmatch.fnmatch("/".join(parts[:depth]), body):
                return True
        elif any(fnmatch.fnmatch(part, body) for part in parts):
            return True
    return False
