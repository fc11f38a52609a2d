"""Find the subjects of a study on disk: an explicit list or map, a glob with a ``{subject}`` capture, or BIDS."""

from __future__ import annotations

import glob as globlib
import re
from dataclasses import dataclass
from pathlib import Path

from reprovip.errors import SpecError
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
        No subject found, a missing input, or duplicated subject ids.
    """
    s = spec.subjects
    if s is None:
        raise SpecError("no `subjects` declared; add them to run this study", file=file, key="subjects")
    if s.glob is not None:
        found = _from_glob(s.glob, study_dir)
    elif s.list is not None:
        found = [Subject(_stem(p), _abs(p, study_dir)) for p in s.list]
    elif s.map is not None:
        found = [Subject(str(k), _abs(v, study_dir)) for k, v in s.map.items()]
    else:
        found = _from_bids(s.bids or {}, study_dir, file)
    if not found:
        raise SpecError("no subject found; check the pattern and that the input files exist", file=file, key="subjects")
    ids = [x.id for x in found]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SpecError(f"duplicate subject ids {dupes}; use `map` to name them", file=file, key="subjects")
    for sub in found:
        if not Path(sub.input).exists():
            raise SpecError(
                f"input of subject {sub.id!r} does not exist: {sub.input}; fix the path or remove the subject",
                file=file,
                key="subjects",
            )
    return sorted(found, key=lambda x: x.id)


def _abs(p: str, study_dir: Path) -> str:
    return str((study_dir / p).resolve()) if not Path(p).is_absolute() else p


def _stem(p: str) -> str:
    name = Path(p).name
    for suffix in (".nii.gz", ".tar.gz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or name


def _from_glob(pattern: str, study_dir: Path) -> list[Subject]:
    before, after = pattern.split("{subject}", 1)
    wildcard = before + "*" + after.replace("{subject}", "*")
    capture = re.compile(
        "^" + re.escape(before) + "(?P<subject>.+?)" + re.escape(after).replace(r"\{subject\}", "(?P=subject)") + "$"
    )
    found = []
    for path in sorted(globlib.glob(str(study_dir / wildcard))):
        rel = Path(path).relative_to(study_dir).as_posix()
        m = capture.match(rel)
        if m:
            found.append(Subject(m.group("subject"), str(Path(path).resolve())))
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
