"""Machine provenance: the package list read from metadata headers equals importlib.metadata's own view."""

from __future__ import annotations

import importlib.metadata

from reprovip.execute.provenance import _packages, machine_provenance, machine_provenance_hash


def test_packages_match_importlib_metadata() -> None:
    expected = {}
    for dist in importlib.metadata.distributions():
        if dist.metadata["Name"]:
            expected[dist.metadata["Name"].lower()] = dist.version
    assert _packages() == expected
    assert expected["numpy"] == importlib.metadata.version("numpy")


def test_record_names_this_interpreter_and_hash_is_stable() -> None:
    record = machine_provenance()
    assert record["packages"] == dict(sorted(_packages().items()))
    assert record["python"]["version"].count(".") == 2 and record["cpu"]["count"] >= 1
    assert machine_provenance_hash() == machine_provenance_hash() and len(machine_provenance_hash()) == 32
