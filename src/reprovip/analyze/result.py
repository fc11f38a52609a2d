"""The analysis document as pandas DataFrames, for notebooks and scripts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd  # here: 0.2 s of import that `analyze` itself never needs

    return pd.DataFrame(rows)


@dataclass(frozen=True)
class AnalysisResult:
    """The analysis of a study: the JSON ``document`` and tables built from it.

    Attributes
    ----------
    document : dict
        The versioned analysis document (``schema == "reprovip.analysis/2"``, see docs/analysis.md).
    """

    document: dict[str, Any]

    @property
    def verdict(self) -> dict[str, Any]:
        """The study's verdict as ``analyze`` stored it: ``status``, ``label``, ``exit_code``, ``summary``...
        (the same object ``check``, the report and the dashboard show)."""
        return self.document["verdict"]

    @property
    def outputs(self) -> pd.DataFrame:
        """One row per output: kind, identity, worst-case metrics, attribution summary, verdict."""
        rows = []
        for o in self.document["outputs"]:
            bw = o.get("bitwise", {})
            row = dict(
                output=o["name"],
                kind=o["kind"],
                identical=bw.get("identical"),
                bytes_identical=bw.get("bytes_identical"),
                repetitions_identical=bw.get("repetitions_identical"),
                error=o.get("error"),
                attribution=o.get("attribution", {}).get("summary"),
            )
            row.update(o.get("summary", {}))
            if "verdict" in o:
                row["verdict"] = o["verdict"]["status"]
            rows.append(row)
        return _frame(rows)

    @property
    def observations(self) -> pd.DataFrame:
        """One row per output x observation with its metrics (ICC(A,1) with CI, wSD, wCV, RC, digits...)."""
        rows = []
        for o in self.document["outputs"]:
            for obs in o.get("observations", []):
                icc = obs.get("icc", {}).get("ICC(A,1)", {})
                rows.append(
                    dict(
                        output=o["name"],
                        observation=obs["name"],
                        mean=obs.get("mean"),
                        identical=obs.get("identical"),
                        nonfinite=(obs.get("nonfinite") or {}).get("pattern"),  # no metric: why its row is empty
                        icc_a1=icc.get("value"),
                        icc_a1_ci_low=icc.get("ci_low"),
                        icc_a1_ci_high=icc.get("ci_high"),
                        band=icc.get("band"),
                        raters=obs.get("raters"),  # the executions as raters, copies counted once
                        wsd=obs.get("wsd"),
                        wcv=obs.get("wcv_rms"),
                        rc=obs.get("rc"),
                        bsd=obs.get("bsd"),
                        sd_ratio=obs.get("sd_ratio"),
                        sigdigits_min=obs.get("sigdigits", {}).get("parker_min"),
                        execution_sd=obs.get("execution_sd"),
                        ci95_halfwidth=obs.get("ci95_halfwidth"),
                    )
                )
        return _frame(rows)

    @property
    def icc(self) -> pd.DataFrame:
        """All six ICC forms per output x observation (value, F, df1, df2, p, CI, Koo & Li band)."""
        rows = [
            dict(output=o["name"], observation=obs["name"], form=form, **vals)
            for o in self.document["outputs"]
            for obs in o.get("observations", [])
            for form, vals in obs.get("icc", {}).items()
        ]
        return _frame(rows)

    @property
    def variance(self) -> pd.DataFrame:
        """Variance components per output x observation x source (variance, share, truncated)."""
        rows = [
            dict(output=o["name"], observation=obs["name"], source=src, **vals)
            for o in self.document["outputs"]
            for obs in o.get("observations", [])
            for src, vals in obs.get("variance", {}).items()
        ]
        return _frame(rows)

    @property
    def cells(self) -> pd.DataFrame:
        """Bitwise identity per output x subject x condition."""
        rows = [
            dict(output=o["name"], **c) for o in self.document["outputs"] for c in o.get("bitwise", {}).get("cells", [])
        ]
        return _frame(rows)

    def __repr__(self) -> str:
        n = len(self.document["outputs"])
        return f"AnalysisResult({self.document['study']['name']!r}, {n} outputs)"
