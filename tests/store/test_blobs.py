"""Blob store helpers: the format suffix kept with each blob; adopting an output file (or link)."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from hypothesis import given
from hypothesis import strategies as st

from reprovip.store.blobs import BlobStore, file_hash, suffix_of

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


def test_a_symbolic_link_is_adopted_as_the_file_it_points_to(tmp_path) -> None:
    """An application that writes its output as a link (to a file in its working folder, soon removed): the
    store keeps the content as a regular file, and the analysis reads it (it used to keep the link, and say
    "the stored blob is a symbolic link")."""
    target = tmp_path / "work" / "real.csv"
    target.parent.mkdir()
    target.write_text("k,v\na,1\n")
    link = tmp_path / "work" / "out.csv"
    link.symlink_to(target)
    store = BlobStore(tmp_path / "store")
    dest = store.adopt(link, file_hash(link), ".csv")
    assert not dest.is_symlink() and dest.read_text() == "k,v\na,1\n"
    assert not os.path.lexists(link) and target.exists()
