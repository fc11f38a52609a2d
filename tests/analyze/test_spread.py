"""A level under which the repetitions vary more is named: run-to-run noise that depends on a condition."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reprovip.analyze.spread import spread_effects, spread_tests
from tests.conftest import ingested_folders

LEVELS = {"threads": ["1", "2"], "solver": ["a", "b"]}


def _named(x: np.ndarray) -> dict[str, str]:
    observations = [
        dict(name=f"m{i}/amplitude", spread=t, identical=False)
        for i, t in enumerate(spread_tests(x, ("threads", "solver")))
    ]
    return spread_effects(observations, LEVELS, {"threads": "nondeterminism under multithreading"})


def test_noise_under_one_level_of_one_field_is_named_and_noise_everywhere_is_not() -> None:
    """Review S: threads=2 adding 2% noise to Glx only (0.1% everywhere else) read "run-to-run nondeterminism"."""
    named = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        base = 100 + 30 * rng.normal(size=(5, 6, 1, 1, 1))
        x = base + rng.normal(0, 0.1, size=(5, 6, 2, 2, 2))
        named += bool(_named(x))
        if seed == 0:
            x[2, :, 1] += rng.normal(0, 2.0, size=(6, 2, 2))
            (said,) = _named(x).values()
            assert said.startswith("the repetitions under threads=2 vary ") and said.endswith(
                "times as much as under threads=1 on m2/amplitude: nondeterminism under multithreading"
            )
    assert named == 0
    heavy = [np.random.default_rng(s).standard_t(3, size=(20, 6, 2, 2, 2)) for s in range(40)]
    assert sum(bool(_named(100 + e)) for e in heavy) <= 2  # tails fool an F test alone (45%): the sign test


def test_a_field_that_repeats_exactly_under_one_level_is_said_so(tmp_path: Path) -> None:
    """Review S: CRLB noise under threads=2 only, the amplitudes' 0.1% noise everywhere: the files differ under
    every condition, the bits could not tie it to threads; the analysis names it."""
    rng = np.random.default_rng(4)
    folders = {}
    for s in range(5):
        for threads in (1, 2):
            for r in (1, 2, 3):
                crlb = 5.0 + s + (rng.normal(0, 1.5) if threads == 2 else 0.0)
                amp = (10.0 + 3 * s) * (1 + 1e-3 * rng.normal())
                folders[f"{threads}/sub-{s}/run-{r}"] = {"fit.json": json.dumps({"amplitude": amp, "crlb": crlb})}
    study = ingested_folders(
        tmp_path, "  fit: {path: fit.json, kind: scalars}\n", folders, "{threads}/{subject}/run-{repetition}"
    )
    (out,) = study.analyze().document["outputs"]
    assert out["attribution"]["summary"].startswith(
        "the repetitions differ under threads=2 and repeat exactly under threads=1 on crlb: "
        "nondeterminism under multithreading"
    )
    assert next(f for f in out["attribution"]["factors"] if f["factor"] == "threads")["changes_result"]
