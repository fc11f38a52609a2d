"""The os factor: the same binary under two Debian releases' C libraries (Glatard et al. 2015, made routine).

Builds (once, cached) minbase root filesystems of bookworm (glibc 2.36) and trixie (glibc 2.41) with
debootstrap from Debian's mirror, and runs a small C program whose float libm results changed between them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from reprovip.errors import InputError
from reprovip.execute.rootfs import ensure_rootfs, wrap
from reprovip.study import Study
from tests.conftest import APPS, write_study

CAN_BUILD = os.geteuid() == 0 and (shutil.which("debootstrap") is not None or Path("/usr/sbin/debootstrap").exists())
CAN_RUN = shutil.which("bwrap") is not None and shutil.which("gcc") is not None


def test_wrap_binds_study_and_workdir() -> None:
    argv = wrap(Path("/c/trixie"), ["/s/app", "in"], binds=["/s"], workdir="/w")
    assert argv == [
        "bwrap",
        "--bind",
        "/c/trixie",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--bind",
        "/s",
        "/s",
        "--bind",
        "/w",
        "/w",
        "--chdir",
        "/w",
        "/s/app",
        "in",
    ]


def test_bad_release_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"`os` level 'Bookworm!' is not a Debian release name"):
        ensure_rootfs("Bookworm!", cache=tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(
    not (CAN_BUILD and CAN_RUN),
    reason="needs root, debootstrap, bubblewrap and gcc (scripts/test.sh installs them when run as root)",
)
def test_libm_difference_is_attributed_to_the_os_factor(study_dir: Path) -> None:
    binary = study_dir / "libm_app"
    subprocess.run(["gcc", "-O1", "-o", str(binary), str(APPS / "libm_app.c"), "-lm"], check=True)
    path = write_study(
        study_dir,
        factors="  os: [bookworm, trixie]\n",
        repetitions=2,
        subjects=2,
        outputs="  result: {path: result.json, kind: scalars}\n",
    )
    text = path.read_text()
    path.write_text(
        text[: text.index("  command:")]
        + f'  command: ["{binary}", "{{input}}", "{{outdir}}"]\n'
        + text[text.index("subjects:") :]
    )
    study = Study.load(path)
    summary = study.run(jobs=2)
    assert (summary.done, summary.failed) == (8, 0)
    doc = study.analyze().document
    out = doc["outputs"][0]
    assert out["bitwise"]["repetitions_identical"]
    assert out["bitwise"]["factors"]["os"]["between_differ"] == 2
    assert "os changes the result" in out["attribution"]["summary"]
    libc = doc["provenance"]["differing"]["os.libc6"]
    assert len(libc) == 2 and libc[0].startswith("2.36") and libc[1].startswith("2.41")
    obs = {o["name"]: o for o in out["observations"]}
    assert obs["expf"]["identical"] and not obs["tgammaf"]["identical"]
