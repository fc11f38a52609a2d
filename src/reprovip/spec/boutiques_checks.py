"""What a study asks of its Boutiques descriptor that no execution would do, found by ``validate``: shell syntax
under a launcher that runs an argv, environment variables pinning a factor, an ignored container image, a list
input given one text."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reprovip.errors import SpecError
from reprovip.spec.boutiques import declared_inputs, descriptor_path, list_text_message, shared_keys

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


_BRACKETED = re.compile(r"\[[A-Za-z0-9_\-]+\]")


def undeclared_keys(desc: dict[str, Any]) -> list[str]:
    """``[KEY]`` tokens of the command line and the output path templates that no input or output declares as
    its value-key: Boutiques leaves them in the argv, and the tool received ``'[UNDECLARED]'`` (a tool that
    ignores extra arguments would have run and passed: a review). A value-key declared without its brackets
    (``INPUT_FILE``) is replaced inside them (``'[/data/sub-01.nii]'``): said with the fix.

    Examples
    --------
    >>> desc = {"command-line": "bet [INPUT_FILE] [OUT] [MASK]", "inputs": [{"id": "i", "value-key": "INPUT_FILE"},
    ...     {"id": "o", "value-key": "[OUT]"}], "output-files": [{"id": "m", "path-template": "[OUT]_[SUFFIX].nii"}]}
    >>> [m.split(",")[0] for m in undeclared_keys(desc)]
    ['command-line uses [INPUT_FILE]', 'command-line uses [MASK]', "output-files 'm' path-template uses [SUFFIX]"]
    >>> undeclared_keys(desc)[0].endswith('Boutiques replaces inside the brackets: declare it "[INPUT_FILE]")')
    True
    """
    items = [i for i in [*(desc.get("inputs") or []), *(desc.get("output-files") or [])] if isinstance(i, dict)]
    keys = {str(i["value-key"]): str(i.get("id")) for i in items if i.get("value-key")}
    texts = [("command-line", desc.get("command-line"))]
    texts += [
        (f"output-files {o.get('id')!r} path-template", o.get("path-template"))
        for o in desc.get("output-files") or []
        if isinstance(o, dict)
    ]
    out = []
    for where, text in texts:
        for token in dict.fromkeys(_BRACKETED.findall(text if isinstance(text, str) else "")):
            if token in keys:
                continue
            bare = token[1:-1]
            if bare in keys:
                fix = (
                    f" (input {keys[bare]!r} declares {bare}, which Boutiques replaces inside the brackets: "
                    f'declare it "{token}")'
                )
            else:
                fix = "; declare it, or remove it"
            out.append(f"{where} uses {token}, which no input or output declares as its value-key{fix}")
    return out


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
    if shared_keys(path) is None:  # two inputs sharing a key: that error comes first (validate_descriptor)
        problems += [locate(f"{path.name}: {m}", where) for m in undeclared_keys(desc)]
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
