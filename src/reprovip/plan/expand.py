"""Cartesian expansion of factors into conditions and executions.

Ids are stable: the same subject, condition and repetition always give the same execution id, so a rerun
finds what was already done.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3

from reprovip.spec.models import StudySpec
from reprovip.spec.subjects import Subject


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


def execution_recipe(recipe: str, condition: Condition) -> str:
    """``recipe`` for the executions of ``condition``: with the values of the levels whose label does not
    spell them (levels given by name, ``{fast: {OMP_PROC_BIND: "true"}}``), so that a level whose value is
    edited under the same name runs again; ``recipe`` itself when every label spells its value (``threads:
    [1, 2]``: a new value is a new label, hence new executions).

    Examples
    --------
    >>> plain = Condition({"threads": "2"}, {"threads": 2})
    >>> named = Condition({"env": "fast"}, {"env": {"OMP_PROC_BIND": "true"}})
    >>> execution_recipe("r", plain), len(execution_recipe("r", named))
    ('r', 16)
    """
    hidden = {k: v for k, v in condition.values.items() if condition.labels[k] != str(v)}
    if not hidden:
        return recipe
    payload = f"{recipe}\0{json.dumps(hidden, sort_keys=True, default=str)}"
    return blake3.blake3(payload.encode()).hexdigest()[:16]


def recipe_hash(spec: StudySpec, study_dir: Path | None = None) -> str:
    """Hash of what decides an execution's result (application, environment, outputs, timeout), and with
    ``study_dir`` the bytes of a Boutiques descriptor the application names (its command line and defaults
    live there: editing it changes the result as editing the command does).

    A completed execution whose recipe changed since is run again on resume.
    """
    recipe = spec.model_dump(include={"application", "env", "outputs", "timeout"})
    if study_dir is not None and spec.application is not None and spec.application.boutiques:
        path = Path(spec.application.boutiques)
        path = path if path.is_absolute() else study_dir / path
        try:
            recipe["descriptor"] = blake3.blake3(path.read_bytes()).hexdigest()
        except OSError as exc:  # `validate` reports an unreadable descriptor; the hash just says it was
            recipe["descriptor"] = f"unreadable: {exc.strerror}"
    return blake3.blake3(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:16]
