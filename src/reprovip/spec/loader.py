"""Load ``study.yaml`` into a :class:`StudySpec`, with file, line and column in every error."""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reprovip.errors import SpecError
from reprovip.execute.render import FACTOR_VARIABLES  # what the built-in factors set: one list
from reprovip.spec.models import (
    BUILTIN_PLACEHOLDERS,
    HOOK_PLACEHOLDERS,
    NUMBER_LEVELS,
    Application,
    CriterionSpec,
    FactorProblems,
    Output,
    StudySpec,
    Subjects,
)

# What a placeholder, or a typo of one, looks like: a name between braces, spaces, dots and hyphens allowed (`{ input}`,
# `{sub.id}` are said). Not braces around text with quotes, `$`, `:` or the like: a webhook's JSON payload
# (`{"text": ...}`), an awk program (`{print $1}`), a Python dict, passed as they are (review B: refused)
_PLACEHOLDER = re.compile(r"\{(\s*[A-Za-z_][\w.\- ]*)\}")
_MAX_BYTES = 4 * 1024 * 1024
_MAX_VALUES = 100_000  # values of the document once YAML aliases are expanded


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study file.

    Parameters
    ----------
    path : str or Path
        The ``study.yaml`` file.

    Returns
    -------
    StudySpec
        The validated study, with ``name`` defaulted to the study folder's name.

    Raises
    ------
    SpecError
        Every problem found, one line each, naming the file, line, column and key, and what is expected.
    """
    spec, problems = inspect_file(path)
    if problems or spec is None:
        raise SpecError.gather(problems)
    return spec


def inspect_file(path: str | Path) -> tuple[StudySpec | None, list[SpecError]]:
    """Read a study file and return the spec with every problem found (see :func:`inspect_spec`).

    Raises
    ------
    SpecError
        The file cannot be read as a YAML mapping: nothing else can be checked.
    """
    path = Path(path)
    if path.is_dir():
        inner = path / "study.yaml"
        todo = (
            f"pass the study file inside it: {inner}"
            if inner.is_file()
            else f"create a study file with `reprovip init -o {inner} -- COMMAND...`"
        )
        raise SpecError(f"is a folder, not a study file; {todo}", file=str(path))
    if not path.is_file():
        raise SpecError("no such study file; create one with `reprovip init`", file=str(path))
    if path.stat().st_size > _MAX_BYTES:
        raise SpecError(f"study file is larger than {_MAX_BYTES} bytes; is it the right file?", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read the study file ({exc.__class__.__name__}: {exc})", file=str(path)) from exc
    spec, problems = inspect_spec(text, file=str(path))
    if spec is not None and spec.name is None:
        spec = spec.model_copy(update={"name": _safe_name(path.resolve().parent.name)})
    return spec, problems


def parse_spec(text: str, *, file: str = "<study>") -> StudySpec:
    """Parse study YAML text; see :func:`load_spec`. Every problem found is reported, one per line."""
    spec, problems = inspect_spec(text, file=file)
    if problems or spec is None:
        raise SpecError.gather(problems)
    return spec


def inspect_spec(text: str, *, file: str = "<study>") -> tuple[StudySpec | None, list[SpecError]]:
    """Parse study YAML text and return the spec with every problem found, instead of raising on the first.

    Keys and types are checked first, all together; the spec is None when they fail. Placeholders and
    criteria need a spec, so they are checked (all together) once it exists.

    Raises
    ------
    SpecError
        The text is not a YAML mapping: nothing else can be checked.
    """
    root = _yaml_root(text, file)
    try:
        spec = StudySpec.model_validate(_plain(root, [_MAX_VALUES], file))
    except ValidationError as exc:
        return None, _to_spec_errors(exc, root, file)
    problems = (
        _check_placeholders(spec, root, file)
        + _check_factor_variables(spec, root, file)
        + _check_subject_ids(root, file)
        + _check_level_numbers(root, text, file)
    )
    for i, c in enumerate(spec.criteria):
        bad = [(j, n) for j, n in enumerate(c.outputs) if n not in spec.outputs]
        problems += [
            _located(
                f"output {n!r} is not declared; declared outputs: {', '.join(sorted(spec.outputs))}",
                root,
                ("criteria", i, "outputs", j),
                file,
            )
            for j, n in bad
        ]
        if not bad:
            problems += _check_computable(spec, c, root, ("criteria", i), file)
    return spec, problems


def locator(file: str | Path) -> Callable[..., SpecError]:
    """A function ``(message, loc, key=None)`` making a :class:`SpecError` at ``loc`` in ``file``.

    For checks made after loading (subjects and files on disk), which only know the spec; the file is read
    again on the first call. ``key`` overrides the dotted key shown (default: ``loc`` joined by dots).
    """
    roots: list[Any] = []

    def located(message: str, loc: tuple[Any, ...], key: str | None = None) -> SpecError:
        if not roots:
            try:
                roots.append(_yaml_root(Path(file).read_text(encoding="utf-8"), str(file)))
            except (OSError, UnicodeDecodeError, SpecError):
                roots.append(None)  # changed under us: the error still names the file and key
        err = _located(message, roots[0], loc, str(file))
        if key is not None:
            err = SpecError(message, file=err.file, line=err.line, column=err.column, key=key)
        return err

    return located


def _yaml_root(text: str, file: str) -> Any:
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise SpecError(f"malformed YAML: {exc.problem or exc.context}", file=file, line=line, column=col) from exc
    except YAMLError as exc:
        raise SpecError(f"malformed YAML: {exc}", file=file) from exc
    if not isinstance(root, dict):
        raise SpecError("the study must be a YAML mapping (key: value lines)", file=file, line=1, column=1)
    return root


def _check_computable(spec: StudySpec, c: Any, root: Any, loc: tuple[Any, ...], file: str) -> list[SpecError]:
    """A criterion that can never be computed on the outputs it covers is an error now, not a failure later."""
    from reprovip.criteria.rules import kind_hint, parse_rule, supports

    metric = parse_rule(c.require)[0]
    named = c.outputs or list(spec.outputs)
    cannot = [n for n in named if not supports(spec.outputs[n].kind, metric)]
    if not (cannot and (c.outputs or len(cannot) == len(named))):
        return []
    kind = spec.outputs[cannot[0]].kind
    message = f"`{metric}` can never be computed for output {cannot[0]!r} (kind {kind}); use {kind_hint(kind)}"
    return [_located(message, root, loc, file)]


def _plain(node: Any, budget: list[int], file: str) -> Any:
    """Plain dicts and lists; ``budget`` counts values down, so YAML aliases cannot expand a small file
    exponentially (a "billion laughs" document) before anything is checked."""
    budget[0] -= 1
    if budget[0] < 0:
        raise SpecError(
            f"the document expands to more than {_MAX_VALUES} values (through YAML aliases `*name`?); "
            "a study needs far fewer: write the values out",
            file=file,
        )
    if isinstance(node, dict):
        return {str(k): _plain(v, budget, file) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, budget, file) for v in node]
    return node


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_\-]", "_", name) or "study"
    return cleaned if re.match(r"^[A-Za-z_]", cleaned) else f"s_{cleaned}"


def _locate(root: Any, loc: tuple[Any, ...]) -> tuple[int | None, int | None]:
    """1-based line and column of the deepest node of ``loc`` found in the ruamel tree."""
    node, line, col = root, None, None
    for part in loc:
        try:
            if isinstance(node, CommentedMap) and part in node:
                line, col = node.lc.key(part)
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line, col = node.lc.item(part)
                node = node[part]
            else:
                break
        except (KeyError, TypeError, AttributeError):
            break
    return (line + 1 if line is not None else None, col + 1 if col is not None else None)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] | None = StudySpec
    if loc[:1] == ("application",):
        model = Application
    elif loc[:1] == ("subjects",):
        model = Subjects
    elif loc[:1] == ("outputs",) and len(loc) >= 2:
        model = Output
    elif loc[:1] == ("criteria",) and len(loc) >= 2:
        model = CriterionSpec
    return list(model.model_fields) if model else []


def _located(message: str, root: Any, loc: tuple[Any, ...], file: str) -> SpecError:
    line, col = _locate(root, loc)
    key = ".".join(str(p) for p in loc) or None
    return SpecError(message, file=file, line=line, column=col, key=key)


def _user_loc(loc: tuple[Any, ...], root: Any) -> tuple[Any, ...]:
    """Keep the parts of a pydantic location that are the user's keys and indices.

    pydantic adds union-member names (``list[str]``) and validator tags; they are not in the document.
    A key that the document lacks (a missing required key) is kept as the last part.
    """
    node, kept = root, []
    for i, part in enumerate(loc):
        if isinstance(node, dict) and str(part) in {str(k) for k in node}:
            key = next(k for k in node if str(k) == str(part))
            kept.append(part)
            node = node[key]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            kept.append(part)
            node = node[part]
        elif i == len(loc) - 1 and isinstance(part, str) and isinstance(node, dict):
            kept.append(part)
    return tuple(kept)


def _to_spec_errors(exc: ValidationError, root: Any, file: str) -> list[SpecError]:
    """Every pydantic error as a located SpecError: one per place (unions report several), typos first."""
    found: dict[tuple[Any, ...], SpecError] = {}
    suggested: set[tuple[Any, ...]] = set()
    # An unknown key explains a "missing" one next to it (a typo), so unknown keys come first.
    for err in sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden"):
        loc = _user_loc(err["loc"], root)
        problems = err.get("ctx", {}).get("error")
        if isinstance(problems, FactorProblems):
            for where, message in problems.problems:
                found.setdefault(("factors", *where), _located(message, root, ("factors", *where), file))
        elif err["type"] == "missing" and loc in suggested:
            continue
        elif loc not in found:
            found[loc] = _one_error(err, loc, root, file, suggested)
    return list(found.values())


def _one_error(err: Any, loc: tuple[Any, ...], root: Any, file: str, suggested: set[tuple[Any, ...]]) -> SpecError:
    if not loc:
        return SpecError(err["msg"].removeprefix("Value error, "), file=file)
    if err["type"] == "extra_forbidden":
        bad = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        hint = difflib.get_close_matches(bad, allowed, n=1)
        suggested.update((*loc[:-1], h) for h in hint)
        suggestion = f"; did you mean `{hint[0]}`?" if hint else f"; allowed keys: {', '.join(allowed)}"
        return _located(f"unknown key `{bad}`{suggestion}", root, loc, file)
    if err["type"] == "missing":
        return (
            _located(f"missing required key `{loc[-1]}`", root, loc[:-1], file)
            if loc[:-1]
            else SpecError(f"missing required key `{loc[-1]}`", file=file, key=str(loc[-1]))
        )
    got = err.get("input")
    msg = err["msg"].removeprefix("Value error, ")
    if not isinstance(got, dict | list) and repr(got) not in msg:
        msg += f" (got {repr(got)[:60]})"
    shape = _shape_hint(loc) if err["type"] in ("dict_type", "model_type", "model_attributes_type") else None
    if shape:  # a mapping written as a list or a word (a review: `subjects: [s1, s2]`): say how to write it
        msg = f"expected a mapping, got {_yaml_kind(got)}; {shape}"
    if err["type"] == "list_type" and isinstance(got, str) and " " in got.strip():
        # A command line written as one string (a review): say how to write it, as the argv list it must be
        try:
            words = shlex.split(got)
        except ValueError:  # an unbalanced quote: the words as they are
            words = got.split()
        msg += f"; write it as a list of arguments, never run through a shell: {json.dumps(words)}"
    return _located(msg, root, loc, file)


# How each mapping of the study is written, for an error that got something else (the docs' example, shortened).
_SHAPES = {
    ("application",): "write `command: [...]` (an argv list), `boutiques: tool.json` or `python: module:function`",
    ("subjects",): (
        "write one of `glob: data/{subject}.nii.gz`, `list: [data/a.nii.gz, ...]` (paths), "
        "`map: {sub-01: data/a.nii.gz}` or `bids: {root: bids/}` under it"
    ),
    ("outputs",): "name each output: `volumes: {path: volumes.csv, kind: table}`",
    ("outputs", "*"): (
        "write `{path: volumes.csv, kind: table}` (kind: image, labels, table, scalars, text, array or bytes)"
    ),
    ("factors",): "name each factor with its levels: `threads: [1, 2]`, `seed: [42, random]`",
    ("env",): 'write `NAME: value` pairs: `env: {MY_TOOL_SEED: "{seed}"}`',
    ("criteria", "*"): 'write `{require: "ICC(A,1).ci_low >= 0.9"}`, optionally with severity, outputs, observations',
}


def _shape_hint(loc: tuple[Any, ...]) -> str | None:
    return _SHAPES.get(loc) or _SHAPES.get((*loc[:-1], "*")) if loc else None


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else f"{type(value).__name__} {repr(value)[:60]}"


# Placeholders known only when the execution starts, in its own folder: the environment is built before.
_LATE = {"outdir": "the execution's folder is made when it starts; pass {outdir} on the command line"}


_NOT_IN_OUTPUT_PATHS = {
    "outdir": "output paths are relative to {outdir} already",
    "input": "it is an absolute path; name the file with {subject} instead",
    "study_dir": "output paths are relative to {outdir}",
    "python": "it is the interpreter's path",
}


def _check_placeholders(spec: StudySpec, root: Any, file: str) -> list[SpecError]:
    """Placeholders of the command (or invocation), `args` levels, `env` values and output paths: each must be
    known (output paths: the execution's subject, repetition and factors only)."""
    # {seed} and {threads} only mean something when the study declares those factors.
    known = (set(BUILTIN_PLACEHOLDERS) - {"seed", "threads"}) | set(spec.factors) | {f"{f}_level" for f in spec.factors}
    app = spec.application
    items: list[tuple[tuple[Any, ...], str, bool]] = []  # (location, text, is an environment value)
    if app is not None and app.command is not None:
        items += [(("application", "command", i), a, False) for i, a in enumerate(app.command)]
    elif app is not None and app.invocation is not None:
        items += [(("application", "invocation", k), v, False) for k, v in app.invocation.items() if isinstance(v, str)]
    items += [(("env", k), v, True) for k, v in spec.env.items()]
    for name, kind in (("args", list), ("env", dict)):
        levels = spec.factors.get(name)
        for level, payload in (levels or {}).items() if isinstance(levels, dict) else ():
            keys = range(len(payload)) if kind is list else payload
            items += [(("factors", name, level, k), str(payload[k]), kind is dict) for k in keys]
    problems = []
    for loc, text, is_env in items:
        for name in _PLACEHOLDER.findall(text):
            message = _placeholder_problem(name, known, spec if is_env else None)
            if message:
                problems.append(_located(message, root, loc, file))
    for i, arg in enumerate(spec.on_fail or []):  # run after the analysis, in the study's folder: no execution's
        for name in _PLACEHOLDER.findall(arg):
            if name not in HOOK_PLACEHOLDERS:
                message = (
                    f"placeholder {{{name}}} is no placeholder of `on_fail`, which knows "
                    f"{', '.join(f'{{{p}}}' for p in HOOK_PLACEHOLDERS)} only (it runs once, after the analysis, "
                    "in the study's folder, with the summary JSON on its standard input)"
                )
                problems.append(_located(message, root, ("on_fail", i), file))
    from reprovip.execute.sandbox import STREAM_OUTPUT  # as the models' validator: one spelling of a stream

    # An output path may name the execution ({subject}_brain.nii.gz); it is relative to {outdir}.
    in_paths = known - set(_NOT_IN_OUTPUT_PATHS)
    for name, out in spec.outputs.items():
        if STREAM_OUTPUT.match(out.path):
            continue
        for ph in _PLACEHOLDER.findall(out.path):
            if ph in _NOT_IN_OUTPUT_PATHS:
                message = f"{{{ph}}} cannot be used in an output path: {_NOT_IN_OUTPUT_PATHS[ph]}"
            elif app is None:  # ingest only: `ingest --pattern` names the factors and fills their placeholders
                message = None
            else:
                message = _placeholder_problem(ph, in_paths, None)
            if message:
                problems.append(_located(message, root, ("outputs", name, "path"), file))
    return problems


def _check_subject_ids(root: Any, file: str) -> list[SpecError]:
    """Subject ids that YAML reads as numbers (``01: a.txt`` is the subject 1, ``1e3`` the subject 1000.0) are
    refused: they would not be the ids written (a review's ids were renamed without a word)."""
    subjects = root.get("subjects") if isinstance(root, dict) else None
    ids = subjects.get("map") if isinstance(subjects, dict) else None
    if not isinstance(ids, dict):
        return []
    return [
        _located(
            f"the subject id written here reads as the number {k!r} in YAML: quote it (`'01': ...`) so that it "
            "stays as written",
            root,
            ("subjects", "map", k),
            file,
        )
        for k in ids
        if not isinstance(k, str)
    ]


# The levels of NUMBER_LEVELS factors are numbers to the application (a count of threads, a seed, ULPs): a
# number's name is its value. The levels of any other factor are names, handed over as written ({version}).
_SCALAR = re.compile(r"[-+.\w]+")  # a YAML number as written: digits, sign, point, exponent, 0x, underscores


def _scalar(value: Any) -> bool:
    """A number as YAML read it (a level or a map payload that may not be what was written); booleans are
    named and given as YAML writes them (:func:`~reprovip.spec.models.as_written`)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_level_numbers(root: Any, text: str, file: str) -> list[SpecError]:
    """A level that YAML reads as a number other than written is refused at its line: ``version: [1.9, 1.10]``
    named its second level ``1.1`` (``1.20`` is ``1.2``, ``01`` is ``1``), so ``{version}`` ran 1.1, and the
    folders ``1.10`` that ingest finds were another level than the one declared (a review). So is a number in
    a map's payload (``{new: 1.10}`` gave the application ``1.1``)."""
    factors = root.get("factors")
    lines = text.splitlines()
    problems = []
    for name, levels in factors.items() if isinstance(factors, dict) else ():
        if name in NUMBER_LEVELS:
            continue
        if isinstance(levels, CommentedSeq):
            places = [((i,), x, levels.lc.item(i), "level") for i, x in enumerate(levels)]
        elif isinstance(levels, CommentedMap):  # map form: the keys are the levels' names, a value its payload
            places = [((k,), k, levels.lc.key(k), "level") for k in levels]
            places += [((k,), v, levels.lc.value(k), "payload") for k, v in levels.items() if _scalar(v)]
        else:
            continue
        for where, value, (line, col), what in places:
            if not _scalar(value):
                continue
            written = _SCALAR.match(lines[line][col:]) if line < len(lines) else None
            if written and written.group() != str(value):
                becomes = (
                    f"this level would be named {value}"
                    if what == "level"
                    else f"the application would be given {value}"
                )
                problems.append(
                    _located(
                        f"`{written.group()}` reads as the number {value} in YAML, so {becomes}: quote it "
                        f'(`"{written.group()}"`) to keep it as written',
                        root,
                        ("factors", name, *where),
                        file,
                    )
                )
    return problems


def _check_factor_variables(spec: StudySpec, root: Any, file: str) -> list[SpecError]:
    """Under a `threads` (`seed`, `blas`, `perturb`) factor, no environment may set a variable the factor sets:
    whichever is applied last wins, so every level could run alike and the study compare nothing (a review:
    an `env` level pinning OMP_NUM_THREADS under `threads: [1, 4]` read "bit-for-bit identical"). Nor may an
    `env` level set what the top-level `env` sets from another factor's placeholder (`TOOL_MODE: "{mode}"`),
    unless its own value names that factor too (`"{mode}-fast"`): the level overrode it, `mode`'s levels all
    ran alike and read "bit-for-bit identical" (a review)."""
    # variable -> (why it is not this env's to set, the factor whose placeholder a level may use instead)
    owned: dict[str, tuple[str, str | None]] = {
        v: (f"the `{f}` factor sets it (to each of its levels)", None)
        for f, vs in FACTOR_VARIABLES.items()
        if f in spec.factors
        for v in vs
    }
    envs: list[tuple[tuple[Any, ...], dict[str, Any], dict[str, tuple[str, str | None]]]] = [
        (("env",), spec.env, dict(owned))
    ]
    levels = spec.factors.get("env")
    if isinstance(levels, dict):
        for name, value in spec.env.items():
            if name not in owned and (factor := _factor_named(str(value), spec)):
                owned[name] = (f"the top-level `env` sets it from {{{factor}}}, to each level of that factor", factor)
        envs += [(("factors", "env", level), variables, owned) for level, variables in levels.items()]
    return [
        _located(f"remove {name} from this `env`: {why[name][0]}", root, (*loc, name), file)
        for loc, variables, why in envs
        for name, value in variables.items()
        if name in why and not (why[name][1] and _factor_named(str(value), spec) == why[name][1])
    ]


def _factor_named(text: str, spec: StudySpec) -> str | None:
    """The first declared factor (other than `env`) whose placeholder ``{name}`` or ``{name_level}`` is in
    ``text``."""
    for name in re.findall(r"\{(\w+)\}", text):
        factor = name.removesuffix("_level")
        if factor in spec.factors and factor != "env":
            return factor
    return None


def _placeholder_problem(name: str, known: set[str], env_of: StudySpec | None) -> str | None:
    """What is wrong with ``{name}``; ``env_of`` is the study when the text is an environment variable's."""
    if name in ("seed", "threads") and name not in known:
        return f"placeholder {{{name}}} needs a `{name}` factor (e.g. `{name}: [1]`)"
    if name not in known:
        hint = difflib.get_close_matches(name, sorted(known), n=1)
        extra = f"; did you mean {{{hint[0]}}}?" if hint else ""
        return f"unknown placeholder {{{name}}}{extra} (known: {', '.join(sorted(known))})"
    if env_of is not None and name in _LATE:
        return f"{{{name}}} cannot be used in an environment variable: {_LATE[name]}"
    if env_of is not None and name == "input" and "perturb" in env_of.factors:
        return (
            "{input} cannot be used in an environment variable under a `perturb` factor: the perturbed copy "
            "is made when the execution starts; pass {input} on the command line"
        )
    return None


def placeholders(text: str) -> list[str]:
    """Return the placeholder names used in ``text``.

    Examples
    --------
    >>> placeholders("--seed={seed} {outdir}/x")
    ['seed', 'outdir']
    """
    return _PLACEHOLDER.findall(text)
