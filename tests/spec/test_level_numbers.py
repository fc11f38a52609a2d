"""A factor level written as a YAML number that does not read back as written is refused at its line.

A review: ``version: [1.9, 1.10]`` named its second level ``1.1`` (YAML 1.2 reads ``1.10`` as the float 1.1),
so ``{version}`` was 1.1 and ``ingest``'s folders ``1.10`` were not the level declared. The expected lines and
columns are counted in the study texts below (1-based, as editors show them).
"""

from __future__ import annotations

import pytest

from reprovip.errors import SpecError
from reprovip.spec import parse_spec


@pytest.mark.parametrize(
    ("factors", "match"),
    [
        (
            "factors:\n  version: [1.9, 1.10]\n",
            r"^<study>:4:18: factors\.version\.1: `1\.10` reads as the number 1\.1 in YAML, so this level would be "
            r'named 1\.1: quote it \(`"1\.10"`\) to keep it as written$',
        ),
        ("factors:\n  version:\n    - 1.20\n", r"^<study>:5:7: factors\.version\.0: `1\.20` reads as the number 1\.2 "),
        ("factors:\n  alpha: [1e3]\n", r"^<study>:4:11: factors\.alpha\.0: `1e3` reads as the number 1000\.0 "),
        ("factors:\n  alpha: [01]\n", r"^<study>:4:11: factors\.alpha\.0: `01` reads as the number 1 "),
        ("factors:\n  env: {0.10: {A: b}}\n", r"^<study>:4:9: factors\.env\.0\.1: `0\.10` reads as the number 0\.1 "),
        # A map's payload 1.10 reached the application as 1.1 (a review)
        (
            "factors:\n  tool: {new: 1.10, old: 1.9}\n",
            r"^<study>:4:10: factors\.tool\.new: `1\.10` reads as the number 1\.1 in YAML, so the application would be "
            r'given 1\.1: quote it \(`"1\.10"`\) to keep it as written$',
        ),
    ],
)
def test_a_level_yaml_renames_is_refused_at_its_line(factors: str, match: str) -> None:
    name = factors.split()[1].rstrip(":")
    placeholder = "{env_level}" if name == "env" else f"{{{name}}}"
    with pytest.raises(SpecError, match=match):
        parse_spec(
            f'application: {{command: [a, "{placeholder}"]}}\noutputs: {{o: {{path: o, kind: text}}}}\n' + factors
        )


def test_booleans_are_named_and_given_as_yaml_writes_them() -> None:
    """`flag: [true, false]` reached the application as `True`/`False`, `null` as `None` (a review);
    `true`/`false`/`null` now, as level names and as values, in list form and in a map's payload."""
    spec = parse_spec(
        'application: {command: [a, "{flag}", "{mode}"]}\noutputs: {o: {path: o, kind: text}}\n'
        "factors:\n  flag: [true, false, null]\n  mode: {fast: true, slow: null}\n"
    )
    assert {f.name: f.levels for f in spec.factor_list()} == {
        "flag": {"true": "true", "false": "false", "null": "null"},
        "mode": {"fast": "true", "slow": "null"},
    }


def test_levels_read_as_written_and_number_factors_are_kept() -> None:
    """Quoted, or a number whose name is what was written (2.0, 3, 0.5), a level is accepted; `threads`, `seed`
    and `perturb` levels are numbers to the application, so `threads: [01]` is the count 1, as YAML reads it."""
    spec = parse_spec(
        'application: {command: [a, "{version}", "{alpha}", "{threads}", "{seed}"]}\n'
        "outputs: {o: {path: o, kind: text}}\n"
        'factors:\n  version: ["1.10", 2.0, 3]\n  alpha: [0.5, -1.25]\n  threads: [01, 2]\n  seed: [042]\n'
    )
    assert {f.name: list(f.levels) for f in spec.factor_list()} == {
        "version": ["1.10", "2.0", "3"],
        "alpha": ["0.5", "-1.25"],
        "threads": ["1", "2"],
        "seed": ["42"],
    }
