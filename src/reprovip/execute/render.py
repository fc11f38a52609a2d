"""Fill ``{placeholder}``s in argv templates. No shell, no ``str.format`` (no format-spec surprises)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_\-]*)\}")

# Every variable a common numerical library reads for its thread count, and OpenMP's cap on it (left at 1 by
# the caller or a descriptor, it ran every `threads` level on one thread: a review's "bit-for-bit identical").
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OMP_THREAD_LIMIT",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMEXPR_MAX_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS",
    "RAYON_NUM_THREADS",
    "JULIA_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "MRTRIX_NTHREADS",  # MRtrix3 takes every core otherwise: `threads: [1, 2]` read "identical" (a review)
)
# What each built-in factor sets in the application's environment (see reprovip.execute.tasks): an `env` setting one
# of them would fight the factor, and whichever is applied last wins.
FACTOR_VARIABLES = {
    "threads": THREAD_VARIABLES,
    "seed": ("REPROVIP_SEED",),
    "blas": ("OPENBLAS_CORETYPE", "MKL_CBWR"),
    "perturb": ("REPROVIP_PERTURB_ULPS", "REPROVIP_PERTURB_SEED"),
}


def render(template: str, values: Mapping[str, Any]) -> str:
    """Replace each ``{name}`` in ``template`` by ``values[name]``.

    Examples
    --------
    >>> render("--seed={seed}", {"seed": 42})
    '--seed=42'
    >>> render("{a}{{b}}", {"a": 1})
    '1{{b}}'
    """

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        return str(values[name]) if name in values else m.group(0)

    return _PLACEHOLDER.sub(sub, template)


def render_argv(argv: list[str], values: Mapping[str, Any]) -> list[str]:
    """Render every element of an argv template."""
    return [render(a, values) for a in argv]


def thread_env(threads: int) -> dict[str, str]:
    """The environment variables that pin every common library to ``threads`` threads."""
    return {name: str(threads) for name in THREAD_VARIABLES}
