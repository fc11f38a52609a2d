"""The container factor for real, with podman: the os factor's experiment, with the releases packed as images.

Two images are made without any registry: the cached debootstrap root filesystems of bookworm (glibc 2.36) and
trixie (glibc 2.41) that the os-factor tests build (tests/execute/test_os_factor.py) become images with
``podman import``, once per rootfs build (the tag names the build; a lock in the rootfs cache keeps parallel
workers from importing twice). A small C program whose float libm results changed between the releases must get
the verdict and the attribution the os factor gives it, and the image digests must be in the provenance.
These tests skip, saying why, where podman is not set up (``source scripts/services/podman.sh`` as root sets it up
and exports REPROVIP_TEST_PODMAN=1), and fail instead when CI is set.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reprovip.errors import InputError
from reprovip.execute.container import engine_hint, prepare
from reprovip.execute.rootfs import cache_dir, ensure_rootfs
from reprovip.study import Study
from tests.conftest import APPS, unavailable, write_study

RELEASES = ("bookworm", "trixie")
NOT_SET_UP = (
    "podman is not set up here (run `source scripts/services/podman.sh` as root: it exports REPROVIP_TEST_PODMAN=1)"
)


def _import(release: str) -> str:
    """The image of the cached ``release`` rootfs (``podman import``), imported once per rootfs build."""
    root, _ = ensure_rootfs(release)
    build = hashlib.sha256((root / ".reprovip-rootfs.json").read_bytes()).hexdigest()[:12]
    tag = f"localhost/reprovip-test-os:{release}-{build}"
    with open(cache_dir() / f"{release}.podman.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if subprocess.run(["podman", "image", "exists", tag], check=False).returncode != 0:
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            subprocess.run(["podman", "import", "-q", "-", tag], stdin=tar.stdout, capture_output=True, check=True)
            tar.stdout.close()  # type: ignore[union-attr]
            assert tar.wait() == 0
    return tag


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    if os.environ.get("REPROVIP_TEST_PODMAN") != "1" or shutil.which("podman") is None:
        unavailable(NOT_SET_UP)
    if shutil.which("gcc") is None:
        unavailable("gcc is needed to build the libm program")
    try:
        return {release: _import(release) for release in RELEASES}
    except InputError as exc:  # no cached rootfs and no way to build one
        unavailable(str(exc))
        raise


def _libm_study(directory: Path, factors: str = "", *, container: str = "", n: int = 2) -> Study:
    """The os-factor test's study of the libm program (``n`` subjects x ``n`` repetitions) under ``factors``."""
    directory.mkdir()
    binary = directory / "libm_app"
    subprocess.run(["gcc", "-O1", "-o", str(binary), str(APPS / "libm_app.c"), "-lm"], check=True)
    path = write_study(directory, factors=factors, repetitions=n, subjects=n)
    text = path.read_text()
    path.write_text(
        "application:\n"
        + (f"  container: {container}\n" if container else "")
        + f'  command: ["{binary}", "{{input}}", "{{outdir}}"]\n'
        + text[text.index("subjects:") :]
    )
    return Study.load(path)


def _levels(images: dict[str, str]) -> str:
    return "  container:\n" + "".join(f"    {r}: {{engine: podman, image: {images[r]}}}\n" for r in RELEASES)


@pytest.fixture(scope="module")
def in_images(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The analysis of the libm study whose `container` factor has one level per release (run once)."""
    study = _libm_study(tmp_path_factory.mktemp("container") / "study", _levels(images))
    summary = study.run(jobs=2, progress=False)
    assert (summary.done, summary.failed) == (8, 0)
    return study.analyze().document


@pytest.mark.slow
def test_container_factor_gives_the_os_factors_verdict_and_attribution(
    in_images: dict[str, Any], study_dir: Path
) -> None:
    """Same program, same releases: images of the os factor's root filesystems must change the result the same way.

    The oracle is the os factor itself (bubblewrap over the same root filesystems), run here side by side;
    expf agrees between glibc 2.36 and 2.41 and tgammaf does not (tests/execute/test_os_factor.py).
    """
    in_roots = _libm_study(study_dir / "os", f"  os: [{', '.join(RELEASES)}]\n")
    summary = in_roots.run(jobs=2, progress=False)
    assert (summary.done, summary.failed) == (8, 0)
    oracle = in_roots.analyze().document
    ours, theirs = in_images["outputs"][0], oracle["outputs"][0]
    assert in_images["verdict"]["status"] == oracle["verdict"]["status"] == "pass"
    assert ours["verdict"]["status"] == theirs["verdict"]["status"]
    assert ours["bitwise"]["repetitions_identical"] and not ours["bitwise"]["identical"]
    assert ours["bitwise"]["factors"]["container"]["between_differ"] == 2
    assert [f["factor"] for f in ours["attribution"]["factors"]] == ["container"]
    explanation = theirs["attribution"]["factors"][0]["explanation"]
    assert ours["attribution"]["factors"][0]["explanation"] == re.sub(r"\bos\b", "container", explanation)
    obs = {o["name"]: o["identical"] for o in ours["observations"]}
    assert obs == {o["name"]: o["identical"] for o in theirs["observations"]}
    assert obs["expf"] and not obs["tgammaf"]
    # Not only the same verdict: the same numbers (the same bytes, release by release, give the same means).
    means = {o["name"]: o["mean"] for o in ours["observations"]}
    assert means == {o["name"]: o["mean"] for o in theirs["observations"]}


@pytest.mark.slow
def test_image_digest_is_in_the_provenance(in_images: dict[str, Any], images: dict[str, str]) -> None:
    """The digest recorded is the image id podman reports (``podman image inspect``), one per level."""
    ids = [
        subprocess.run(
            ["podman", "image", "inspect", "--format", "{{.Id}}", images[r]], capture_output=True, text=True, check=True
        ).stdout.strip()
        for r in RELEASES
    ]
    differing = in_images["provenance"]["differing"]
    assert differing["container.digest"] == sorted(f"sha256:{i}" for i in ids)
    assert differing["container.image"] == sorted(images.values())


@pytest.mark.slow
def test_application_container_runs_and_records_its_digest(images: dict[str, str], study_dir: Path) -> None:
    image = images["trixie"]
    study = _libm_study(study_dir / "app", container=f"{{engine: podman, image: {image}}}", n=1)
    assert study.run(jobs=1, progress=False).done == 1
    catalog = study.catalog
    (execution,) = catalog.executions(catalog.study_id(study.name))
    recorded = catalog.provenance(execution["provenance"])["container"]  # type: ignore[index]
    assert recorded == {"engine": "podman", "image": image, "digest": prepare("podman", image)["digest"]}
    # It ran the image recorded, by its id: a tag moved to another image meanwhile would not change what runs.
    (attempt,) = catalog.attempts(execution["id"])
    assert recorded["digest"] in attempt["argv"] and image not in attempt["argv"]


def test_missing_image_is_one_line_error(images: dict[str, str]) -> None:
    with pytest.raises(
        InputError,
        match=r"^container image 'localhost/reprovip-no-such-image:0' is not in podman's local storage and could "
        r"not be pulled: [^\n]+ \(build or load it first; see docs/containers\.md\)$",
    ):
        prepare("podman", "localhost/reprovip-no-such-image:0")


def test_missing_engine_is_one_line_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        InputError,
        match=r"^container engine 'podman' is not installed here \(not on PATH\); install it or see "
        r"docs/containers\.md$",
    ):
        prepare("podman", "localhost/x:1")


@pytest.fixture
def refused_ulimits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A containers.conf whose default ulimit no runtime can apply: more open files than ``fs.nr_open``.

    setrlimit refuses a RLIMIT_NOFILE above the kernel's ``fs.nr_open`` even to root, so podman cannot set any
    container up, on any machine: the failure this sandbox gives podman's stock defaults, made portable.
    """
    too_many = int(Path("/proc/sys/fs/nr_open").read_text()) + 1
    conf = tmp_path / "containers.conf"
    conf.write_text(f'[containers]\ndefault_ulimits = ["nofile={too_many}:{too_many}"]\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(conf))


@pytest.mark.usefixtures("refused_ulimits")
def test_refused_ulimits_are_one_line_error_naming_the_setting(images: dict[str, str]) -> None:
    with pytest.raises(
        InputError,
        match=r"^podman cannot run containers here \(localhost/reprovip-test-os:bookworm-\w+\): [^\n]*rlimit[^\n]*; "
        r"the default ulimits are refused here: set `default_ulimits = \[\]` under \[containers\] in "
        r"containers\.conf$",
    ):
        prepare("podman", images["bookworm"])


@pytest.mark.usefixtures("refused_ulimits")
def test_engine_cannot_run_stops_the_study_before_anything_runs(images: dict[str, str], study_dir: Path) -> None:
    study = _libm_study(study_dir / "refused", _levels(images))
    with pytest.raises(InputError, match=r"^podman cannot run containers here .*default_ulimits = \[\]"):
        study.run(jobs=1, progress=False)
    assert set(study.executions()["status"]) == {"pending"}


@pytest.mark.parametrize(
    ("message", "setting"),
    [
        # Seen here: podman 4.3.1 with runc 1.1.5, as root in a sandbox that refuses raising RLIMIT_NOFILE.
        (
            "Error: runc: runc create failed: unable to start container process: error during container init: "
            "error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: "
            "OCI permission denied",
            "default_ulimits = []",
        ),
        ("Error: crun: creating cgroup directory `/sys/fs/cgroup/libpod_parent`: Read-only file system", "cgroupfs"),
        ('cannot find newuidmap: exec: "newuidmap": executable file not found in $PATH', "/etc/subuid"),
        (
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
            "start the Docker daemon",
        ),
        ("Error: something new", "see docs/containers.md"),
    ],
    ids=["ulimits", "cgroups", "rootless", "docker-daemon", "other"],
)
def test_engine_hint_names_what_to_configure(message: str, setting: str) -> None:
    assert setting in engine_hint(message)
