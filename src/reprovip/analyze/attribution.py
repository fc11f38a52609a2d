"""Which factor carries the difference: bitwise patterns plus the share of variance of each source."""

from __future__ import annotations

from typing import Any

import numpy as np


def factor_shares(variance: dict[str, dict[str, Any]] | None, factors: tuple[str, ...]) -> dict[str, float]:
    """Share of variance of each factor (its main effect and its interactions) and of the repetitions."""
    if not variance:
        return {}
    shares = {f: 0.0 for f in factors}
    shares["repetition"] = 0.0
    for src, v in variance.items():
        share = float(v["share"] or 0.0)
        parts = src.split(":")
        if src == "residual":
            shares["repetition"] += share
        for f in factors:
            if f in parts:
                shares[f] += share
    return shares


def source_shares(variances: list[dict[str, dict[str, Any]]]) -> dict[str, float]:
    """Each source's share of variance averaged over ``variances`` (one per observation), the subjects' aside
    and the residual named ``repetition``: what the summary lists, an interaction under its own name (the
    factors' shares count it in each of its factors: a review's threads 87.9%, seed 87.9%)."""
    per = [
        {("repetition" if k == "residual" else k): float(v["share"] or 0.0) for k, v in x.items()} for x in variances
    ]
    keys = [k for k in (per[0] if per else {}) if k != "subject"]
    return {k: float(np.mean([p.get(k, 0.0) for p in per])) for k in keys}


def mean_shares(observations: list[dict[str, Any]], factors: tuple[str, ...]) -> dict[str, float]:
    """Average the factor shares over observations (each observation counts once)."""
    per = [factor_shares(o.get("variance"), factors) for o in observations if o.get("variance")]
    if not per:
        return {}
    return {k: float(np.mean([p[k] for p in per])) for k in per[0]}


FACTOR_SHARE = 0.5  # a factor's part of the executions' variance (factors + repetitions) that names it as a cause


def factor_evidence(observations: list[dict[str, Any]], factors: tuple[str, ...]) -> dict[str, float] | None:
    """Per factor, the smallest p-value of its main effect over the observations (``factor_p``), Bonferroni-
    corrected over them (a table of 1000 cells would otherwise find noise somewhere); None without tests."""
    tested = [o["factor_p"] for o in observations if o.get("factor_p")]
    if not tested:
        return None
    return {f: min(1.0, len(tested) * min(float(t.get(f, 1.0)) for t in tested)) for f in factors}


FACTOR_P = 0.01  # and its main effect is significant (F test, Bonferroni over the observations)


def attribute(
    bitwise: dict[str, Any],
    shares: dict[str, float],
    effects: dict[str, str] | None = None,
    evidence: dict[str, float] | None = None,
    sources: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Explain a non-identical output: one entry per factor, sorted by share, and a summary sentence.

    ``effects`` names factors shown to change the result by other evidence than bits and shares (label maps:
    :func:`reprovip.analyze.segmentation.factor_effects`), with the sentence that says so. ``evidence`` is
    :func:`factor_evidence`: a factor is named from its share only when its main effect is significant too.
    ``sources`` (:func:`source_shares`) are listed in the summary's shares when given, else ``shares``."""
    if bitwise["identical"]:
        return {"factors": [], "summary": "bit-for-bit identical across all executions"}
    entries = []
    for f, eff in bitwise["factors"].items():
        entries.append(
            dict(factor=f, share=shares.get(f), changes_result=eff["changes_result"], explanation=eff["explanation"])
        )
    entries.sort(key=lambda e: (not e["changes_result"], -(e["share"] or 0.0)))
    sentences = [e["explanation"] for e in entries if e["explanation"]]
    marginal = any(
        eff["nondeterministic_levels"] and len(eff["nondeterministic_levels"]) < len(eff["levels"])
        for eff in bitwise["factors"].values()
    )
    nd = bitwise.get("nondeterminism", {})
    if nd.get("interaction"):  # said first: the factors' own sentences read as two separate effects
        sentences.insert(0, nd["interaction"])
    if not marginal and nd.get("explanation"):
        # No single factor explains it on its own: name the conditions (an interaction, e.g. seed x threads).
        sentences.insert(0, nd["explanation"])
        for e in entries:
            e["changes_result"] = e["changes_result"] or e["factor"] in nd["blamed"]
    elif not bitwise["repetitions_identical"] and not marginal:
        rep = shares.get("repetition")
        extra = f" ({100 * rep:.3g}% of the variance)" if rep is not None else ""
        sentences.append(f"repetitions differ under every condition: run-to-run nondeterminism{extra}")
    # A factor whose effect the noise hides from the bitwise view: its variance component (estimated beyond
    # the noise, ANOVA) is at least half of what the executions vary by (factors and repetitions; subjects
    # aside, whose share may dwarf both) and larger than the repetitions' (reviews: a solver's 14% and a
    # version's 8000 times the repetitions' were reported as "run-to-run nondeterminism").
    rep = shares.get("repetition") or 0.0
    executions = sum(shares.values())
    # With one repetition there is no repetitions' share to weigh a factor's against: noise reads as the factor
    # (a review: pure noise blamed on a factor in a third of the runs).
    replicated = bitwise.get("repetitions", 2) >= 2
    for e in entries:
        share = e["share"] or 0.0
        significant = evidence is None or evidence.get(e["factor"], 1.0) < FACTOR_P
        if (
            replicated
            and not e["changes_result"]
            and share >= FACTOR_SHARE * executions
            and share > rep
            and significant
        ):
            e["changes_result"] = True
            sentences.append(
                f"{e['factor']} changes the result beyond run-to-run noise ({100 * share:.3g}% of the variance, "
                f"repetitions {100 * rep:.3g}%)"
            )
    for e in entries:
        if not e["changes_result"] and e["factor"] in (effects or {}):
            e["changes_result"] = True
            sentences.insert(0, effects[e["factor"]])  # type: ignore[index]  # first: the run-to-run noise is not it
    entries.sort(key=lambda e: (not e["changes_result"], -(e["share"] or 0.0)))
    if bitwise["repetitions_identical"] and not sentences:
        sentences.append("repetitions agree within each condition but conditions differ")
    listed = sources if sources else shares
    if listed:
        top = [f"{k} {100 * v:.3g}%" for k, v in sorted(listed.items(), key=lambda kv: -kv[1]) if v > 0]
        if top:
            sentences.append("share of total variance: " + ", ".join(top))
    return {"factors": entries, "summary": "; ".join(sentences)}


def add_origins(outputs: list[dict[str, Any]], sentences: list[str]) -> None:
    """Append where a traced pipeline starts to diverge (:func:`reprovip.analyze.dataflow.origin_sentences`) to
    the attribution sentence of each output that is not bit-for-bit identical."""
    for o in outputs:
        a = o.get("attribution")
        if sentences and a and not (o.get("bitwise") or {}).get("identical", True):
            a["origins"] = sentences
            a["summary"] = "; ".join([a["summary"], *(f"where it diverges: {s}" for s in sentences)])
