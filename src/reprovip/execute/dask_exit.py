"""A worker plugin for the Dask clusters reprovip starts: a worker closed by the runner exits at once.

A ``LocalCluster`` worker is a spawned interpreter; once closed, its normal exit tears down every module it
imported (distributed, NumPy, reprovip), which took 0.3-1.0 s per worker on a 2-CPU machine, and the runner
waits for it (``cluster.close()``). The local backend's workers skip that teardown the same way
(:func:`reprovip.execute.worker.main`). Only a worker closed gracefully does: one that dies keeps its exit code.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

from distributed import WorkerPlugin


def _exit_now() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class QuickExit(WorkerPlugin):
    """On the worker's graceful close, make its process exit without the interpreter's teardown."""

    name = "reprovip-quick-exit"

    def teardown(self, worker: Any) -> None:
        # atexit runs the last registered first: this one runs before (and instead of) the module teardown.
        atexit.register(_exit_now)
