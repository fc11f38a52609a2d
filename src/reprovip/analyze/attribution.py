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
    """Per factor, the smallest p-value of its main effect or of its interactions with other factors over the
    observations (``factor_p``), Bonferroni-corrected over them and those terms (a table of 1000 cells would
    otherwise find noise somewhere); None without tests. Observations identical in every execution test
    nothing and are not counted (20 constant fields of 25 took a 2% solver effect below the threshold: a review)."""
    tested = [o["factor_p"] for o in observations if o.get("factor_p") and not o.get("identical")]
    if not tested:
        return None
    return {f: _corrected_p(tested, f) for f in factors}


def _corrected_p(tested: list[dict[str, float]], factor: str) -> float:
    """The smallest p of ``factor``'s terms (its main effect and its interactions with other factors) over the
    observations' ``factor_p`` in ``tested``, Bonferroni-corrected over those observations and terms."""
    terms = [term for term in tested[0] if factor in term.split(":")] or [factor]
    p = min(float(t.get(term, 1.0)) for t in tested for term in terms)
    return min(1.0, len(tested) * len(terms) * p)


FACTOR_P = 0.01  # and its main effect is significant (F test, Bonferroni over the observations)


# A second test per factor: at FACTOR_P too, pure noise would be named twice as often. Noise whose main effect
# looked like a factor's (its share, not its test) had an interaction p of 0.0019 (a review's dataset).
INTERACTION_P = 0.001


def _interaction_p(test: dict[str, Any]) -> float:
    """An interaction test's p-value, and when one subject carries it, the larger of it and that subject's own
    test (``p_subject``, :func:`~reprovip.analyze.interaction.interaction_tests`): the effect must stand against
    that subject's repetitions too."""
    return max(float(test["p"]), float(test.get("p_subject", 0.0)))


def interaction_evidence(observations: list[dict[str, Any]], factors: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per factor, the strongest subject x factor interaction over the observations (their ``interaction``,
    :func:`interaction_tests`): its p-value Bonferroni-corrected over them, the observation and the subject
    that carries it (None when no one subject does). Empty without tests."""
    tested = [o for o in observations if o.get("interaction") and not o.get("identical")]
    out: dict[str, dict[str, Any]] = {}
    for f in factors:
        found = [o for o in tested if f in o["interaction"]]
        if found:
            best = min(found, key=lambda o: _interaction_p(o["interaction"][f]))
            t = best["interaction"][f]
            p = min(1.0, len(tested) * _interaction_p(t))
            out[f] = dict(p=p, observation=best["name"], subject=t["subject"], carried=t["carried"])
    return out


def local_evidence(observations: list[dict[str, Any]], factors: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per factor, the observation where it changes the result: it carries half or more of what that
    observation's executions vary by and more than its repetitions, and its effect there is significant (its
    ``factor_p``, main effect or interactions, Bonferroni over the observations and the terms). A factor that
    moves one field of twenty has a small share averaged over all of them (a review's "run-to-run
    nondeterminism (1.31%)" for threads adding 8 to one field, p = 5e-24). The observation with the smallest p,
    with its ``share`` and ``repetition`` share; empty without tests."""
    tested = [o for o in observations if o.get("variance") and o.get("factor_p") and not o.get("identical")]
    out: dict[str, dict[str, Any]] = {}
    for o in tested:
        shares = factor_shares(o["variance"], factors)
        executions = sum(float(v["share"] or 0.0) for src, v in o["variance"].items() if src != "subject")
        rep = shares["repetition"]
        for f in factors:
            # Bonferroni over every tested observation, as if each had been tested alone
            p = min(1.0, len(tested) * _corrected_p([o["factor_p"]], f))
            share = shares[f]
            if executions > 0 and share >= FACTOR_SHARE * executions and share > rep and p < FACTOR_P:
                if f not in out or p < out[f]["p"]:
                    out[f] = dict(observation=o["name"], share=share, repetition=rep, p=p)
    return out


def voxel_variance(
    summary: dict[str, Any], factors: tuple[str, ...]
) -> tuple[dict[str, dict[str, Any]], dict[str, float], dict[str, float]]:
    """An image's sources of variance read back from its voxelwise summary: each source's median share over the
    differing voxels (``share_<source>_median``, as :func:`factor_shares` reads an observation's ``variance``)
    and the fraction of the differing voxels it dominates (``share_<source>_major_fraction``: half or more of
    the executions' variance, the voxel's less the subjects'), and its share of the executions' variance summed
    over those voxels (``share_<source>_summed``: a few voxels changed much weigh as much as they vary).

    The maps name a source with its ":" written "x" (``share_threadsxseed``): read back by the design's terms,
    not by turning every "x" into ":" (a factor named ``xfm`` became ":fm", its share lost).

    Examples
    --------
    >>> s = {"share_threads_median": 1e-7, "share_threads_major_fraction": 0.25, "share_residual_median": 1e-5}
    >>> voxel_variance(s | {"share_threads_summed": 0.9}, ("threads",))
    ({'threads': {'share': 1e-07}, 'residual': {'share': 1e-05}}, {'threads': 0.25}, {'threads': 0.9})
    """
    from reprovip.metrics.variance import factorial_terms

    named = {t.replace(":", "x"): t for t, _ in factorial_terms(factors)} | {"residual": "residual"}
    variance: dict[str, dict[str, Any]] = {}
    regions: dict[str, float] = {}
    summed: dict[str, float] = {}
    for key, v in summary.items():
        for suffix, into in (("_median", variance), ("_major_fraction", regions), ("_summed", summed)):
            if key.startswith("share_") and key.endswith(suffix):
                src = key[len("share_") : -len(suffix)]
                into[named.get(src, src)] = {"share": v} if into is variance else float(v or 0.0)  # type: ignore[assignment]
    return variance, regions, summed


REGION = 0.1  # a factor that dominates this fraction of the differing voxels changes the result there


def _combined(factor: str, share: float, sources: dict[str, float]) -> dict[str, Any] | None:
    """The interaction with other factors (not the subjects) that carries most of ``factor``'s ``share`` when its
    own main effect is less than half of it, ``{term, share}``; else None. Review C: +15 only under threads=2 with
    seed=2 read "threads ... 24.7%" and "seed ... 24.7%", their main effects 0.035%.

    Examples
    --------
    >>> _combined("seed", 0.247, {"threads:seed": 0.247, "seed": 0.0, "threads": 0.00035})
    {'term': 'threads:seed', 'share': 0.247}
    >>> _combined("seed", 0.5, {"seed": 0.45, "threads:seed": 0.05}) is None
    True
    """
    joint = {k: v for k, v in sources.items() if factor in k.split(":") and k != factor and "subject" not in k}
    if not joint or sources.get(factor, 0.0) >= FACTOR_SHARE * share:
        return None
    term = max(joint, key=joint.__getitem__)
    return dict(term=term, share=joint[term])


def _beyond_noise(e: dict[str, Any], shares: dict[str, float], sources: dict[str, float], significant: bool) -> str:
    """The sentence naming the factor of entry ``e`` as a cause beyond run-to-run noise, or "" (see
    :func:`attribute`): by its share and main effect, by its interaction with the subjects, or by a region."""
    f, share = e["factor"], e["share"] or 0.0
    rep = shares.get("repetition") or 0.0
    # Each source once: a factor's share counts its interactions, which the factors' shares would count once per
    # factor (a three-way effect could never reach half of their sum: a review)
    executions = sum(sources.values()) if sources else sum(shares.values())
    if share >= FACTOR_SHARE * executions and share > rep and significant:
        if combined := _combined(f, share, sources):
            e["combined"] = combined
            term = combined["term"]
            return (
                f"{f} changes the result in combination with {' and '.join(x for x in term.split(':') if x != f)} "
                f"(their interaction {term} is {100 * combined['share']:.3g}% of the variance, {f} alone "
                f"{100 * sources.get(f, 0.0):.3g}%, repetitions {100 * rep:.3g}%)"
            )
        return (
            f"{f} changes the result beyond run-to-run noise ({100 * share:.3g}% of the variance, "
            f"repetitions {100 * rep:.3g}%)"
        )
    inter = sum(v for k, v in sources.items() if {"subject", f} <= set(k.split(":")))
    interaction = e.get("interaction")
    if interaction and interaction["p"] < INTERACTION_P and inter > rep:
        carrier = interaction["subject"]
        times = f", {inter / rep:.3g} times the repetitions' ({100 * rep:.3g}%)" if rep > 0 else ""
        # Carried by no one subject: a change of every subject by its own amount (x 1.3 of values that differ
        # between subjects) read "some subjects only (several subjects ...)" (review RD)
        how = (
            f"of some subjects only ({carrier} carries {100 * interaction['carried']:.0f}% of it, on "
            if carrier
            else "differently in each subject (on "
        )
        return (
            f"{f} changes the result {how}{interaction['observation']}): its interaction with the subjects is "
            f"{100 * inter:.3g}% of the variance{times}"
        )
    if local := e.get("local"):
        return (
            f"{f} changes the result on {local['observation']} ({100 * local['share']:.3g}% of its variance, "
            f"repetitions {100 * local['repetition']:.3g}%)"
        )
    if e.get("summed", 0.0) >= FACTOR_SHARE and e["summed"] > (e.get("summed_repetition") or 0.0):
        # "where it changes the values much: its median share ... is 0%" read as a contradiction (review VV)
        return (
            f"{f} changes the result: it carries {100 * e['summed']:.3g}% of what the executions vary by, summed over "
            f"the differing voxels: much at some of them, little at most (its median share of the variance over "
            f"them is {100 * share:.3g}%)"
        )
    if e.get("region", 0.0) >= REGION:
        return (
            f"{f} changes the result in {100 * e['region']:.3g}% of the differing voxels, where it carries half or "
            "more of what the executions vary by (a regional effect: its median share of the variance over all of "
            f"them is {100 * share:.3g}%)"
        )
    return ""


def _unmeasured(factor: str, eff: dict[str, Any]) -> str:
    """What a factor changes when the files differ while every value read from them is the same: the bitwise
    sentence said "version changes the result" of an image whose header alone changed (a review)."""
    how = (
        [f"repetitions differ for {factor}={'/'.join(eff['nondeterministic_levels'])}"]
        if eff.get("nondeterministic_levels")
        else []
    )
    if eff.get("between_differ"):
        how.append(f"{eff['between_differ']} of {eff['between_pairs']} comparisons between its levels differ")
    return (
        f"{factor} changes the files but not the values read from them ({'; '.join(how)}): the difference is in "
        "what no observation measures (an image header's data type or units, a text field)"
    )


def attribute(
    bitwise: dict[str, Any],
    shares: dict[str, float],
    effects: dict[str, str] | None = None,
    evidence: dict[str, float] | None = None,
    sources: dict[str, float] | None = None,
    *,
    interactions: dict[str, dict[str, Any]] | None = None,
    local: dict[str, dict[str, Any]] | None = None,
    regions: dict[str, float] | None = None,
    summed: dict[str, float] | None = None,
    unmeasured: bool = False,
    averaged: int = 1,
    quiet: list[str] | None = None,
) -> dict[str, Any]:
    """Explain a non-identical output: one entry per factor, sorted by share, and a summary sentence.

    ``effects`` names factors shown to change the result by other evidence than bits and shares (label maps:
    :func:`reprovip.analyze.segmentation.factor_effects`), with the sentence that says so. ``evidence`` is
    :func:`factor_evidence`: a factor is named from its share only when its main effect is significant too.
    ``sources`` (:func:`source_shares`) are listed in the summary's shares when given, else ``shares``.
    ``interactions`` (:func:`interaction_evidence`) names a factor that acts on some subjects only, ``local``
    (:func:`local_evidence`) one that changes some observations only, and ``regions``
    (:func:`voxel_variance`) one that dominates a part of an image's differing voxels.
    ``summed`` (:func:`voxel_variance`) the share of each source summed over an image's differing voxels: a
    factor carrying half of it or more is named, and factors are ordered by it when it exceeds their median share.
    ``unmeasured``: the files differ while every value read from them is the same (an image header).
    ``quiet``: the conditions whose repetitions agree in every value read (their files differ in text only).
    ``averaged``: how many observations (those that differ) a table's ``shares`` are the mean of (said beside
    them when more than 1).

    Examples
    --------
    >>> bits = dict(identical=False, repetitions_identical=False, repetitions=3, nondeterminism={},
    ...             factors={"threads": dict(changes_result=False, explanation="", nondeterministic_levels=["1",
    ...                      "2"], levels={"1": {}, "2": {}})})
    >>> out = attribute(bits, {"threads": 1e-9, "repetition": 1e-5}, regions={"threads": 0.25})
    >>> out["factors"][0]["changes_result"], out["summary"].split(",")[0]
    (True, 'threads changes the result in 25% of the differing voxels')
    """
    if bitwise["identical"] is None:  # not established: an empty or undecodable "identical" read like a pass
        why = bitwise.get("not_compared") or "no subject has two executions that wrote this output"
        return {"factors": [], "summary": f"nothing to compare: {why}"}
    if bitwise["identical"] and bitwise.get("bytes_identical") is False:  # equal once decoded: say so (a review)
        return {
            "factors": [],
            "summary": "identical across all executions in its decoded values (the files' bytes differ: a header "
            "field, a time stamp, the order of a keyed table's rows)",
        }
    if bitwise["identical"]:
        return {"factors": [], "summary": "bit-for-bit identical across all executions"}
    # Shares of a table's observations are their mean: said, since a message names one observation beside them
    # (a review: "obs1 ... 10.5% of the variance" where obs1's own share is 20.9%)
    over = f"mean over its {averaged} observations that differ" if averaged > 1 and regions is None else ""
    if regions is not None:  # an image's are medians over its differing voxels: 1e-9% read as the factor's weight
        over = "median over the differing voxels"  # beside its summed shares (review W1)
    entries = []
    for f, eff in bitwise["factors"].items():
        explanation = _unmeasured(f, eff) if unmeasured and eff["changes_result"] else eff["explanation"]
        entries.append(
            dict(factor=f, share=shares.get(f), changes_result=eff["changes_result"], explanation=explanation)
        )
        if summed:  # an image: the factor's share summed over the voxels, its interactions (not the subjects') too
            entries[-1]["summed"] = sum(v for k, v in summed.items() if f in k.split(":") and "subject" not in k)
            entries[-1]["summed_repetition"] = summed.get("residual", 0.0) if bitwise.get("repetitions", 2) >= 2 else 0
    entries.sort(key=lambda e: (not e["changes_result"], -max(e["share"] or 0.0, e.get("summed") or 0.0)))
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
    elif bitwise["repetitions_identical"] is False and not marginal:  # None: no two repetitions were compared
        rep = shares.get("repetition")
        # Shares are means over the observations: none of 0 means no value read differs between repetitions (a
        # review's "run-to-run nondeterminism (0% of the variance)": a temporary path in a log); a voxel median
        # of 0 does not.
        unseen = unmeasured or (rep == 0.0 and regions is None)
        extra = (
            f" ({100 * rep:.3g}% of the variance{', ' + over if over else ''})"
            if rep is not None and not unseen
            else ""
        )
        where = ", in what no value read from them measures" if unseen else ""
        if quiet and not unseen:  # a time stamp in every file: not numbers that vary there (a review)
            where = (
                f" (under {', '.join(quiet)} only in what no value read from them measures: a time stamp, other text)"
            )
        sentences.append(f"repetitions differ under every condition{where}: run-to-run nondeterminism{extra}")
    # A factor whose effect the noise hides from the bitwise view: its variance component (estimated beyond
    # the noise, ANOVA) is at least half of what the executions vary by (factors and repetitions; subjects
    # aside, whose share may dwarf both) and larger than the repetitions' (reviews: a solver's 14% and a
    # version's 8000 times the repetitions' were reported as "run-to-run nondeterminism"); or its interaction
    # with the subjects is significant and larger than the repetitions' (one subject moved); or it dominates a
    # region of an image. Said first: the run-to-run noise is there too, but it is not what changes the result.
    # With one repetition there is no repetitions' share to weigh a factor's against: noise reads as the factor
    # (a review: pure noise blamed on a factor in a third of the runs).
    beyond = []
    for e in entries:
        f = e["factor"]
        if regions is not None:  # the main effect and the factors' interactions: the subjects' is no region
            e["region"] = sum(v for k, v in regions.items() if f in k.split(":") and "subject" not in k.split(":"))
        if interactions and f in interactions:
            e["interaction"] = interactions[f]
        if local and f in local:
            e["local"] = local[f]
        if e["changes_result"] or bitwise.get("repetitions", 2) < 2:
            continue
        significant = evidence is None or evidence.get(f, 1.0) < FACTOR_P
        said = _beyond_noise(e, shares, sources or {}, significant)
        if said:
            e["changes_result"] = True
            beyond.append(said)
    sentences[:0] = beyond
    for e in entries:
        if not e["changes_result"] and e["factor"] in (effects or {}):
            e["changes_result"] = True
            sentences.insert(0, effects[e["factor"]])  # type: ignore[index]  # first: the run-to-run noise is not it
    entries.sort(key=lambda e: (not e["changes_result"], -max(e["share"] or 0.0, e.get("summed") or 0.0)))
    if bitwise["repetitions_identical"] is not False and not sentences:
        sentences.append(
            "repetitions agree within each condition but conditions differ"
            if bitwise["repetitions_identical"]
            # K = 1: "repetitions differ ... run-to-run nondeterminism" named repetitions never made (review AR)
            else "conditions differ (one execution per condition: no repetitions to tell run-to-run noise apart)"
        )
    listed = sources if sources else shares
    if listed:
        # With one repetition the residual holds the subjects' reactions to the factors and the run-to-run noise,
        # which nothing separates: "repetition 51.5%" named repetitions that were never made (a review)
        name = {"repetition": "residual (subjects x factors and run-to-run)"} if bitwise.get("repetitions") == 1 else {}
        ranked = sorted(listed.items(), key=lambda kv: -kv[1])
        # sources below a millionth of the largest are rounding beside it: listed, ten of them buried the one
        # that mattered ("threads 6.27e-28%" before "version 0.313%": review NU); counted instead
        floor = 1e-6 * max((v for _, v in ranked), default=0.0)
        top = [f"{name.get(k, k)} {100 * v:.3g}%" for k, v in ranked if v > floor]
        if (tiny := sum(1 for _, v in ranked if 0 < v <= floor)) and top:
            top.append(f"{tiny} more below a millionth of the largest")
        if top:
            sentences.append(f"share of total variance{f' ({over})' if over else ''}: " + ", ".join(top))
    if summed and (top := [f"{k} {100 * v:.3g}%" for k, v in sorted(summed.items(), key=lambda kv: -kv[1]) if v > 0]):
        sentences.append("of what the executions vary by, summed over the differing voxels: " + ", ".join(top))
    return {"factors": entries, "summary": "; ".join(sentences)}


def add_origins(outputs: list[dict[str, Any]], sentences: list[str]) -> None:
    """Append where a traced pipeline starts to diverge (:func:`reprovip.analyze.dataflow.origin_sentences`) to
    the attribution sentence of each output that is not bit-for-bit identical."""
    for o in outputs:
        a = o.get("attribution")
        if sentences and a and not (o.get("bitwise") or {}).get("identical", True):
            a["origins"] = sentences
            a["summary"] = "; ".join([a["summary"], *(f"where it diverges: {s}" for s in sentences)])
