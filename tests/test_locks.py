"""The main job's environment is the tested one: every package main.lock pins has the same version in test.lock."""

from __future__ import annotations

import re
from pathlib import Path

REQUIREMENTS = Path(__file__).parents[1] / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def pins(text: str) -> dict[str, str]:
    """Map each package a lock file pins (names normalised as PEP 503 does) to its version."""
    found = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def test_pins_reads_a_lock() -> None:
    text = "numpy==2.3.5\n    # via reprovip\nPyYAML==6.0.2\n# comment==1\n"
    assert pins(text) == {"numpy": "2.3.5", "pyyaml": "6.0.2"}


def test_main_lock_runs_what_the_tests_test() -> None:
    main = pins((REQUIREMENTS / "main.lock").read_text())
    tested = pins((REQUIREMENTS / "test.lock").read_text())
    assert len(main) > 50
    # session 28: numpy 2.4.6 and scipy 1.17.1 ran the main job while the suite tested 2.3.5 and 1.15.3
    assert {name: (version, tested.get(name)) for name, version in main.items() if tested.get(name) != version} == {}
