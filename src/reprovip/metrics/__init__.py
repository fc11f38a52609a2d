"""Pure metrics over NumPy arrays: no I/O, inputs never modified.

Axis convention: subjects then executions are the last axes, ``x.shape == (..., n_subjects, k)``; leading
axes (voxels, observations) are vectorised. See ``docs/metrics.md`` for conventions and degenerate values.
"""

from reprovip.metrics.bootstrap import BootstrapCI, subject_bootstrap_ci
from reprovip.metrics.icc import (
    CI_UNINFORMATIVE_NOTE,
    FORMS,
    REASONS,
    ICCResult,
    icc,
    icc_all,
    icc_from_mean_squares,
    koo_li_band,
)
from reprovip.metrics.repeatability import Repeatability, repeatability
from reprovip.metrics.segmentation import Overlap, PairwiseOverlap, label_overlap, overlap, pairwise_overlap
from reprovip.metrics.sigdigits import required_samples, significant_digits
from reprovip.metrics.streaming import FactorialAccumulator
from reprovip.metrics.variance import (
    MeanSquares,
    VarianceComponents,
    components_from_mean_squares,
    factorial_mean_squares,
    variance_components,
)

__all__ = [
    "CI_UNINFORMATIVE_NOTE",
    "FORMS",
    "REASONS",
    "BootstrapCI",
    "FactorialAccumulator",
    "ICCResult",
    "MeanSquares",
    "Overlap",
    "PairwiseOverlap",
    "Repeatability",
    "VarianceComponents",
    "components_from_mean_squares",
    "factorial_mean_squares",
    "icc",
    "icc_all",
    "icc_from_mean_squares",
    "koo_li_band",
    "label_overlap",
    "overlap",
    "pairwise_overlap",
    "repeatability",
    "required_samples",
    "significant_digits",
    "subject_bootstrap_ci",
    "variance_components",
]
