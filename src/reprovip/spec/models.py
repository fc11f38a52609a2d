"""Pydantic models of ``study.yaml``.

The models only describe and check; they never run anything. Paths stay as written: the loader resolves
them against the study folder.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, List, Literal  # noqa: UP035 (a field is named `list`)

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

OUTPUT_KINDS = ("image", "labels", "table", "scalars", "text", "array", "bytes")
BUILTIN_PLACEHOLDERS = (
    "subject",
    "input",
    "outdir",
    "seed",
    "threads",
    "repetition",
    "study_dir",
    "python",
)
NAME_RE = r"^[A-Za-z_][A-Za-z0-9_\-]*$"
INVALID_NAME = "use letters, digits, '_' and '-', starting with a letter or '_'"
CONTAINER_ENGINES = ("docker", "podman", "apptainer", "singularity", "udocker")
# Factors that are not plain placeholders: they change the environment or the argv.
# More threads than any machine has hardware threads for: a typo (1000000), never a condition to test.
MAX_THREADS = 4096
BUILTIN_FACTORS = ("threads", "seed", "env", "args", "environments", "blas", "perturb", "container", "os")
# Names a factor cannot take, each with why: a placeholder filled by reprovip, or a term of the analysis.
RESERVED_FACTOR_NAMES = {
    "subject": "it is the placeholder {subject} and the subjects' term of the analysis",
    "input": "it is the placeholder {input}",
    "outdir": "it is the placeholder {outdir}",
    "repetition": "it is the placeholder {repetition}",
    "study_dir": "it is the placeholder {study_dir}",
    # a factor `python` replaced the interpreter: the command became `py311 app.py ...` (review M6)
    "python": "it is the placeholder {python}, the interpreter's path",
    "residual": "it is the analysis' name for the repetitions' term (the residual of the variance components)",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Container(_Strict):
    """A container image to run the application in."""

    engine: Literal["docker", "podman", "apptainer", "singularity", "udocker"]
    image: str


class Application(_Strict):
    """What is run: an argv template, a Boutiques descriptor or a Python callable."""

    container: Container | None = None
    command: list[str] | None = None
    boutiques: str | None = None
    invocation: dict[str, Any] | None = None
    python: str | None = None
    launcher: Literal["simulate", "bosh"] = "simulate"  # Boutiques: build the argv, or `bosh exec launch`

    @model_validator(mode="after")
    def _exactly_one(self) -> Application:
        given = [k for k in ("command", "boutiques", "python") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of `command` (argv list), `boutiques` (descriptor path) or "
                f"`python` (module:function), got {given or 'none'}"
            )
        if self.command is not None and not self.command:
            raise ValueError("`command` must be a non-empty argv list")
        if self.invocation is not None and self.boutiques is None:
            raise ValueError("`invocation` goes with `boutiques`")
        if self.python is not None and not re.match(r"^[\w.]+:[\w.]+$", self.python):
            raise ValueError(f"`python` must look like 'package.module:function', got {self.python!r}")
        if self.launcher != "simulate" and self.boutiques is None:
            raise ValueError("`launcher` goes with `boutiques`")
        if self.launcher == "bosh" and self.container is not None:
            raise ValueError("`launcher: bosh` uses the descriptor's container-image; drop `container`")
        return self


class Subjects(_Strict):
    """Where the N input datasets are."""

    glob: str | None = None
    list: Annotated[List[str], Field(min_length=1)] | None = None  # noqa: UP006
    map: dict[str, str] | None = None
    bids: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Subjects:
        given = [k for k in ("glob", "list", "map", "bids") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of `glob`, `list`, `map` or `bids`, got {given or 'none'}")
        if self.glob is not None and "{subject}" not in self.glob:
            raise ValueError(f"`glob` must contain a {{subject}} capture, got {self.glob!r}")
        if self.glob is not None and "**" in self.glob:  # matched one level, unsaid: 1 subject of 8 (a review)
            raise ValueError(
                f"`**` in a subjects glob matches one folder level, not any number: write each level, e.g. "
                f"`bids/sub-*/ses-*/anat/{{subject}}_T1w.nii.gz`, got {self.glob!r}"
            )
        if self.map is not None and not self.map:
            raise ValueError("`map` must name at least one subject")
        if self.map is not None and any(not str(k).strip() for k in self.map):
            raise ValueError("`map` names a subject with an empty id: give every subject a name")
        return self


#: The placeholders of ``on_fail``: the interpreter running reprovip, and the study's folder (its working folder).
HOOK_PLACEHOLDERS = ("python", "study_dir")

#: The binary formats' suffixes and the kinds their readers read (``reprovip.readers``, binary readers; a test keeps
#: the two in step): a NIfTI declared ``table`` or a GIfTI declared ``text`` is refused at its line, not at analysis.
BINARY_SUFFIXES = {
    **dict.fromkeys((".nii", ".nii.gz", ".mgz", ".mgh"), ("image", "labels")),
    **dict.fromkeys((".npy", ".npz", ".gii", ".gii.gz"), ("array", "labels")),
}
#: GIfTI's name for a file of label ids (a parcellation): read as numbers, a parcellation renumbered by one passed
#: a per-vertex ICC (review AR); the reader refuses its label arrays as `array`, this says so at the study's line.
LABEL_SUFFIXES = (".label.gii", ".label.gii.gz")


_PAIR = (
    "the {half} of an Analyze or NIfTI .hdr/.img pair: no reader joins the header to its voxels; write single-file "
    ".nii or .nii.gz images, or declare both files `kind: bytes` (compared bit for bit)"
)
#: Formats no reader decodes, by suffix: declared with a reader's kind, their files were found unreadable only at
#: analysis, and a `.hdr` the same in every execution read "identical" while its `.img` differed (a review).
UNREAD_SUFFIXES = {
    ".hdr": _PAIR.format(half="header"),
    ".hdr.gz": _PAIR.format(half="header"),
    ".img": _PAIR.format(half="voxels"),
    ".img.gz": _PAIR.format(half="voxels"),
    **dict.fromkeys(
        (".nhdr", ".mhd"),
        "the header of a detached NRRD or MetaImage: its voxels are in the file it names; write NIfTI, or declare "
        "both files `kind: bytes` (compared bit for bit)",
    ),
    **dict.fromkeys(
        (
            ".png",
            ".jpg",
            ".jpeg",
            ".tif",
            ".tiff",
            ".bmp",
            ".gif",
            ".dcm",
            ".ima",
            ".nrrd",
            ".mha",
            ".h5",
            ".hdf5",
            ".mnc",
        ),
        "in a format no reader decodes: write NIfTI (image), .npy (array) or CSV (table), or declare `kind: bytes` "
        "(compared bit for bit)",
    ),
    # model weights and Python objects: never unpickled (a review's `.pkl` declared `scalars` ran every execution)
    **dict.fromkeys(
        (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".safetensors", ".joblib", ".onnx"),
        "serialized Python objects or model weights, which reprovip never loads: save the numbers as .npy (array), "
        "JSON (scalars) or CSV (table), or declare `kind: bytes` (compared bit for bit)",
    ),
    # FreeSurfer's binary surfaces, curvatures and annotations (review FS: `lh.white` declared `array` passed
    # validate, then every execution ran before "no 'array' reader recognises this file")
    **dict.fromkeys(
        (".white", ".pial", ".inflated", ".sphere", ".smoothwm", ".thickness", ".curv", ".sulc", ".annot"),
        "a FreeSurfer binary surface, curvature or annotation, which no reader decodes: convert it to GIFTI "
        "(`mris_convert lh.white lh.white.gii`; `mris_convert -c lh.thickness lh.white lh.thickness.gii`) and "
        "declare the .gii `kind: array`, or declare `kind: bytes` (compared bit for bit; FreeSurfer stamps its "
        "creation into it)",
    ),
    # tractograms (review RR: a .tck declared `image` ran every execution before the error)
    **dict.fromkeys(
        (".tck", ".trk", ".trx"),
        "a tractogram, whose streamlines no reader decodes: declare the measures taken from it (tckstats, a "
        "connectome: text or CSV), or `kind: bytes` (compared bit for bit; a .tck header holds a time stamp)",
    ),
    **dict.fromkeys(
        (".zip", ".tar", ".tar.gz", ".tgz", ".7z"),
        "an archive: its files are not unpacked; declare the files the application archives, or `kind: bytes` "
        "(compared bit for bit; a gzip header's time stamp differs every run)",
    ),
}
_TEXTUAL = ("text", "bytes")
#: Text formats and the kinds that can read them: a YAML report declared `scalars` ran every execution before
#: "invalid JSON ...; fix the program that writes it" (a review), a `.ini` declared `image` the same.
TEXT_SUFFIXES = {
    **dict.fromkeys((".yaml", ".yml", ".xml", ".ini", ".cfg", ".toml"), _TEXTUAL),
    **dict.fromkeys((".csv", ".tsv"), ("table", *_TEXTUAL)),
    **dict.fromkeys((".json", ".json.gz"), ("scalars", *_TEXTUAL)),
    **dict.fromkeys((".txt", ".log", ".out", ".dat", ".stats", ".par"), ("text", "table", "scalars", "bytes")),
}
#: The voxel file a pair's header needs declared beside it.
PAIR_VOXELS = {".hdr": ".img", ".hdr.gz": ".img.gz"}


def declared_suffix(path: str, suffixes: Any) -> str | None:
    """The longest of ``suffixes`` the file name of ``path`` ends with (any case), or None."""
    name = path.rsplit("/", 1)[-1].lower()
    return next((s for s in sorted(suffixes, key=len, reverse=True) if name.endswith(s)), None)


class Output(_Strict):
    """A declared result of an execution: a path or glob relative to ``{outdir}``, or a stream it prints.

    ``path: "{stdout}"`` (or ``"{stderr}"``) is the whole stream; a suffix after it (``"{stdout}.csv"``) tells
    the readers its format (default ``.txt``).
    """

    path: str
    kind: Literal["image", "labels", "table", "scalars", "text", "array", "bytes"]
    key_columns: list[str] = []
    # An output the application may leave unwritten (a Boutiques `optional` output: a mask written under a
    # flag, a lesion map when there are lesions): its absence fails no execution; the analysis still fails it
    # when repetitions of one condition disagree on writing it.
    optional: bool = False
    # Observations not to judge (shell-style patterns over their names: `start_epoch`, `timing.*`,
    # `*/elapsed_s`): run-time values a tool writes beside its results (review VC: an epoch time stamp failed
    # every comparison of a release, and only the whole output could be left out)
    ignore: list[str] = []

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        from reprovip.execute.sandbox import STREAM_OUTPUT  # the sandbox saves the stream: one spelling

        if not v.strip():  # every execution then failed, "missing output: res ( is a folder ...)" (review N10)
            raise ValueError("is empty: name the file the application writes, relative to {outdir}")
        if v.startswith("/") or ".." in v.split("/"):
            raise ValueError(f"must be relative to {{outdir}} and stay inside it, got {v!r}")
        if ("{stdout}" in v or "{stderr}" in v) and not STREAM_OUTPUT.match(v):
            raise ValueError(
                f"a printed output is `{{stdout}}` or `{{stderr}}` alone, optionally with a suffix such as "
                f"`{{stdout}}.csv`, got {v!r}"
            )
        return v

    @model_validator(mode="after")
    def _key_columns_of_tables(self) -> Output:
        # a table's reading option: on another kind every execution ran, then every file failed to read (review B)
        if self.key_columns and self.kind != "table":
            raise ValueError(
                f"`key_columns` names the columns that key a table's rows; a {self.kind} output has none: remove "
                "`key_columns`, or declare `kind: table`"
            )
        return self

    @model_validator(mode="after")
    def _ignore_observations(self) -> Output:
        if self.ignore and self.kind in ("image", "labels", "bytes"):
            raise ValueError(
                f"`ignore` names observations of a table, JSON, text or array output; a {self.kind} output has none "
                "by name: remove `ignore`"
            )
        if any(not p.strip() for p in self.ignore):
            raise ValueError("`ignore` holds an empty pattern: name observations, e.g. `ignore: [start_epoch]`")
        return self

    @model_validator(mode="after")
    def _kind_of_suffix(self) -> Output:
        unread = declared_suffix(self.path, UNREAD_SUFFIXES)
        if unread and self.kind != "bytes":
            raise ValueError(f"a {unread} file is {UNREAD_SUFFIXES[unread]}")
        textual = declared_suffix(self.path, TEXT_SUFFIXES)
        if textual and self.kind not in TEXT_SUFFIXES[textual]:
            kinds = TEXT_SUFFIXES[textual]
            raise ValueError(
                f"a {textual} file is read as kind {' or '.join(kinds[:-1])}, not {self.kind!r}"
                + (": YAML, XML and INI are no JSON; their numbers are read by line" if kinds == _TEXTUAL else "")
                + f" (declare `kind: {kinds[0]}`, or `bytes` to compare the files bit for bit)"
            )
        if (labels := declared_suffix(self.path, LABEL_SUFFIXES)) and self.kind not in ("labels", "bytes"):
            raise ValueError(
                f"a {labels} file holds label ids, not {self.kind!r} values: declare `kind: labels` (compared by "
                "Dice per label; or `bytes` to compare the files bit for bit)"
            )
        suffix = declared_suffix(self.path, BINARY_SUFFIXES)
        kinds = BINARY_SUFFIXES.get(suffix or "", ())
        if kinds and self.kind not in (*kinds, "bytes"):
            raise ValueError(
                f"a {suffix} file is read as kind {' or '.join(kinds)}, not {self.kind!r}: declare `kind: {kinds[0]}` "
                "(or `bytes` to compare the files bit for bit)"
            )
        return self


class Factor(_Strict):
    """One execution condition and its levels (label -> value)."""

    name: str
    levels: dict[str, Any]


class CriterionSpec(_Strict):
    """One declared criterion: ``require: "ICC(A,1).ci_low >= 0.9"``, a severity, the outputs it covers."""

    require: str
    severity: Literal["fail", "warn"] = "fail"
    outputs: List[str] = []  # noqa: UP006
    observations: List[str] = []  # noqa: UP006  (glob patterns on observation names, e.g. "*/amplitude")

    @field_validator("require")
    @classmethod
    def _parse(cls, v: str) -> str:
        from reprovip.criteria.rules import parse_rule

        parse_rule(v)
        return v

    @field_validator("outputs", "observations")
    @classmethod
    def _not_empty(cls, v: list[str]) -> list[str]:
        # `[]` read as "all", as if the key were absent: a list emptied by mistake covered everything (a review)
        if v == []:
            raise ValueError("an empty list selects nothing; remove the key to cover everything, or name some")
        return v

    @model_validator(mode="after")
    def _selectable(self) -> CriterionSpec:
        from reprovip.criteria.rules import parse_rule, per_observation

        metric = parse_rule(self.require)[0]
        if self.observations and not per_observation(metric):
            # Ignored, it read as if the criterion covered only those observations.
            raise ValueError(
                f"`observations` selects observations of a table, scalars or label-volume output; `{metric}` is one "
                "value for the whole output (or study): remove `observations`, or use a per-observation metric "
                "(docs/criteria.md)"
            )
        return self


class StudySpec(_Strict):
    """A whole study: application, subjects, factors, repetitions, outputs."""

    name: str | None = Field(default=None, pattern=NAME_RE)
    description: str = ""
    application: Application | None = None  # optional for studies only fed by `reprovip ingest`
    subjects: Subjects | None = None
    factors: dict[str, list[Any] | dict[str, Any]] = {}
    repetitions: int = Field(default=3, ge=1, le=10_000)
    outputs: dict[str, Output]
    timeout: float = Field(default=3600.0, gt=0, le=30 * 86400)
    retries: int = Field(default=0, ge=0, le=100)
    env: dict[str, str] = {}
    criteria: List[CriterionSpec] = []  # noqa: UP006
    on_fail: List[str] | None = None  # noqa: UP006  (argv run with the summary JSON on stdin)
    # Record every file an execution writes (`files`), or also which process read and wrote it (`processes`,
    # under strace): see docs/study-format.md and reprovip.execute.trace.
    trace: Literal["none", "files", "processes"] = "none"
    # Traced files to store in the blob store, not only hash: globs relative to the working folder (`**` for any
    # number of folders). Changes no result, so like `trace` it is not part of the recipe.
    trace_keep: List[str] = []  # noqa: UP006

    @field_validator("trace_keep")
    @classmethod
    def _keep_globs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if v and info.data.get("trace") == "none":  # absent when `trace` itself is invalid
            raise ValueError("`trace_keep` keeps traced files: add `trace: files` (or `processes`), or remove it")
        for g in v:
            if not g or g.startswith("/") or ".." in g.split("/"):
                raise ValueError(f"`trace_keep` glob {g!r} must be relative to the working folder, without `..`")
        return v

    @field_validator("repetitions", "retries", mode="before")
    @classmethod
    def _no_boolean(cls, v: Any) -> Any:
        if isinstance(v, bool):  # `repetitions: true` read as 1 repetition (review M6)
            raise ValueError(f"must be a whole number, got {str(v).lower()}")
        return v

    @field_validator("criteria", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        # `- "sd_ratio <= 0.1"` is short for `- {require: "sd_ratio <= 0.1"}`.
        return [{"require": x} if isinstance(x, str) else x for x in v] if isinstance(v, list) else v

    @field_validator("on_fail")
    @classmethod
    def _argv(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("`on_fail` must be a non-empty argv list")
        return v

    def criteria_list(self) -> list[Any]:
        """The declared criteria as :class:`reprovip.criteria.Criterion` (empty: use the defaults)."""
        from reprovip.criteria.rules import Criterion, parse_rule

        out = []
        for c in self.criteria:
            metric, op, threshold = parse_rule(c.require)
            out.append(Criterion(metric, op, threshold, c.severity, tuple(c.outputs), tuple(c.observations)))
        return out

    @field_validator("outputs")
    @classmethod
    def _some_outputs(cls, v: dict[str, Output]) -> dict[str, Output]:
        if not v:
            raise ValueError("declare at least one output")
        for name in v:
            if not re.match(NAME_RE, name):
                raise ValueError(f"output name {name!r} must match {NAME_RE}")
        paths = {o.path.lower() for o in v.values()}
        for name, o in v.items():
            if (suffix := declared_suffix(o.path, PAIR_VOXELS)) and (
                voxels := o.path[: -len(suffix)] + PAIR_VOXELS[suffix]
            ).lower() not in paths:
                raise ValueError(
                    f"output {name!r} ({o.path}) is the header of a .hdr/.img pair, and no output declares its voxels: "
                    f"add `{name}_voxels: {{path: {voxels}, kind: bytes}}` (a header the same in every execution read "
                    "identical while the voxels differed), or write single-file .nii or .nii.gz images"
                )
        return v

    @field_validator("factors")
    @classmethod
    def _factor_levels(cls, v: dict[str, Any]) -> dict[str, Any]:
        problems = factor_problems(v)
        if problems:
            raise FactorProblems(problems)
        return v

    def factor_list(self) -> list[Factor]:
        """Return the factors with explicit level labels, in declaration order."""
        out = []
        for name, levels in self.factors.items():
            if isinstance(levels, dict):
                out.append(Factor(name=name, levels={as_written(k): as_written(v) for k, v in levels.items()}))
            else:
                labels = [level_label(name, x) for x in levels]  # distinct: checked by factor_problems
                out.append(Factor(name=name, levels=dict(zip(labels, map(as_written, levels), strict=True))))
        return out


class FactorProblems(ValueError):
    """Every bad factor or level, each with its place under ``factors`` (the loader locates each one)."""

    def __init__(self, problems: list[tuple[tuple[Any, ...], str]]) -> None:
        self.problems = problems
        super().__init__(problems[0][1])


def as_written(value: Any) -> Any:
    """A YAML boolean or null as YAML writes it, ``true``, ``false`` or ``null`` (Python's ``True`` and ``None``
    reached applications and Boutiques flags); any other value as it is.

    Examples
    --------
    >>> as_written(True), as_written(None), as_written(0), as_written({"A": "1"})
    ('true', 'null', 0, {'A': '1'})
    """
    if value is None:
        return "null"
    return ("true" if value else "false") if isinstance(value, bool) else value


def level_label(factor: str, value: Any) -> str:
    """The name of a level given in list form: its value (a boolean as YAML writes it), or ``unseeded`` for a
    seed's ``{unseeded: WORD}``."""
    return "unseeded" if factor == "seed" and is_unseeded(value) else str(as_written(value))


def is_unseeded(value: Any) -> bool:
    """A seed level that hands the application its own word for "unseeded": ``{unseeded: none}``."""
    return (
        isinstance(value, dict)
        and list(value) == ["unseeded"]
        and isinstance(value["unseeded"], str | int)
        and not isinstance(value["unseeded"], bool)
    )


def factor_problems(factors: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Every problem of the ``factors`` map, each with its location below ``factors``: (name[, level])."""
    out: list[tuple[tuple[Any, ...], str]] = []
    for name, levels in factors.items():
        if name in RESERVED_FACTOR_NAMES:
            why = RESERVED_FACTOR_NAMES[name]
            out.append(((name,), f"factor name {name!r} is reserved or invalid: {why}; rename the factor"))
        elif not re.match(NAME_RE, name):
            out.append(((name,), f"factor name {name!r} is reserved or invalid: {INVALID_NAME}"))
        elif len(levels) == 0:
            out.append(((name,), f"factor {name!r} needs at least one level"))
        else:
            out += [((name, *loc), msg) for loc, msg in _level_problems(name, levels)]
    return out


_MAPS = {
    "env": (dict, "`env` must map level names to {VARIABLE: value} maps"),
    "args": (list, "`args` must map level names to lists of extra arguments"),
    "environments": (
        list,
        "`environments` must map level names to lists of requirements "
        '(e.g. {old: ["pyamares==0.3.8"], new: ["pyamares==0.3.28"]})',
    ),
}


def _level_problems(name: str, levels: list[Any] | dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """The bad levels of one factor, located by index (list form) or level name (map form)."""
    places = list(levels) if isinstance(levels, dict) else list(range(len(levels)))
    items = list(zip(places, _values(levels), strict=True))
    if name in _MAPS:
        kind, message = _MAPS[name]
        if not isinstance(levels, dict):
            return [((), message)]
        return [((k,), message) for k, d in items if not isinstance(d, kind) or (name == "env" and not _scalars(d))]
    rule = _LEVEL_RULES.get(name)
    out = [((k,), rule[1](x)) for k, x in items if not rule[0](x)] if rule else []
    if name == "container":
        if not isinstance(levels, dict):
            return [((), "`container` must map level names to {engine: ..., image: ...}")]
        for k, d in items:
            if not (isinstance(d, dict) and set(d) == {"engine", "image"}):
                out.append(((k,), "`container` must map level names to {engine: ..., image: ...}"))
            elif d["engine"] not in CONTAINER_ENGINES:
                out.append(
                    ((k, "engine"), f"container engine must be one of {list(CONTAINER_ENGINES)}, got {d['engine']!r}")
                )
    if isinstance(levels, list) and not out:
        seen: set[Any] = set()
        for i, x in items:
            same = _same_level(name, x)
            if same in seen:
                labels = [level_label(name, y) for y in levels]
                out.append(((i,), f"factor {name!r} has duplicate levels {labels}"))
            seen.add(same)
    if name == "seed" and not out:
        given = {x for _, x in items if _is_int(x)}
        for k, x in items:
            if is_unseeded(x) and _seed_number(x["unseeded"]) in given:
                word = x["unseeded"]
                out.append(
                    (
                        (k,),
                        f"the seed level {{unseeded: {word}}} gives the application {word}, as the level {word} does: "
                        "the unseeded condition would run seeded and read identical; write the application's own "
                        "word for unseeded (none, -1, ...)",
                    )
                )
    return out


#: MKL's conditional numerical reproducibility branches a `blas` level may name (``MKL_CBWR``, optionally with
#: ``,STRICT``), each with the OpenBLAS core type of the same instruction set, which the level sets too: OpenBLAS
#: ignores a name it does not know, and `blas: [COMPATIBLE, AVX2]` compared its native kernel with itself,
#: "bit-for-bit identical" (a review). ``AUTO`` is each library's own choice (no core type set).
MKL_CBWR = {
    "AUTO": None,
    "COMPATIBLE": "Prescott",
    "SSE2": "Prescott",
    "SSSE3": "Core2",
    "SSE4_1": "Penryn",
    "SSE4_2": "Nehalem",
    "AVX": "Sandybridge",
    "AVX2": "Haswell",
    "AVX512": "SkylakeX",
    "AVX512_E1": "SkylakeX",
    "AVX512_MIC": "SkylakeX",
}


def mkl_branch(level: Any) -> str | None:
    """The MKL_CBWR branch a `blas` level names (``AVX2`` and ``avx2,strict`` name ``AVX2``), or None."""
    word = str(level).upper().removesuffix(",STRICT")
    return word if word in MKL_CBWR else None


#: The core types ``OPENBLAS_CORETYPE`` selects (OpenBLAS's ``driver/others/dynamic*.c``, compared ignoring case).
OPENBLAS_CORES = frozenset(
    name.lower()
    for name in (
        # x86-64
        "Katmai Coppermine Northwood Prescott Banias Atom Core2 Penryn Dunnington Nehalem Athlon Opteron "
        "Opteron_SSE3 Barcelona Nano Sandybridge Bobcat Bulldozer Piledriver Haswell Steamroller Excavator Zen "
        "SkylakeX Cooperlake SapphireRapids "
        # arm64, POWER, z
        "armv8 cortexa53 cortexa55 cortexa57 cortexa72 cortexa73 cortexa76 cortexa510 cortexa710 cortexx1 cortexx2 "
        "neoversen1 neoversen2 neoversev1 neoversev2 thunderx thunderx2t99 thunderx3t110 tsv110 emag8180 falkor "
        "a64fx armv8sve armv9sme ampere1 power6 power8 power9 power10 z13 z14 zarch_generic"
    ).split()
)


def _closest_core(level: Any) -> str:
    import difflib

    names = [*MKL_CBWR, *sorted(OPENBLAS_CORES)]
    near = difflib.get_close_matches(str(level).lower(), [n.lower() for n in names], n=1, cutoff=0.7)
    return f" (did you mean {near[0]}?)" if near else " (e.g. Haswell, Sandybridge, SkylakeX, Zen, AVX2, AUTO)"


NUMBER_LEVELS = ("threads", "seed", "perturb")  # factors whose levels are numbers to the application, by value


def _seed_number(word: str | int) -> int | None:
    """The seed an application reading ``word`` as a number would take (Python's ``int``, C's ``strtol`` with base
    0, a float parser): ``"042"``, ``" 42"``, ``"+42"``, ``"0x2a"`` and ``"42.0"`` are 42, so an "unseeded" level
    giving them beside seed 42 ran seeded (a review); None for a word no parser reads as a whole number.

    Examples
    --------
    >>> [_seed_number(w) for w in ("042", " +42", "0x2a", "42.0", "none", -1, "1e400")]
    [42, 42, 42, 42, None, -1, None]
    """
    text = str(word).strip()
    for parse in (int, lambda t: int(t, 0), float):
        try:
            value = parse(text)
        except (ValueError, OverflowError):
            continue
        if math.isfinite(value) and value == int(value):
            return int(value)
    return None


def _same_level(name: str, x: Any) -> Any:
    """What makes two list levels one: their names, or for a number factor their values (`perturb: [0, 0.0]`,
    two unperturbed levels, read identical: a review)."""
    if name in NUMBER_LEVELS and isinstance(x, int | float) and not isinstance(x, bool):
        return float(x)
    return level_label(name, x)


def _scalars(variables: dict[str, Any]) -> bool:
    return all(isinstance(v, str | int | float) for v in variables.values())


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# Levels of built-in factors: (accepts(value), message(value)).
_LEVEL_RULES: dict[str, tuple[Any, Any]] = {
    "threads": (
        lambda x: _is_int(x) and 1 <= x <= MAX_THREADS,
        lambda x: f"`threads` levels must be integers >= 1 and <= {MAX_THREADS}, got {x!r}",
    ),
    "seed": (
        lambda x: _is_int(x) or x == "random" or is_unseeded(x),
        lambda x: (
            "`seed` levels must be integers or 'random' (a fresh seed drawn per execution), or "
            f"{{unseeded: WORD}} (the application's own word for unseeded, e.g. none or -1), got {x!r}"
        ),
    ),
    # Below one ULP, rounding gives most values back (all of them at 0.5 or less): the input would not move.
    "perturb": (
        lambda x: (
            x == "verrou" or (isinstance(x, int | float) and not isinstance(x, bool) and (x == 0 or 1 <= x <= 1e6))
        ),
        lambda x: (
            "`perturb` levels must be 0 (unperturbed), a number of ULPs from 1 to 1e6 (below 1, rounding gives most "
            f"values back unchanged) or 'verrou', got {x!r}"
        ),
    ),
    # OpenBLAS falls back to the machine's own kernel for a name it does not know, unsaid: a misspelt level ran
    # the native kernel, and the study read "bit-for-bit identical" (a review)
    "blas": (
        lambda x: isinstance(x, str) and (mkl_branch(x) is not None or x.lower() in OPENBLAS_CORES),
        lambda x: f"`blas` levels are OpenBLAS core types or MKL_CBWR branches, got {x!r}{_closest_core(x)}",
    ),
    "os": (
        lambda x: isinstance(x, str) and re.match(r"^[a-z][a-z0-9-]*$", x) is not None,
        lambda x: f"`os` levels must be Debian release names (bookworm, trixie...), got {x!r}",
    ),
}


def _values(levels: list[Any] | dict[str, Any]) -> list[Any]:
    return list(levels.values()) if isinstance(levels, dict) else list(levels)
