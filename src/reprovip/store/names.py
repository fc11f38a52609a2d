"""Which studies a store holds, for the error of a study it does not hold: a study copied (or its folder
renamed) keeps its results under its old name, the default name being the folder's, and "nothing stored yet"
read as if they were lost (a review)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def stored_names(catalog: Any, name: str) -> list[str]:
    """The names of the studies ``catalog`` holds executions of, other than ``name``, sorted.

    Parameters
    ----------
    catalog : reprovip.store.Catalog
        The store's catalog (or its read-only reader: anything with ``stored_study_names()``).
    name : str
        The study's name, which the catalog does not hold.

    Examples
    --------
    >>> class Catalog:
    ...     def stored_study_names(self):
    ...         return ["b", "new", "old"]
    >>> stored_names(Catalog(), "new")
    ['b', 'old']
    """
    # A study with no execution was only named (a `validate`, an ingest that stored nothing): not a candidate.
    return [n for n in catalog.stored_study_names() if n != name]


def nothing_stored(path: str | Path, name: str, others: list[str]) -> str:
    """The one-line error of a study with nothing stored under ``name``, naming the ``others`` the store holds
    (:func:`stored_names`) and how to analyse one of them.

    Examples
    --------
    >>> print(nothing_stored("copy/study.yaml", "copy", ["orig"]))  # doctest: +ELLIPSIS
    copy/study.yaml: nothing stored under the name 'copy' (...), but this store holds the study 'orig': add ...
    >>> print(nothing_stored("s/study.yaml", "s", []))
    s/study.yaml: nothing stored yet; run `reprovip run` or `reprovip ingest` first
    """
    if not others:
        return f"{path}: nothing stored yet; run `reprovip run` or `reprovip ingest` first"
    held = f"the study {others[0]!r}" if len(others) == 1 else f"the studies {', '.join(map(repr, others))}"
    which = others[0] if len(others) == 1 else "<one of them>"
    return (
        f"{path}: nothing stored under the name {name!r} (a study's name is its folder's unless the study file sets "
        f"`name:`), but this store holds {held}: add `name: {which}` to the study file if it is "
        f"{'that one' if len(others) == 1 else 'one of them'} (copied or renamed), or run `reprovip run` or "
        "`reprovip ingest`"
    )
