"""The design of stored outputs: the order of a factor's levels, whose first is the baseline."""

from __future__ import annotations

import pytest

from reprovip.analyze.design import Record, build_design, ordered_by_numbers


def _records(levels: list[str]) -> list[Record]:
    return [Record("s1", (("version", lv),), f"version={lv}", 1, None, None, None, None) for lv in levels]


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (["1.10", "1.9", "2.0"], ("1.9", "1.10", "2.0")),  # as text 1.10 < 1.9; as a float 1.10 is 1.1
        (["v10", "v2", "v1"], ("v1", "v2", "v10")),
        (["6.0.10", "6.0.5", "6.0.5-1"], ("6.0.5", "6.0.5-1", "6.0.10")),
        (["10", "-1", "2"], ("-1", "2", "10")),  # integers by value, signs included
        (["node10", "node9", "cpu"], ("cpu", "node9", "node10")),
    ],
)
def test_levels_found_in_the_data_are_ordered_naturally(found: list[str], expected: tuple[str, ...]) -> None:
    """Expected orders are those of GNU ``sort -V`` (coreutils' version sort) on the same names."""
    (factor,) = build_design(_records(found)).factors
    assert factor == ("version", expected)


def test_declared_levels_keep_their_order_and_undeclared_ones_follow_naturally() -> None:
    design = build_design(_records(["1.9", "1.10", "v2", "v10"]), {"version": ["1.10", "1.9"]})
    assert design.factors == (("version", ("1.10", "1.9", "v2", "v10")),)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        (["1.10", "1.9", "2.0"], True),
        (["v10", "v2", "v2.1"], True),  # v2 < v2.1: the longer goes on with a point and a number
        (["6.0.5", "6.0.5-1", "6.0.10"], True),  # a Debian revision after its upstream version
        (["10", "-1", "2"], True),  # integers by value
        (["old", "new"], False),  # the review's folders: new < old as text
        (["stable", "dev"], False),
        (["2.0", "2.0rc1"], False),  # naturally 2.0 < 2.0rc1, a release candidate after its release
        (["fsl6", "ants2"], False),  # two tools: their names, not their numbers, decide
        (["1", "01"], False),  # one number spelled twice: the text decides
        (["1.9", "1.9-patched"], False),
    ],
)
def test_levels_are_ordered_by_numbers_only_when_a_number_decides_each_step(levels: list[str], expected: bool) -> None:
    """The rule of docs/study-format.md ("The order of levels, and the baseline"): a version factor's natural
    order stands for the order of versions only when numbers decide it; for the cases ordered, the order is the
    one GNU ``sort -V`` gives (test above)."""
    assert ordered_by_numbers(levels) is expected


def test_files_each_written_by_one_execution_join_beside_a_file_all_write() -> None:
    """Code review: `qc_4711.json`, `qc_4712.json` (one per execution) beside a `summary.json` every execution
    writes stayed one output each (all or nothing); and their joined name was `qc_471*.json`, changing with the
    pids. They join as `qc_*.json`; `summary.json` stays itself."""
    from reprovip.analyze.design import _execution_named

    def rec(subject: str, rep: int) -> Record:
        return Record(subject, (), "-", rep, None, None, None, None)

    groups = {("qc", f"qc_471{i}.json"): ("scalars", [rec(f"s{i // 2}", i % 2 + 1)]) for i in range(4)}
    groups[("qc", "summary.json")] = ("scalars", [rec(f"s{i // 2}", i % 2 + 1) for i in range(4)])
    joined = _execution_named(groups)
    assert sorted(joined) == [("qc", "qc_*.json"), ("qc", "summary.json")]
    assert len(joined[("qc", "qc_*.json")][1]) == 4
    # Review EE: a time stamp in seconds two executions shared joins too; a file one execution wrote twice does not
    groups[("qc", "qc_1700000000.json")] = ("scalars", [rec("s2", 1), rec("s2", 2)])
    joined = _execution_named(groups)
    assert sorted(joined) == [("qc", "qc_*.json"), ("qc", "summary.json")]
    assert len(joined[("qc", "qc_*.json")][1]) == 6
    groups[("qc", "qc_1700000001.json")] = ("scalars", [rec("s2", 1)])  # s2 run 1 writes two stamped files
    joined = _execution_named(groups)  # ... the shared stamp is not joined: it stays an output of its own
    assert len(joined[("qc", "qc_*.json")][1]) == 5 and ("qc", "qc_1700000000.json") in joined
