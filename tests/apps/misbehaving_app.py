"""Applications that fail in the ways real ones do; the first argument picks the failure."""

import os
import signal
import sys
import time
from pathlib import Path

mode, out = sys.argv[1], Path(sys.argv[2])
if mode == "crash":
    print("segmentation of nothing failed: bad input", file=sys.stderr)
    sys.exit(3)
if mode == "hang":
    if os.fork() == 0:  # a child in the same group must die too
        time.sleep(600)
    time.sleep(600)
if mode == "no-output":
    sys.exit(0)
if mode == "kill-worker":  # the first attempt takes down the reprovip worker that started it, then hangs
    marker = Path(sys.argv[3])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(600)
        marker.write_text("survived")  # the runner should have killed it long before
if mode == "flaky":
    marker = Path(sys.argv[3])
    if not marker.exists():
        marker.write_text("failed once")
        sys.exit(1)
(out / "result.json").write_text('{"value": 1.0}')
