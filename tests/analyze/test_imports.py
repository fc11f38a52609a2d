"""The analysis imports SciPy's statistics, special functions and image morphology only where a result needs
them: 0.6 s of import that voxel maps and commands without confidence intervals never pay (checked, not
timed; ``benchmarks/voxelwise.py`` prints the analysis time)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from reprovip.metrics import icc


def _scipy_after(code: str) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith('scipy.'))))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_analysis_loads_no_scipy_submodule_that_costs() -> None:
    loaded = _scipy_after("import reprovip.analyze.engine, reprovip.metrics")
    assert not {m for m in loaded if m.split(".")[1] in ("stats", "special", "ndimage")}, loaded


def test_the_confidence_interval_imports_what_it_needs_when_called() -> None:
    x = np.array([[1.0, 1.1], [2.0, 2.3], [3.0, 2.9], [4.0, 4.2]])
    loaded = _scipy_after(
        f"import numpy as np\nfrom reprovip.metrics import icc\nicc(np.array({x.tolist()}), form='ICC(A,1)')"
    )
    assert "scipy.special" in loaded
    # The value itself is checked against pingouin in test_icc.py; here: it is computed, with its interval.
    r = icc(x, form="ICC(A,1)")
    assert 0.9 < r.icc < 1.0 and r.ci_low < r.icc < r.ci_high
