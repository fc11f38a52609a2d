"""What the sandbox says of a missing output: its declared path, and what stands there instead."""

from __future__ import annotations

import os
from pathlib import Path

from reprovip.execute.sandbox import OutputDecl, missing_message


def test_a_link_to_nothing_at_an_output_path_is_named_as_such(tmp_path: Path) -> None:
    """Review W: `res.csv` a symbolic link to a file that does not exist read "missing output: res (res.csv);
    {outdir} holds: res.csv", which contradicts itself; a folder there is said too."""
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(tmp_path / "does-not-exist.csv", out / "res.csv")
    (out / "stats").mkdir()
    decls = [OutputDecl("res", "res.csv", "table"), OutputDecl("stats", "stats", "table")]
    message = missing_message(str(tmp_path), decls, {"res", "stats"})
    assert message.startswith(
        f"missing outputs: res (res.csv is a symbolic link to {tmp_path / 'does-not-exist.csv'}, which is no file), "
        "stats (stats is a folder, not a file: declare its files with a glob, stats/**); {outdir} holds: res.csv"
    )
