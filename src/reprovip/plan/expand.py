"""Cartesian expansion of factors into conditions and executions.

Ids are stable: the same subject, condition and repetition always give the same execution id, so a rerun
finds what was already done.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3

from reprovip.execute.render import render
from reprovip.spec.models import StudySpec
from reprovip.spec.subjects import Subject
from reprovip.store.blobs import file_hash

# (path, size, mtime_ns) -> BLAKE3 of the file: a run, then its analysis in the same process, read each input
# once (100 inputs of 35 MB: about 0.7 s from the page cache). A touched file is hashed again, to the same digest.
_DIGESTS: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class Condition:
    """One combination of factor levels: ``labels`` are the level names, ``values`` their payloads."""

    labels: dict[str, str]
    values: dict[str, Any] = field(compare=False)

    @property
    def key(self) -> str:
        """A readable, stable key: ``threads=1,seed=42`` (``-`` when the study has no factor)."""
        return ",".join(f"{k}={v}" for k, v in self.labels.items()) or "-"


@dataclass(frozen=True)
class PlannedExecution:
    """One execution to run: (subject, condition, repetition)."""

    id: str
    subject: Subject
    condition: Condition
    repetition: int


def conditions(spec: StudySpec) -> list[Condition]:
    """Return every condition of the study, in the order the factors and levels are declared.

    Examples
    --------
    >>> from reprovip.spec import parse_spec
    >>> spec = parse_spec('''
    ... application: {command: [echo, "{threads}"]}
    ... subjects: {list: [a.txt]}
    ... factors: {threads: [1, 2], seed: [42, random]}
    ... outputs: {o: {path: o.txt, kind: text}}
    ... ''')
    >>> [c.key for c in conditions(spec)]
    ['threads=1,seed=42', 'threads=1,seed=random', 'threads=2,seed=42', 'threads=2,seed=random']
    """
    factors = spec.factor_list()
    combos = itertools.product(*[list(f.levels.items()) for f in factors])
    return [
        Condition(
            labels={f.name: label for f, (label, _) in zip(factors, combo, strict=True)},
            values={f.name: value for f, (_, value) in zip(factors, combo, strict=True)},
        )
        for combo in combos
    ]


def execution_id(study: str, subject: str, condition_key: str, repetition: int) -> str:
    """Stable 16-hex-digit id of an execution; the study is part of it, so studies can share a catalog."""
    return blake3.blake3(f"{study}\0{subject}\0{condition_key}\0{repetition}".encode()).hexdigest()[:16]


def expand(spec: StudySpec, subjects: list[Subject]) -> list[PlannedExecution]:
    """Return every execution: subjects x conditions x repetitions (repetitions numbered from 1)."""
    return [
        PlannedExecution(execution_id(spec.name or "study", s.id, c.key, r), s, c, r)
        for s in subjects
        for c in conditions(spec)
        for r in range(1, spec.repetitions + 1)
    ]


def execution_recipe(
    recipe: str, condition: Condition, subject: Subject | None = None, study_dir: Path | None = None
) -> str:
    """``recipe`` for the executions of ``condition``: with the values of the levels whose label does not
    spell them (levels given by name, ``{fast: {OMP_PROC_BIND: "true"}}``), so that a level whose value is
    edited under the same name runs again; ``recipe`` itself when every label spells its value (``threads:
    [1, 2]``: a new value is a new label, hence new executions).

    With ``subject``, 16 more hex digits for its input (see :func:`input_recipe`): the first 16 are the
    condition's, so a check that cannot read the input any more still compares them.

    Examples
    --------
    >>> plain = Condition({"threads": "2"}, {"threads": 2})
    >>> named = Condition({"env": "fast"}, {"env": {"OMP_PROC_BIND": "true"}})
    >>> execution_recipe("r", plain), len(execution_recipe("r", named))
    ('r', 16)
    """
    hidden = {k: v for k, v in condition.values.items() if condition.labels[k] != str(v)}
    if hidden:
        payload = f"{recipe}\0{json.dumps(hidden, sort_keys=True, default=str)}"
        recipe = blake3.blake3(payload.encode()).hexdigest()[:16]
    return recipe if subject is None else recipe + input_recipe(subject, study_dir or Path.cwd())


def input_recipe(subject: Subject, study_dir: Path) -> str:
    """16 hex digits of a subject's input: its path (relative to the study folder when inside it, so a copied
    folder keeps its recipes) and, for a file, the BLAKE3 of its bytes. A folder counts by its path only: tools
    write into their subject's folder (FreeSurfer's, a log appended), which changed the recipe at every run, so
    the study never completed (a review)."""
    path = Path(study_dir, subject.input)
    content = "folder" if path.is_dir() else content_digest(path)
    payload = f"{_study_relative(path, study_dir)}\0{content}"
    return blake3.blake3(payload.encode()).hexdigest()[:16]


def execution_recipes(
    spec: StudySpec, study_dir: Path, planned: Iterable[PlannedExecution], stored: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The recipe of each planned execution, by id: :func:`recipe_hash`, the condition's named level values and
    the subject's input (each input hashed once). With ``stored`` (the recipes the catalog holds, by id), an
    execution stored under the recipe an earlier reprovip hashed with `key_columns` keeps it: the same one
    (upgrading re-ran no stored execution)."""
    bases = [recipe_hash(spec, study_dir)]
    if stored and any(o.key_columns for o in spec.outputs.values()):
        bases.append(recipe_hash(spec, study_dir, legacy=True))
    by_condition: dict[tuple[str, int], str] = {}
    by_subject: dict[str, str] = {}
    out = {}
    for p in planned:
        if p.subject.id not in by_subject:
            by_subject[p.subject.id] = input_recipe(p.subject, study_dir)
        for i, base in enumerate(bases):
            if (p.condition.key, i) not in by_condition:
                by_condition[(p.condition.key, i)] = execution_recipe(base, p.condition)
        recipes = [by_condition[(p.condition.key, i)] + by_subject[p.subject.id] for i in range(len(bases))]
        out[p.id] = recipes[1] if len(recipes) > 1 and (stored or {}).get(p.id) == recipes[1] else recipes[0]
    return out


def recipe_hash(spec: StudySpec, study_dir: Path | None = None, *, legacy: bool = False) -> str:
    """Hash of what decides an execution's result (application, environment, outputs, timeout), and with
    ``study_dir`` the bytes of a Boutiques descriptor the application names (its command line and defaults
    live there: editing it changes the result as editing the command does) and of the files the command names
    in the study folder (see :func:`command_files`).

    A completed execution whose recipe changed since is run again on resume.
    """
    # Without defaults: a key a newer reprovip adds (an output's `optional`) leaves the recipes of studies run
    # before the same, where upgrading re-ran every stored execution as "an earlier recipe" (a review).
    # An output's `ignore` and `key_columns` are the analysis' choice, not the execution's: adding one re-ran
    # nothing (no re-run of a study to leave a time stamp out, nor to key a table by two columns: review C's
    # `key_columns` made every done execution "run with an earlier recipe"). ``legacy``: as reprovip hashed before,
    # `key_columns` included (:func:`execution_recipes` keeps such a stored recipe).
    recipe = spec.model_dump(
        include={"application", "env", "outputs", "timeout"},
        exclude={"outputs": {"__all__": {"ignore"} if legacy else {"ignore", "key_columns"}}},
        exclude_defaults=True,
    )
    if study_dir is not None and spec.application is not None:
        if spec.application.boutiques:
            path = Path(spec.application.boutiques)
            # `validate` reports an unreadable descriptor; the hash just says it was
            recipe["descriptor"] = content_digest(path if path.is_absolute() else study_dir / path)
        recipe["files"] = command_files(spec, study_dir)
    return blake3.blake3(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:16]


def command_files(spec: StudySpec, study_dir: Path) -> dict[str, str]:
    """BLAKE3 of each file the application's command names (see :func:`command_paths`), keyed by the path relative
    to the study folder."""
    return {key: content_digest(path) for key, path in command_paths(spec, study_dir).items()}


def application_files(spec: StudySpec, study_dir: Path) -> dict[str, Path]:
    """The application's files: those its command names (:func:`command_paths`) and a Boutiques descriptor."""
    paths = dict(command_paths(spec, study_dir))
    if spec.application is not None and spec.application.boutiques:
        path = Path(spec.application.boutiques)
        paths["descriptor"] = path if path.is_absolute() else study_dir / path
    return paths


def files_stamp(paths: dict[str, Path]) -> str:
    """What the file system says of ``paths`` (:func:`application_files`): inode, size and modification and change
    times. Unlike their bytes, it tells a script swapped for another and back (`cp` both ways, even `cp -p`: the
    change time moves) while a run ran (review H: two codes' executions recorded as one, blamed on threads)."""
    stamps = {}
    for key, path in sorted(paths.items()):
        try:
            st = path.stat()
            stamps[key] = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        except OSError as exc:
            stamps[key] = [exc.errno]
    return blake3.blake3(json.dumps(stamps).encode()).hexdigest()[:16]


def command_paths(spec: StudySpec, study_dir: Path) -> dict[str, Path]:
    """Each file the application's command names (in any condition) inside the study folder or through
    ``{study_dir}``: its script, a configuration; keyed by the path relative to the study folder.

    The command, the ``args`` levels, the Boutiques invocation's values and the ``env`` values (top level and
    the ``env`` factor's levels) are read, with ``{study_dir}`` and the
    factors' placeholders filled in, whole or after a ``--name=``; what is left with another placeholder
    (``{input}``, ``{outdir}``), a relative path (it names a file of the execution's own folder), a folder, or a
    file outside the study folder not named through ``{study_dir}`` is not hashed.
    """
    app = spec.application
    texts = list(app.command or [])
    texts += [str(v) for v in (app.invocation or {}).values() if isinstance(v, str)]
    # ... and the `env` values: a configuration named `SEG_CONFIG: "{study_dir}/cfg.json"` was edited and nothing
    # ran again, where `--config={study_dir}/cfg.json` would have (review CA)
    texts += [str(v) for v in spec.env.values()]
    levels = spec.factors.get("env")
    for payload in levels.values() if isinstance(levels, dict) else ():
        texts += [str(v) for v in (payload.values() if isinstance(payload, dict) else payload)]
    found: dict[str, Path] = {}
    for c in conditions(spec):
        values: dict[str, Any] = {"study_dir": str(study_dir)}
        for name, value in c.values.items():
            scalar = isinstance(value, str | int | float) and not isinstance(value, bool)
            values[name], values[f"{name}_level"] = (value if scalar else c.labels[name]), c.labels[name]
        args = c.values.get("args")
        for text in texts + ([str(a) for a in args] if isinstance(args, list) else []):
            for candidate in {text, text.split("=", 1)[-1]}:
                rendered = render(candidate, values)
                path = Path(rendered)
                named = "{study_dir}" in candidate
                if "{" in rendered or not (named or path.is_absolute()) or not path.is_file():
                    continue
                key = _study_relative(path, study_dir)
                if named or not key.startswith(".."):
                    found[key] = path
    return found


def content_digest(path: Path) -> str:
    """BLAKE3 of a file's bytes (hashed once per process while its size and modification time stay);
    ``unreadable: <reason>`` when it cannot be read, which no digest equals."""
    try:
        st = path.stat()
        key = (str(path.absolute()), st.st_size, st.st_mtime_ns)
        if key not in _DIGESTS:
            _DIGESTS[key] = file_hash(path)
        return _DIGESTS[key]
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _study_relative(path: Path, study_dir: Path) -> str:
    """``path`` relative to the study folder (``../x`` outside it), both made absolute without resolving links."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(study_dir))).as_posix()
