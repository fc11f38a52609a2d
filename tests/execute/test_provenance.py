"""Machine provenance: the package list read from metadata headers equals importlib.metadata's own view."""

from __future__ import annotations

import importlib.metadata

from reprovip.execute.provenance import _packages, machine_provenance, machine_provenance_hash


def test_packages_match_importlib_metadata() -> None:
    expected = {}
    for dist in importlib.metadata.distributions():
        if dist.metadata.get("Name"):
            expected[dist.metadata["Name"].lower()] = dist.version
    assert _packages() == expected
    assert expected["numpy"] == importlib.metadata.version("numpy")


def test_record_names_this_interpreter_and_hash_is_stable() -> None:
    record = machine_provenance()
    assert record["packages"] == dict(sorted(_packages().items()))
    assert record["python"]["version"].count(".") == 2 and record["cpu"]["count"] >= 1
    assert machine_provenance_hash() == machine_provenance_hash() and len(machine_provenance_hash()) == 32


def test_every_kind_of_metadata_is_read_like_importlib_does(tmp_path, monkeypatch) -> None:
    header = "Metadata-Version: 2.1\nName: {}\nVersion: {}\n\nName: not-this-one\n"
    (tmp_path / "alpha-1.0.dist-info").mkdir()
    (tmp_path / "alpha-1.0.dist-info" / "METADATA").write_text(header.format("Alpha", "1.0"))
    (tmp_path / "beta.egg-info").mkdir()
    (tmp_path / "beta.egg-info" / "PKG-INFO").write_text(header.format("beta", "2.0b1"))
    (tmp_path / "gamma-3.egg-info").write_text(header.format("gamma", "3"))
    (tmp_path / "nameless-0.dist-info").mkdir()
    (tmp_path / "nameless-0.dist-info" / "METADATA").write_text("Version: 9\n")
    monkeypatch.setattr("sys.path", [str(tmp_path), str(tmp_path / "missing")])
    expected = {
        d.metadata.get("Name").lower(): d.version
        for d in importlib.metadata.distributions(path=[str(tmp_path)])
        if d.metadata.get("Name")
    }
    assert _packages() == expected == {"alpha": "1.0", "beta": "2.0b1", "gamma": "3"}
