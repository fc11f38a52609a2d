"""What a study asks of its Boutiques descriptor that no execution would do, found by ``validate``: shell syntax
under a launcher that runs an argv, environment variables pinning a factor, an ignored container image, a list
input given one text."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reprovip.errors import SpecError
from reprovip.spec.boutiques import declared_inputs, descriptor_path, list_text_message

# A shell operator: `exec simulate`'s command line is split into an argv and run without a shell.
_SHELL_CHARS = frozenset("();<>|&")


def shell_syntax(command_line: str) -> list[str]:
    """The shell operators (``&&``, ``>``, ``;`` ...) of a Boutiques ``command-line``, outside quotes, once each.

    Examples
    --------
    >>> shell_syntax("cd [OUT] && python3 [TOOL] > result.txt 2>log.txt; echo done")
    ['&&', '>', ';']
    >>> shell_syntax("/bin/sh -c 'cd [OUT] && tool'"), shell_syntax("tool [IN] [OUT]")
    ([], [])
    """
    lexer = shlex.shlex(command_line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: left to Boutiques, which builds the command
        return []
    return list(dict.fromkeys(t for t in tokens if t and set(t) <= _SHELL_CHARS))


def args_after_shell(ops: list[str]) -> str:
    """Why the ``args`` factor cannot go with a command line using the shell ``ops``."""
    return (
        f"command-line uses the shell ({' '.join(ops)}) and the `args` factor's arguments would be appended at its "
        "end, where its last command, not the tool, gets them; pass them through an input of the descriptor "
        "(a factor in `invocation`) instead"
    )


def boutiques_problems(spec: Any, study_dir: Path, locate: Callable[..., SpecError]) -> list[SpecError]:
    """What the study asks of its Boutiques descriptor that no execution would do, each a located error.

    - launcher ``simulate`` and a ``command-line`` using the shell (``cd ... &&``, ``>``, ``;``): the argv would
      start ``cd``; every execution failed;
    - ``environment-variables`` setting a variable a built-in factor sets (``OMP_NUM_THREADS`` under
      ``threads``), the ``env`` factor's levels or the study's ``env`` set: the descriptor's value wins and
      every level runs alike (reviews read "identical");
    - the ``args`` factor and a command line using the shell: its arguments reach the last command, not the tool;
    - launcher ``simulate``, a ``container-image`` and no container of the study's own: the image is not used;
    - a list input given one text (``lst: "{sizes}"``).
    """
    from reprovip.execute.render import FACTOR_VARIABLES

    app = spec.application
    path = descriptor_path(app.boutiques, study_dir)
    try:
        desc = json.loads(path.read_text())
    except (OSError, ValueError):
        return []  # reported by validate_descriptor
    if not isinstance(desc, dict):
        return []
    where = ("application", "boutiques")
    problems = []
    ops = shell_syntax(str(desc.get("command-line", "")))
    simulate = app.launcher == "simulate"
    if ops and simulate:
        problems.append(
            locate(
                f"{path.name}: command-line uses the shell ({' '.join(ops)}), but launcher `simulate` runs it as an "
                "argv list, never through a shell; use `launcher: bosh` (Boutiques runs it with a shell) or make the "
                'shell explicit in the descriptor: "command-line": "/bin/sh -c \'...\'"',
                where,
            )
        )
    elif ops and "args" in spec.factors:
        problems.append(locate(f"{path.name}: {args_after_shell(ops)}", ("factors", "args")))
    owned = {v: f for f, variables in FACTOR_VARIABLES.items() if f in spec.factors for v in variables}
    levels = spec.factors.get("env")
    set_by_levels = {v: label for label, lv in levels.items() for v in lv or {}} if isinstance(levels, dict) else {}
    for variable in desc.get("environment-variables") or []:
        name = variable.get("name") if isinstance(variable, dict) else None
        if name in owned:
            problems.append(
                locate(
                    f"{path.name}: environment-variables sets {name}, which the `{owned[name]}` factor sets (to each "
                    "of its levels); the descriptor's value would win and every level run alike: remove it from "
                    "(a copy of) the descriptor",
                    ("factors", owned[name]),
                )
            )
        elif name in set_by_levels:  # a review: env: {off: {FOO: "0"}, on: {FOO: "1"}} read bit-for-bit identical
            problems.append(
                locate(
                    f"{path.name}: environment-variables sets {name}, which the `env` factor's levels set; the "
                    "descriptor's value would win and every level run alike: remove it from (a copy of) the "
                    "descriptor",
                    ("factors", "env", set_by_levels[name], name),
                )
            )
        elif name in spec.env:  # `TOOL_SEED: "{seed}"` pinned by the descriptor: every seed run alike
            problems.append(
                locate(
                    f"{path.name}: environment-variables sets {name}, which the study's `env` sets too; the "
                    "descriptor's value would win: remove it from (a copy of) the descriptor, or from `env`",
                    ("env", name),
                )
            )
    image = (desc.get("container-image") or {}).get("image") if isinstance(desc.get("container-image"), dict) else None
    if image and simulate and app.container is None and "container" not in spec.factors:
        problems.append(
            locate(
                f"{path.name}: container-image {image!r} is not used by launcher `simulate`, which runs the command on "
                f"this host; use `launcher: bosh` to run it in that image, or `application.container: "
                f"{{engine: docker, image: {image!r}}}` (docs/containers.md)",
                where,
            )
        )
    inputs = declared_inputs(desc)
    for key, template in (app.invocation or {}).items():
        if isinstance(template, str) and (inputs.get(key) or {}).get("list"):
            problems.append(
                locate(f"{path.name}: {list_text_message(key, template)}", ("application", "invocation", key))
            )
    return problems
