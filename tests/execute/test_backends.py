"""The executors' ``?key=value`` options: every executor that takes options checks their keys (review DK6)."""

from __future__ import annotations

import pytest

from reprovip.errors import InputError
from reprovip.execute import backends


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("local?x=1", r"^executor 'local\?x=1': unknown option 'x'; the `local` executor takes no options$"),
        ("local?x", r"^executor 'local\?x': unknown option 'x'; the `local` executor takes no options$"),
        ("local?jobs=2", r"unknown option 'jobs'; the `local` executor takes no options$"),
        ("dask-local?x", r"unknown option 'x'; the `dask-local` executor accepts `shared`, `processes`$"),
        ("dask-local?processes", r"^executor 'dask-local\?processes': option 'processes' needs a value, as in"),
        ("slurm?cores=2", r"unknown option 'cores'; the `slurm` executor accepts `shared`$"),
        ("pbs://?x=1", r"unknown option 'x'; the `pbs` executor accepts `shared`$"),
        ("slurm-array?x", r"unknown option 'x'; the `slurm-array` executor accepts `partition`, `account`"),
        ("carmin+https://host/rest?x", r"unknown option 'x'; the `carmin\+https` executor accepts `pipeline`"),
    ],
)
def test_unknown_or_empty_options_are_input_errors_naming_the_key_and_what_is_accepted(spec: str, match: str) -> None:
    """Before, `local` ignored its query (`local?x=1` ran), and the Dask and CARMIN executors dropped a key given
    without a value (`dask-local?x` ran, `dask-local?processes` ran with threads): parse_qs drops blank values."""
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match=match), backends.open_backend(spec, 1):
        pass


@pytest.mark.parametrize(
    ("spec", "accepted", "expected"),
    [
        ("local", (), {}),
        ("local?", (), {}),
        ("dask-local?processes=1&shared=0", ("shared", "processes"), {"processes": "1", "shared": "0"}),
        ("dask://h:1?shared=0&shared=1", ("shared",), {"shared": "1"}),  # the last of a repeated key
        ("carmin+https://h/rest?pipeline=scale%2F1.0", ("pipeline",), {"pipeline": "scale/1.0"}),
    ],
)
def test_options_given_are_returned(spec: str, accepted: tuple[str, ...], expected: dict[str, str]) -> None:
    assert backends.executor_options(spec, accepted) == expected


def test_the_local_executor_without_options_still_runs(tmp_path) -> None:
    from reprovip.study import Study
    from tests.conftest import write_study

    summary = Study.load(write_study(tmp_path, subjects=1, repetitions=2)).run(
        jobs=1, executor="local?", progress=False
    )
    assert (summary.planned, summary.done, summary.failed) == (2, 2, 0)
