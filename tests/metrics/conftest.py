"""Shared oracles and fixtures for the metrics tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def pingouin_icc():
    """``pingouin.intraclass_corr`` on a wide ``(n, k)`` table, unrounded, indexed by ICC form.

    pingouin rounds its CI95 column to 2 decimals by default; the option is switched off for the call and
    restored afterwards.
    """
    pg = pytest.importorskip("pingouin")

    def run(x: np.ndarray) -> pd.DataFrame:
        n, k = x.shape
        long = pd.DataFrame({"subject": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n), "y": x.ravel()})
        saved = dict(pg.options)
        pg.options["round"] = None
        pg.options["round.column.CI95"] = None
        try:
            out = pg.intraclass_corr(long, targets="subject", raters="rater", ratings="y")
        finally:
            pg.options.clear()
            pg.options.update(saved)
        return out.set_index("Type")

    return run
