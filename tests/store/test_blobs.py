"""Blob store helpers: the format suffix kept with each blob."""

from __future__ import annotations

from pathlib import PurePosixPath

from hypothesis import given
from hypothesis import strategies as st

from reprovip.store.blobs import suffix_of

COMPRESSED = (".gz", ".bz2", ".xz", ".zst")


def _with_pathlib(name: str) -> str:
    """The definition suffix_of implements without building a Path."""
    parts = PurePosixPath(name).suffixes
    if len(parts) >= 2 and parts[-1].lower() in COMPRESSED:
        return "".join(parts[-2:]).lower()[:20]
    return (parts[-1].lower() if parts else "")[:20]


@given(st.lists(st.sampled_from(["a", "B", ".", "nii", "gz", "GZ", "x.y", ".."]), min_size=1, max_size=8).map("".join))
def test_suffix_of_agrees_with_pathlib(name: str) -> None:
    # File names as outputs have them: a name under a folder (pathlib would also collapse `dir/.`).
    assert suffix_of(f"out/{name}") == _with_pathlib(f"out/{name}")


def test_suffix_of_known_formats() -> None:
    assert [suffix_of(n) for n in ["out/seg.NII.GZ", "t.csv", ".hidden", "a.", "x.tar.zst", "dir/"]] == [
        ".nii.gz",
        ".csv",
        "",
        "",
        ".tar.zst",
        "",
    ]
