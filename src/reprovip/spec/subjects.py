"""Find the subjects of a study on disk: an explicit list or map, a glob with a ``{subject}`` capture, or BIDS."""

from __future__ import annotations

import glob as globlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from reprovip.errors import SpecError
from reprovip.execute.trace import glob_regex
from reprovip.spec.loader import locator
from reprovip.spec.models import StudySpec


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
    if s.glob is not None:
        found = from_glob(s.glob, study_dir)
        where = {sub.id: ("subjects", "glob") for sub in found}
    elif s.list is not None:
        found = [Subject(_stem(p), _abs(p, study_dir)) for p in s.list]
        where = {sub.id: ("subjects", "list", i) for i, sub in enumerate(found)}
    elif s.map is not None:
        found = [Subject(str(k), _abs(v, study_dir)) for k, v in s.map.items()]
        where = {sub.id: ("subjects", "map", sub.id) for sub in found}
    else:
        found = _from_bids(s.bids or {}, study_dir, file)
        where = {}
    locate = locator(file)
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
    if missing:
        raise SpecError.gather(missing)
    return sorted(found, key=lambda x: x.id)


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
    absolute; the capture is matched against the path as the pattern writes it.
    """
    before, after = pattern.split("{subject}", 1)
    capture = re.compile(
        "^"
        + glob_regex(before)
        + "(?P<subject>[^/]+?)"
        + glob_regex(after).replace(r"\{subject\}", "(?P=subject)")
        + "$"
    )
    found = []
    for path in sorted(globlib.glob(_wildcard(pattern), root_dir=study_dir)):
        m = capture.match(path)
        if m:
            found.append(Subject(m.group("subject"), _abs(path, study_dir)))
    return found


def _from_bids(opts: dict, study_dir: Path, file: str) -> list[Subject]:
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
    out = []
    for f in files:
        ent = f.get_entities()
        sub = "sub-" + str(ent["subject"]) + "".join(f"_{k}-{ent[k]}" for k in ("session", "run") if k in ent)
        out.append(Subject(sub, f.path))
    return out
