"""Studies built once per test session (real executions, real analyses) and a headless Chromium."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reprovip.execute import trace
from reprovip.study import Study
from tests.conftest import unavailable
from tests.report.studies import build_image_study, build_labels_study, build_pipeline_study, build_scalar_study

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def scalar_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """Nondeterministic scalars under threads=2, one failing subject, a verdict and an alert added."""
    return build_scalar_study(tmp_path_factory.mktemp("scalar"))


@pytest.fixture(scope="session")
def image_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """Images and label maps: voxelwise maps and Dice."""
    return build_image_study(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def labels_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """Label maps differing in one voxel between repetitions, in a study with no factor."""
    return build_labels_study(tmp_path_factory.mktemp("labels"))


@pytest.fixture(scope="session")
def labels4d_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """The same label maps written as 4-D files of 4 frames: not analysable."""
    return build_labels_study(tmp_path_factory.mktemp("labels4d"), frames=4)


@pytest.fixture(scope="session")
def pipeline_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """A traced pipeline whose origin step is known (step 2 under threads=2); needs strace."""
    problem = trace.strace_problem()
    if problem is not None:
        unavailable(f"strace cannot trace here: {problem}")
    return build_pipeline_study(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="module")
def browser():
    """One headless Debian Chromium per module, driven by Playwright (skipped when absent, failing under CI)."""
    if not CHROMIUM.exists():
        unavailable("no /usr/bin/chromium: install Debian's chromium (apt-get install chromium) for browser tests")
    try:
        from playwright import sync_api
    except ImportError:
        unavailable("the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a background thread; yield its base URL."""
    uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
