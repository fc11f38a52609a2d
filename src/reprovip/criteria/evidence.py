"""The evidence a verdict states: how many comparisons an identity claim rests on, and how many subjects or
executions would settle an ICC threshold that the confidence interval straddles."""

from __future__ import annotations

from typing import Any

from reprovip.criteria.rules import Criterion
from reprovip.metrics.evidence import icc_sample_size, zero_failure_bound

CONFIDENCE = 0.95


def beside(value: float, threshold: float) -> str:
    """``value`` with 3 significant digits, or as many more as keep it from reading as ``threshold`` (a CI's
    lower bound of 0.899981 read "(0.9 to 0.996) straddles 0.9", a review).

    Examples
    --------
    >>> beside(0.899981, 0.9), beside(0.85, 0.9), beside(0.9, 0.9)
    ('0.89998', '0.85', '0.9')
    """
    digits = 3
    while value != threshold and float(f"{value:.{digits}g}") == threshold and digits < 17:
        digits += 1
    return f"{value:.{digits}g}"


def comparisons(bits: dict[str, Any]) -> int:
    """Executions compared with their subject's first one: the sum over subjects of (stored executions - 1)."""
    per_subject: dict[str, int] = {}
    for c in bits.get("cells") or []:
        per_subject[c["subject"]] = per_subject.get(c["subject"], 0) + int(c.get("n") or 0)
    return sum(max(n - 1, 0) for n in per_subject.values())


def identity_sentence(trials: int) -> str:
    """ "identical in N comparisons: with 95% confidence ..." (zero-failure binomial bound)."""
    if trials == 0:
        return "no two executions of one subject to compare"
    bound = zero_failure_bound(trials, confidence=CONFIDENCE)
    return (
        f"identical in {trials} of {trials} comparisons between executions of the same subject: with "
        f"{CONFIDENCE:.0%} confidence the probability that another execution differs is below {bound:.3g}"
    )


def bitwise_evidence(bits: dict[str, Any]) -> dict[str, Any]:
    """The identity claim's evidence: ``trials``, the 95% upper ``bound`` when none differed, and a sentence."""
    trials = comparisons(bits)
    if bits.get("identical") and trials:
        return dict(
            trials=trials, bound=zero_failure_bound(trials, confidence=CONFIDENCE), sentence=identity_sentence(trials)
        )
    return dict(trials=trials, bound=None, sentence="" if trials else identity_sentence(0))


def icc_evidence(criterion: Criterion, extra: dict[str, Any]) -> dict[str, Any] | None:
    """For an ICC criterion whose CI straddles the threshold: the subjects or executions that would decide it."""
    ms, ci = extra.get("mean_squares"), extra.get("ci")
    form = criterion.metric.split(".")[0]
    threshold = criterion.threshold
    if not ms or not ci or threshold is None or None in ci:
        return None
    low, high = (float(v) for v in ci)
    if not low < threshold <= high:
        return None
    try:
        size = icc_sample_size(
            ms["msr"], ms["msc"], ms["mse"], n=int(ms["n"]), k=int(ms["k"]), threshold=threshold, form=form
        )
    except ValueError:
        return None
    where = "above" if size.side == "above" else "below"
    options = []
    if size.subjects is not None:
        options.append(f"about {size.subjects} subjects (now {int(ms['n'])})")
    if size.raters is not None:
        # repetitions that are copies count once: more of them would change nothing, other conditions would
        what = "distinct executions (not copies of a repetition or a condition)" if ms.get("copies") else "executions"
        options.append(f"about {size.raters} {what} per subject (now {int(ms['k'])})")
    if size.both is not None:
        options.append(
            f"about {size.both} subjects with {size.both} executions each (now {int(ms['n'])} x {int(ms['k'])}; "
            "more of only one would not do)"
        )
    if options:
        text = (
            f"the 95% CI ({beside(low, threshold)} to {beside(high, threshold)}) straddles {threshold:g}; if today's "
            "variance components hold, "
            f"{' or '.join(options)} would put it {where} the threshold"
        )
    else:
        text = (
            f"the 95% CI ({beside(low, threshold)} to {beside(high, threshold)}) straddles {threshold:g}; no feasible "
            "design would settle it"
        )
    return dict(
        side=size.side, subjects=size.subjects, executions_per_subject=size.raters, both=size.both, sentence=text
    )
