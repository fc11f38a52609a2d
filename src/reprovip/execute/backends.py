"""Execution backends: each is a ``concurrent.futures.Executor`` factory, declared once in a registry.

Optional backends are imported lazily, so the Dask extra is only needed when it is used.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from reprovip.errors import InputError


@dataclass(frozen=True)
class Backend:
    """An executor and what the runner must know about it."""

    executor: Executor
    shared_filesystem: bool  # False: outputs come back as bytes
    # Set by a backend that queues executions (a Slurm array) and knows when each starts: the runner calls it
    # once, before submitting, with the function that marks execution ids running in the study's own catalog
    # (Catalog.mark_running), so the backend never opens a catalog itself.
    report_running: Callable[[Callable[[list[str]], None]], None] | None = None
    # Set by a backend that can lose a task before it starts (a Dask worker killed with tasks queued on it): given
    # a future that failed in the backend, whether its task ever began (None: unknown). The runner does not count
    # a task that never began as an attempt of the application (review DK5).
    began: Callable[[Future[Any]], bool | None] | None = None


BACKENDS: dict[str, Callable[[str, int], contextlib.AbstractContextManager[Backend]] | str] = {
    "local": "reprovip.execute.local:local",
    "dask": "reprovip.execute.dask_backend:scheduler",
    "dask-local": "reprovip.execute.dask_backend:local_cluster",
    "slurm": "reprovip.execute.dask_backend:jobqueue",
    "slurm-array": "reprovip.execute.slurm_array:slurm_array",
    "pbs": "reprovip.execute.dask_backend:jobqueue",
    "sge": "reprovip.execute.dask_backend:jobqueue",
    "lsf": "reprovip.execute.dask_backend:jobqueue",
    "htcondor": "reprovip.execute.dask_backend:jobqueue",
    "carmin+https": "reprovip.execute.carmin:carmin_backend",
    "carmin+http": "reprovip.execute.carmin:carmin_backend",
}


def executor_options(spec: str, accepted: Sequence[str]) -> dict[str, str]:
    """The ``?key=value`` options of executor ``spec``, every key one of ``accepted`` (the last of a repeated key).

    Parameters
    ----------
    spec : str
        The executor as given to ``--executor``: ``dask-local?processes=1``, ``dask://HOST:PORT?shared=1``...
    accepted : Sequence[str]
        The keys this executor takes (none for ``local``).

    Returns
    -------
    dict[str, str]
        Key to value, the keys given only.

    Raises
    ------
    InputError
        An unknown key (naming it, the executor and the accepted keys) or a key without a value.

    Examples
    --------
    >>> executor_options("dask-local?processes=1", ["shared", "processes"])
    {'processes': '1'}
    """
    name = spec.split("://", 1)[0] if "://" in spec else spec.split("?", 1)[0]
    query = spec.split("?", 1)[1] if "?" in spec else ""
    options = {}
    # Blank values kept: `local?x` was dropped by parse_qs and accepted silently (review DK6)
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in accepted:
            takes = f"accepts {', '.join(f'`{k}`' for k in accepted)}" if accepted else "takes no options"
            raise InputError(f"executor {spec!r}: unknown option {key!r}; the `{name}` executor {takes}")
        if not value:
            raise InputError(f"executor {spec!r}: option {key!r} needs a value, as in {key}=VALUE")
        options[key] = value
    return options


def open_backend(spec: str, jobs: int) -> contextlib.AbstractContextManager[Backend]:
    """Open the backend named by ``spec`` (``local``, or a registered scheme like ``dask://host:port``).

    Options follow the name after ``?`` (``slurm-array?partition=short``) or its address (``dask://h:p?shared=1``).

    Raises
    ------
    InputError
        Unknown backend name.
    """
    scheme = spec.split("://", 1)[0] if "://" in spec else spec.split("?", 1)[0]  # dask-local?processes=1
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise InputError(f"unknown executor {spec!r}; choose one of: {', '.join(sorted(BACKENDS))}")
    if isinstance(factory, str):
        module, _, name = factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
    return factory(spec, jobs)
