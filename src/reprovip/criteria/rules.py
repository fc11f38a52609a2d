"""Criteria: what "reproducible enough" means, parsed from ``study.yaml`` and checked against the analysis.

A criterion is ``METRIC OP THRESHOLD`` (``ICC(A,1).ci_low >= 0.9``, ``sd_ratio <= 0.1``) or ``identical``,
with a severity (``fail`` or ``warn``) and optionally the outputs it applies to. Metrics are taken at their
worst over an output's observations (minimum for ``>=``, maximum for ``<=``), so one bad observation fails
the output and is named.
"""

from __future__ import annotations

import fnmatch
import math
import operator
import re
from dataclasses import dataclass
from typing import Any

from reprovip.criteria.hints import suggest_metric

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_RULE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w().,]*?)\s*(?P<op>>=|<=|>|<)\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
ICC_NAME = re.compile(r"^ICC\((1|A|C),(1|k)\)(?:\.(value|ci_low|ci_high))?$")

# Metric name -> (where, key). "obs": per observation; "output": output summary; "study": executions.
OBSERVATION_METRICS = {
    "sd_ratio": "sd_ratio",
    "wcv": "wcv_rms",
    "wcv_rms": "wcv_rms",
    "wcv_log": "wcv_log",
    "wsd": "wsd",
    "rc": "rc",
    "bcv": "bcv",
    "execution_sd": "execution_sd",
    "ci95_halfwidth": "ci95_halfwidth",
    "sigdigits": "sigdigits.parker_min",
    "sigdigits_min": "sigdigits.parker_min",
}
SPREADS = ("sd_ratio", "wcv", "wcv_rms", "wcv_log", "wsd", "rc")  # 0 exactly when the executions agree
OUTPUT_METRICS = ("dice_min", "hd95_max")
VOXEL_METRICS = tuple(
    f"voxel_{m}_{s}" for m in ("sd", "sigdigits", "icc_a1") for s in ("mean", "median", "p05", "min", "max")
) + ("voxel_differ_fraction", "voxel_poor_fraction")
STUDY_METRICS = ("failure_rate", "attempt_failure_rate")
FLAGS = ("identical", "bytes_identical", "repetitions_identical", "within_envelope")
ENVELOPE_FACTORS = ("version", "environments")  # factors whose first level is the baseline of the envelope test


def known_metrics() -> list[str]:
    """Every metric name a criterion may use (ICC forms are written ``ICC(A,1)``, ``ICC(C,k).ci_low``...)."""
    icc = [f"ICC({a},{b}){s}" for a in "1AC" for b in "1k" for s in ("", ".ci_low", ".ci_high")]
    return sorted([*OBSERVATION_METRICS, *OUTPUT_METRICS, *VOXEL_METRICS, *STUDY_METRICS, *icc])


def number(x: float | None, against: float | None = None) -> str:
    """``x`` with 6 significant digits, more where those would misplace it beside ``against`` (the threshold it
    is compared with: the digits shown fall on the same side of it, or on it, as ``x``), or, without ``against``,
    misstate ``x`` itself: `wsd <= 0.60991802` read "wsd <= 0.609918" and "0.609918 fails <= 0.609918" (review D).

    Examples
    --------
    >>> number(0.9), number(0.60991802), number(0.60991803, against=0.60991802), number(100000.0)
    ('0.9', '0.60991802', '0.60991803', '100000')
    >>> number(0.123456789, against=0.9), number(0.999999999998, against=0.9), number(0.9999999999999999)
    ('0.123457', '0.999999999998', '0.99999999999999989')
    """
    if x is None:
        return "n/a"
    side = None if against is None else (x > against) - (x < against)
    for digits in (6, 9, 12, 17):
        shown = f"{x:.{digits}g}"
        if float(shown) == x or (
            side is not None
            and (float(shown) > against) - (float(shown) < against) == side
            and not float(shown).is_integer()  # 0.999999999998 read "ICC = 1 (95% CI 1 to 1)": identical (review I)
        ):
            return shown
    return shown


@dataclass(frozen=True)
class Criterion:
    """One parsed criterion."""

    metric: str
    op: str | None  # None for the identity flags
    threshold: float | None
    severity: str = "fail"
    outputs: tuple[str, ...] = ()
    observations: tuple[str, ...] = ()  # glob patterns; empty: every observation
    # glob patterns of observations left out: a default whose place declared criteria took for those only
    excluded: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """How the criterion reads in reports: ``ICC(A,1).ci_low >= 0.9`` (``[*/amplitude]`` when filtered,
        ``[all but gm/*]`` when observations are left out)."""
        rule = self.metric if self.op is None else f"{self.metric} {self.op} {number(self.threshold)}"
        if self.excluded:
            return f"{rule} [all but {', '.join(self.excluded)}]"
        return f"{rule} [{', '.join(self.observations)}]" if self.observations else rule

    def selects(self, observation: str) -> bool:
        """Whether an observation is one this criterion looks at."""
        if any(matches(observation, p) for p in self.excluded):
            return False
        return not self.observations or any(matches(observation, p) for p in self.observations)

    def applies_to(self, output: str) -> bool:
        """Whether this criterion concerns ``output`` (all outputs when none is named)."""
        return not self.outputs or output in self.outputs or output.split("/")[0] in self.outputs

    def covers(self, output: dict[str, Any]) -> bool:
        """Whether this criterion judges ``output`` (an analysed output: ``name``, ``kind``): one that names no
        output covers those whose kind can compute it (an ICC criterion covers the tables, not the images)."""
        return self.applies_to(output["name"]) and (bool(self.outputs) or supports(output["kind"], self.metric))


def matches(name: str, pattern: str) -> bool:
    """Whether observation ``name`` matches a criterion's ``observations`` pattern.

    A pattern equal to the name matches it; otherwise ``*`` matches any run of characters (``/`` too) and ``?``
    one character, while ``[`` and ``]`` are literal: the readers' names carry them (JSON ``fits[1].amp``, a
    column ``thickness [mm]``), and read as a character class they matched other names or none (a review).

    Examples
    --------
    >>> matches("fits[1].amp", "fits[1].amp"), matches("fits[0].amp", "fits[*].amp")
    (True, True)
    >>> matches("fits1.amp", "fits[1].amp"), matches("hippo/thickness [mm]", "*/thickness [mm]")
    (False, True)
    """
    return name == pattern or fnmatch.fnmatchcase(name, pattern.replace("[", "[[]"))


def parse_rule(text: str) -> tuple[str, str | None, float | None]:
    """Split ``"sd_ratio <= 0.1"`` into (metric, op, threshold), checking the metric exists.

    Raises
    ------
    ValueError
        A malformed rule, an unknown metric (with a suggestion), a threshold that is not finite, or one that
        no value of the metric can meet.

    Examples
    --------
    >>> parse_rule("ICC(A,1).ci_low >= 0.9")
    ('ICC(A,1).ci_low', '>=', 0.9)
    >>> parse_rule("identical")
    ('identical', None, None)
    """
    text = text.strip()
    if text in FLAGS:
        return text, None, None
    m = _RULE.match(text)
    if not m:
        raise ValueError(
            f"criterion {text!r} must read `METRIC OP NUMBER` (OP one of >=, >, <=, <) or be one of {list(FLAGS)}"
        )
    metric = m.group("metric")
    if metric not in known_metrics() and not ICC_NAME.match(metric):
        hint = suggest_metric(metric, known_metrics())
        extra = f"; did you mean `{hint}`?" if hint else "; see docs/criteria.md for the list"
        raise ValueError(f"unknown metric `{metric}` in criterion {text!r}{extra}")
    threshold = float(m.group("value"))
    if not math.isfinite(threshold):  # 1e999: no value could be judged against it, nor stored in JSON
        raise ValueError(f"criterion {text!r}: the threshold {m.group('value')} is not a finite number")
    _check_reachable(text, metric, m.group("op"), threshold)
    _check_meaningful(text, metric, m.group("op"), threshold)
    _check_fraction(text, metric, m.group("op"), threshold)
    return metric, m.group("op"), threshold


def _bounds(metric: str) -> tuple[float, float]:
    """The values ``metric`` can take: ICCs and fractions are at most 1, SDs, CVs and distances at least 0,
    significant digits at most 17 (float64 carries 15.65 decimal digits; identity passes any threshold). The
    single-measure one-way and consistency ICCs, and their intervals, are at least -1/(k-1) >= -1 (review B:
    `ICC(1,1).value >= -1` validated, and checked nothing); the others have no lower bound."""
    if metric.startswith(("ICC(1,1)", "ICC(C,1)")):
        return -1.0, 1.0
    if metric.startswith("ICC(") or metric.startswith("voxel_icc_a1"):
        return -math.inf, 1.0
    if "sigdigits" in metric:
        return -math.inf, 17.0
    if metric in ("dice_min", "voxel_differ_fraction", "voxel_poor_fraction", *STUDY_METRICS):
        return 0.0, 1.0
    return 0.0, math.inf  # SDs, ratios, CVs, distances


def _check_reachable(text: str, metric: str, op: str, threshold: float) -> None:
    """Refuse a threshold no value of ``metric`` can meet (``ICC >= 2``, ``wsd <= -1``): such a criterion would
    fail every study but an identical one, which passes any threshold, so it would read as a check it is not."""
    low, high = _bounds(metric)
    never = {
        ">=": threshold > high,
        ">": threshold >= high,
        "<=": threshold < low,
        "<": threshold <= low,
    }[op]
    if never:
        span = f"at most {high:g}" if op in (">=", ">") else f"at least {low:g}"
        raise ValueError(
            f"criterion {text!r} can never be met: {metric} is {span}; fix the threshold "
            "(or require `identical` for bit-for-bit identity)"
        )


_LOWER_IS_BETTER = (
    "sd_ratio",
    "wcv",
    "wcv_rms",
    "wcv_log",
    "wsd",
    "rc",
    "execution_sd",
    "ci95_halfwidth",
    "hd95_max",
    "voxel_differ_fraction",
    "voxel_poor_fraction",
    *STUDY_METRICS,
)


_CVS = ("wcv", "wcv_rms", "wcv_log")  # coefficients of variation: fractions, 0.05 for 5%


def _check_fraction(text: str, metric: str, op: str, threshold: float) -> None:
    """Refuse a coefficient of variation bounded above 1 (``wcv <= 5``): a percentage written for a fraction,
    which let executions varying by 10% pass (review MC); a run-to-run CV of 100% judges nothing."""
    if metric in _CVS and op in ("<=", "<") and threshold > 1:
        raise ValueError(
            f"criterion {text!r}: {metric} is a fraction (a CV of 5% is 0.05), and {threshold:g} would pass "
            f"executions varying by {100 * threshold:g}%; write `{metric} {op} {threshold / 100:g}` for "
            f"{threshold:g}%"
        )


def _more_reproducible(metric: str) -> str | None:
    """``"higher"`` or ``"lower"``: which values of ``metric`` mean more reproducible results (None: neither,
    as the between-subject CV)."""
    if metric.startswith(("ICC(", "voxel_icc_a1", "dice_min")) or "sigdigits" in metric:
        return "higher"
    if metric in _LOWER_IS_BETTER or metric.startswith("voxel_sd_"):
        return "lower"
    return None


def _check_meaningful(text: str, metric: str, op: str, threshold: float) -> None:
    """Refuse a criterion that passes the less reproducible results (``ICC(A,1).ci_low <= 0.9``, ``wsd >= 0``:
    a typo for the other direction) or that every value meets (``failure_rate <= 2``, ``bcv >= 0``): a review's
    such criteria validated and turned a study with 67% run-to-run variance green."""
    better = _more_reproducible(metric)
    if (better == "higher" and op in ("<=", "<")) or (better == "lower" and op in (">=", ">")):
        flip = {"<=": ">=", "<": ">", ">=": "<=", ">": "<"}[op]
        raise ValueError(
            f"criterion {text!r} passes the less reproducible results: a {better} {metric} is more "
            f"reproducible; write `{metric} {flip} {threshold:g}`"
        )
    low, high = _bounds(metric)
    always = {">=": threshold <= low, ">": threshold < low, "<=": threshold >= high, "<": threshold > high}[op]
    if always:
        raise ValueError(f"criterion {text!r} is met by every value of {metric}: it checks nothing; fix the threshold")


OBSERVATION_KINDS = ("table", "scalars", "text", "array", "labels")
"""Kinds whose outputs have named observations (label maps: the volume of each label)."""


def supports(kind: str, metric: str) -> bool:
    """Whether ``metric`` can ever be computed for an output of ``kind``.

    Examples
    --------
    >>> supports("image", "ICC(A,1).ci_low"), supports("image", "voxel_icc_a1_median"), supports("bytes", "identical")
    (False, True, True)
    """
    if metric in FLAGS or metric in STUDY_METRICS:
        return True
    if metric == "within_envelope":
        return kind in (*OBSERVATION_KINDS, "image")
    if metric == "voxel_differ_fraction":
        return kind in ("image", "labels")
    if metric.startswith("voxel_"):
        return kind == "image"
    if metric in OUTPUT_METRICS:
        return kind == "labels"
    return kind in OBSERVATION_KINDS


def per_observation(metric: str) -> bool:
    """Whether ``metric`` has a value per observation, which a criterion's ``observations`` patterns select;
    the others (flags, study figures, Dice/HD95 and voxel summaries) are one value per output or study.

    Examples
    --------
    >>> per_observation("ICC(A,1).ci_low"), per_observation("wcv"), per_observation("dice_min")
    (True, True, False)
    """
    return not (metric in FLAGS or metric in STUDY_METRICS or metric in OUTPUT_METRICS or metric.startswith("voxel_"))


def kind_hint(kind: str) -> str:
    """What a criterion on an output of ``kind`` can use instead."""
    return {
        "image": "voxel_icc_a1_median, voxel_sd_max, voxel_sigdigits_min, voxel_differ_fraction or identical",
        "bytes": "identical, bytes_identical or repetitions_identical",
        "labels": "dice_min, hd95_max, the ICC of label volumes or identical",
    }.get(kind, "a per-observation metric (ICC(A,1).ci_low, wcv, wsd, sigdigits...) or identical")


def envelope_criteria(kind: str) -> list[Criterion]:
    """The version test of an output compared across versions: within the baseline's run-to-run envelope
    (images voxel by voxel, label maps by their label volumes)."""
    return [Criterion("within_envelope", None, None)]


DICE_FAIL = 0.8  # a fifth of a label disagreeing between two executions of a subject fails (review CT)


def default_criteria(kind: str, *, compare: bool = False) -> list[Criterion]:
    """The seed's rule when a study declares nothing: identical passes; otherwise inter-execution variability
    must be much smaller than inter-subject variability, read as the lower 95% CI bound of ICC(A,1) in Koo &
    Li's "excellent" band (>= 0.9). Images use the median voxel ICC(A,1) in the non-zero mask, fail when more
    than a hundredth of the voxels spread by more than a third of the subjects' typical SD
    (``voxel_poor_fraction``; a warning from 0.2%), and warn when the ICC's 5th percentile is below 0.5
    (a region where the executions disagree). Label maps add a failure below a Dice of 0.8 between two
    executions of a subject (a fifth of a label disagrees: a mirrored or swapped label keeps its volume, hence
    its volume ICC; a tumour moved by a slice in every patient, Dice 0.6, and one that lost a third of its
    voxels in one patient, 0.78, passed a failure at 0.5: review CT) and a warning below 0.95. A comparison of
    versions (``compare``) first requires every version to stay within the baseline's run-to-run envelope.
    Outputs of kind ``bytes`` are compared by their bytes only: they must be identical."""
    envelope = envelope_criteria(kind) if compare else []
    if kind == "bytes":
        return [Criterion("identical", None, None)]
    if kind == "image":
        # The median passes an image whose executions disagree in up to half of its voxels (a failed
        # registration's blank slab): a warning when a twentieth of the voxels have an ICC below 0.5, and a
        # failure when a hundredth of them spread by more than a third of the subjects' typical SD (a factor
        # changing an eighth of a brain by 25% passed both: reviews FS, R2; threads=2 raising T2* by 50% in
        # 3.8% of a brain, a deep nucleus, and 30% over 2%, passed below the first threshold of a twentieth:
        # reviews PH, W1, whose benign maps had no poor voxel), and a warning from 0.2%.
        return [
            *envelope,
            Criterion("voxel_icc_a1_median", ">=", 0.9),
            Criterion("voxel_poor_fraction", "<=", 0.01),
            Criterion("voxel_poor_fraction", "<=", 0.002, severity="warn"),
            Criterion("voxel_icc_a1_p05", ">=", 0.5, severity="warn"),
        ]
    rules = [*envelope, Criterion("ICC(A,1).ci_low", ">=", 0.9)]
    if kind == "labels":
        rules += [Criterion("dice_min", ">=", DICE_FAIL), Criterion("dice_min", ">=", 0.95, severity="warn")]
    return rules
