"""A four-step pipeline, each step a process of its own that reads the file the step before wrote.

``pipeline_app.py INPUT OUTDIR SEED`` runs, in the working folder:

1. ``load``: the input's last number -> ``step1/loaded.json`` (deterministic);
2. ``denoise``: -> ``step2/denoised.json``, plus unseeded noise when ``OMP_NUM_THREADS=2`` (a reduction whose order
   follows the thread schedule);
3. ``scale``: -> ``step3/scaled.json``, plus unseeded noise when SEED is ``none`` (an unseeded generator), and
   ``step3/count.json`` (how many values: the same whatever the values, a deterministic control);
4. ``report``: -> ``OUTDIR/result.json``.

With ``PIPELINE_STEPS=1`` every step runs in the driver's process (no process tree for a tracer to see).
"""

import json
import os
import random
import subprocess
import sys
from pathlib import Path


def step(n: int, src: str, dst: str, seed: str) -> None:
    data = json.loads(Path(src).read_text()) if n > 1 else [float(Path(src).read_text().split()[-1])]
    if n == 2 and os.environ.get("OMP_NUM_THREADS") == "2":
        data = [x + random.gauss(0.0, 1e-3) for x in data]
    if n == 3:
        if seed == "none":
            data = [x + random.gauss(0.0, 1e-3) for x in data]
        Path(dst).parent.joinpath("count.json").write_text(json.dumps({"n": len(data)}))
    result = {"value": sum(data) * 2.0} if n == 4 else [x * (1.5 if n == 3 else 1.0) for x in data]
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    Path(dst).write_text(json.dumps(result))


STEPS = ["step1/loaded.json", "step2/denoised.json", "step3/scaled.json"]

if __name__ == "__main__":
    if sys.argv[1] == "--step":
        step(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
        sys.exit(0)
    inp, out, seed = sys.argv[1], sys.argv[2], sys.argv[3]
    for d in ("step1", "step2", "step3"):
        os.makedirs(d, exist_ok=True)
    files = [inp, *STEPS, os.path.join(out, "result.json")]
    for n in range(1, 5):
        if os.environ.get("PIPELINE_STEPS") == "1":
            step(n, files[n - 1], files[n], seed)
        else:
            subprocess.run([sys.executable, __file__, "--step", str(n), files[n - 1], files[n], seed], check=True)
