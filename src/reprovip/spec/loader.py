"""Load ``study.yaml`` into a :class:`StudySpec`, with file, line and column in every error."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reprovip.errors import SpecError
from reprovip.spec.models import BUILTIN_PLACEHOLDERS, Application, CriterionSpec, Output, StudySpec, Subjects

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_MAX_BYTES = 4 * 1024 * 1024


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
        One line naming the file, line, column and key, and what is expected.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError("no such study file; create one with `reprovip init`", file=str(path))
    if path.stat().st_size > _MAX_BYTES:
        raise SpecError(f"study file is larger than {_MAX_BYTES} bytes; is it the right file?", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read the study file ({exc.__class__.__name__}: {exc})", file=str(path)) from exc
    spec = parse_spec(text, file=str(path))
    if spec.name is None:
        spec = spec.model_copy(update={"name": _safe_name(path.resolve().parent.name)})
    return spec


def parse_spec(text: str, *, file: str = "<study>") -> StudySpec:
    """Parse study YAML text; see :func:`load_spec`."""
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
    try:
        spec = StudySpec.model_validate(_plain(root))
    except ValidationError as exc:
        raise _to_spec_error(exc, root, file) from exc
    try:
        spec.factor_list()
    except ValueError as exc:
        raise _located(str(exc), root, ("factors",), file) from exc
    _check_placeholders(spec, root, file)
    for i, c in enumerate(spec.criteria):
        for j, name in enumerate(c.outputs):
            if name not in spec.outputs:
                raise _located(
                    f"output {name!r} is not declared; declared outputs: {', '.join(sorted(spec.outputs))}",
                    root,
                    ("criteria", i, "outputs", j),
                    file,
                )
        _check_computable(spec, c, root, ("criteria", i), file)
    return spec


def _check_computable(spec: StudySpec, c: Any, root: Any, loc: tuple[Any, ...], file: str) -> None:
    """A criterion that can never be computed on the outputs it covers is an error now, not a failure later."""
    from reprovip.criteria.rules import kind_hint, parse_rule, supports

    metric = parse_rule(c.require)[0]
    named = c.outputs or list(spec.outputs)
    cannot = [n for n in named if not supports(spec.outputs[n].kind, metric)]
    if cannot and (c.outputs or len(cannot) == len(named)):
        kind = spec.outputs[cannot[0]].kind
        raise _located(
            f"`{metric}` can never be computed for output {cannot[0]!r} (kind {kind}); use {kind_hint(kind)}",
            root,
            loc,
            file,
        )


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
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


def _to_spec_error(exc: ValidationError, root: Any, file: str) -> SpecError:
    # An unknown key explains a "missing" one next to it (a typo), so report it first.
    err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = _user_loc(err["loc"], root)
    if not loc:
        return SpecError(err["msg"].removeprefix("Value error, "), file=file)
    if err["type"] == "extra_forbidden":
        bad = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        hint = difflib.get_close_matches(bad, allowed, n=1)
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
    return _located(msg, root, loc, file)


def _check_placeholders(spec: StudySpec, root: Any, file: str) -> None:
    # {seed} and {threads} only mean something when the study declares those factors.
    known = (set(BUILTIN_PLACEHOLDERS) - {"seed", "threads"}) | set(spec.factors) | {f"{f}_level" for f in spec.factors}
    app = spec.application
    items: list[tuple[tuple[Any, ...], str]] = []
    if app is None:
        return
    if app.command is not None:
        items = [(("application", "command", i), s) for i, s in enumerate(app.command)]
    elif app.invocation is not None:
        items = [(("application", "invocation", k), v) for k, v in app.invocation.items() if isinstance(v, str)]
    for loc, text in items:
        for name in _PLACEHOLDER.findall(text):
            if name in ("seed", "threads") and name not in known:
                raise _located(f"placeholder {{{name}}} needs a `{name}` factor (e.g. `{name}: [1]`)", root, loc, file)
            if name not in known:
                hint = difflib.get_close_matches(name, sorted(known), n=1)
                extra = f"; did you mean {{{hint[0]}}}?" if hint else ""
                raise _located(
                    f"unknown placeholder {{{name}}}{extra} (known: {', '.join(sorted(known))})", root, loc, file
                )


def placeholders(text: str) -> list[str]:
    """Return the placeholder names used in ``text``.

    Examples
    --------
    >>> placeholders("--seed={seed} {outdir}/x")
    ['seed', 'outdir']
    """
    return _PLACEHOLDER.findall(text)
