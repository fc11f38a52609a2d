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

from reprovip.errors import InputError, SpecError
from reprovip.execute.render import render
from reprovip.spec.boutiques import cast_input, declared_inputs, descriptor_path, list_text_message, shared_keys
from reprovip.spec.loader import placeholders

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


def inert_inputs(desc: dict[str, Any]) -> dict[str, str]:
    """The descriptor's inputs whose value never reaches the tool, each with why: no value-key, or a value-key in
    neither the ``command-line`` nor (exactly, as ``bosh`` substitutes it) an ``environment-variables`` value. A
    value-key used only in an output's path-template names a file the tool is not told of (review BQ: a factor
    bound to such an input read "bit-for-bit identical").

    Examples
    --------
    >>> desc = {"command-line": "tool [IN]", "inputs": [{"id": "i", "value-key": "[IN]"}, {"id": "site"},
    ...     {"id": "lab", "value-key": "[LAB]"}], "output-files": [{"id": "o", "path-template": "[LAB].txt"}]}
    >>> sorted(inert_inputs(desc).items())
    [('lab', 'its value-key [LAB] is used only in output path-templates'), ('site', 'it has no value-key')]
    """
    command = desc.get("command-line")
    if not isinstance(command, str):
        return {}  # no valid descriptor: said by validate_descriptor
    env = {v.get("value") for v in desc.get("environment-variables") or [] if isinstance(v, dict)}
    outputs = desc.get("output-files") or []
    templates = " ".join(str(o.get("path-template") or "") for o in outputs if isinstance(o, dict))
    out = {}
    for name, declared in declared_inputs(desc).items():
        key = declared.get("value-key")
        if not isinstance(key, str) or not key:
            out[name] = "it has no value-key"
        elif key not in command and key not in env:
            out[name] = (
                f"its value-key {key} is used only in output path-templates"
                if key in templates
                else f"its value-key {key} is in neither the command-line nor an environment variable's value"
            )
    return out


def group_problems(desc: dict[str, Any], given: set[str]) -> list[str]:
    """The descriptor's ``groups`` an invocation giving the inputs ``given`` breaks, each in one line.

    Boutiques adds every omitted input's ``default-value`` before it checks the groups, so a default counts as
    given: with a mutually-exclusive member that has one, Boutiques refuses every invocation giving another member
    (it crashed with "'NoneType' object is not iterable", and an unmet one-is-required group with a schema dump:
    review BQ).

    Examples
    --------
    >>> desc = {"inputs": [{"id": "a"}, {"id": "b", "default-value": 1}, {"id": "c"}, {"id": "d"}],
    ...     "groups": [{"id": "x", "members": ["a", "b"], "mutually-exclusive": True},
    ...                {"id": "y", "members": ["c", "d"], "one-is-required": True}]}
    >>> [m[:38] for m in group_problems(desc, {"a"})]
    ["group 'x' is mutually exclusive: the i", "group 'y' needs one of its members, an"]
    >>> group_problems(desc, {"c"})
    []
    """
    inputs = declared_inputs(desc)
    defaults = {k for k, v in inputs.items() if k not in given and v.get("default-value") is not None}
    out = []
    for group in desc.get("groups") or []:
        if not isinstance(group, dict):
            continue
        name, members = group.get("id"), [m for m in group.get("members") or [] if isinstance(m, str)]
        explicit, implied = [m for m in members if m in given], [m for m in members if m in defaults]
        if group.get("mutually-exclusive") and len(explicit) + len(implied) > 1:
            gives = f"the invocation gives {' and '.join(map(repr, explicit))}" if explicit else "every invocation"
            if implied:
                out.append(
                    f"group {name!r} is mutually exclusive: {gives}, and Boutiques adds the default-value of "
                    f"{' and '.join(map(repr, implied))} to it, so it refuses every execution; remove that "
                    "default-value from (a copy of) the descriptor"
                )
            else:
                out.append(f"group {name!r} is mutually exclusive: {gives}; give one of them")
        if group.get("one-is-required") and not (explicit or implied):
            out.append(
                f"group {name!r} needs one of its members, and the invocation gives none: give one of "
                f"{', '.join(map(repr, members))}"
            )
        present = explicit + implied
        if group.get("all-or-none") and 0 < len(present) < len(members):
            missing = ", ".join(repr(m) for m in members if m not in present)
            out.append(f"group {name!r} is all-or-none, and the invocation leaves out {missing}: give all or none")
    return out


def _typed_levels(factor: Any, templates: dict[str, Any], inputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each level's values of the invocation inputs naming ``factor``, as the descriptor types them; {} when one
    cannot be typed (refused by the invocation's own check)."""
    out = {}
    for label, value in factor.levels.items():
        values = {factor.name: str(value), f"{factor.name}_level": str(label)}
        typed = []
        for key, template in templates.items():
            items = template if isinstance(template, list) else [template]
            declared = {**inputs[key], "list": False}
            row = []
            for item in items:
                text = render(item, values) if isinstance(item, str) else item
                try:
                    row.append(cast_input(text, declared) if isinstance(item, str) and not placeholders(text) else text)
                except InputError:
                    return {}
            typed.append(row)
        out[label] = typed
    return out


def same_typed_level_problems(spec: Any, desc: dict[str, Any], locate: Callable[..., SpecError]) -> list[SpecError]:
    """Levels of a factor that reaches the tool only through Boutiques inputs and that the inputs' types make
    equal: ``nt: ["2", "02"]`` on a Number input, ``robust: [true, "yes"]`` on a Flag. Both build the same
    command line and read "identical" (review BQ)."""
    from reprovip.spec.models import BUILTIN_FACTORS

    inert = inert_inputs(desc)  # their values differ and never reach the tool
    inputs = {k: v for k, v in declared_inputs(desc).items() if k not in inert}
    invocation = spec.application.invocation or {}
    elsewhere = [*spec.env.values()]
    for name in ("env", "args"):
        levels = spec.factors.get(name)
        for payload in levels.values() if isinstance(levels, dict) else ():
            elsewhere += map(str, payload.values() if isinstance(payload, dict) else payload)
    named_elsewhere = {n for text in elsewhere for n in placeholders(str(text))}
    problems = []
    for factor in spec.factor_list():
        names = {factor.name, f"{factor.name}_level"}
        if factor.name in BUILTIN_FACTORS or names & named_elsewhere or isinstance(spec.factors[factor.name], dict):
            continue
        templates = {
            k: v
            for k, v in invocation.items()
            if k in inputs
            and names & {n for t in (v if isinstance(v, list) else [v]) if isinstance(t, str) for n in placeholders(t)}
        }
        seen: dict[str, str] = {}
        typed = _typed_levels(factor, templates, inputs) if templates else {}
        for index, (label, values) in enumerate(typed.items()):
            first = next((other for other, v in seen.items() if v == values), None)
            if first is not None:
                kinds = ", ".join(f"{k!r} (a {inputs[k].get('type')})" for k in templates)
                problems.append(
                    locate(
                        f"levels {first!r} and {label!r} of factor {factor.name!r} give Boutiques input {kinds} the "
                        "same value once typed by the descriptor: they would build the same command and compare "
                        "nothing; make them differ, or remove one",
                        ("factors", factor.name, index),
                    )
                )
            seen.setdefault(label, values)
    return problems


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
    inputs = declared_inputs(desc)
    owned = {v: f for f, variables in FACTOR_VARIABLES.items() if f in spec.factors for v in variables}
    levels = spec.factors.get("env")
    set_by_levels = {v: label for label, lv in levels.items() for v in lv or {}} if isinstance(levels, dict) else {}
    for variable in desc.get("environment-variables") or []:
        name = variable.get("name") if isinstance(variable, dict) else None
        if name in owned and not _follows_factor(variable.get("value"), owned[name], inputs, app.invocation or {}):
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
    for key, template in (app.invocation or {}).items():
        if isinstance(template, str) and (inputs.get(key) or {}).get("list"):
            problems.append(
                locate(f"{path.name}: {list_text_message(key, template)}", ("application", "invocation", key))
            )
    if app.invocation is not None:
        problems += _invocation_shape_problems(path.name, desc, app.invocation, locate)
        problems += same_typed_level_problems(spec, desc, locate)
    return problems


def _follows_factor(value: Any, factor: str, inputs: dict[str, dict[str, Any]], invocation: dict[str, Any]) -> bool:
    """Whether a descriptor's environment variable takes the value of an input the invocation fills from the
    factor's placeholder (``OMP_NUM_THREADS: "[NTHREADS]"`` and ``nthreads: "{threads}"``): each level sets it
    to its own value, as the factor does (review BQ: refused as "every level run alike"). A literal does not."""
    key = next((k for k, i in inputs.items() if i.get("value-key") == value), None)
    template = invocation.get(key) if key is not None else None
    return isinstance(template, str) and factor in placeholders(template)


def _invocation_shape_problems(
    name: str, desc: dict[str, Any], invocation: dict[str, Any], locate: Callable[..., SpecError]
) -> list[SpecError]:
    """Groups the invocation breaks, and environment variables taking the value of an input it leaves out:
    Boutiques refused every execution when it started, with a crash or a schema dump (review BQ)."""
    where = ("application", "invocation")
    problems = [locate(f"{name}: {m}", where) for m in group_problems(desc, set(invocation))]
    keys = {i.get("value-key"): k for k, i in declared_inputs(desc).items() if i.get("value-key")}
    for variable in desc.get("environment-variables") or []:
        value = variable.get("value") if isinstance(variable, dict) else None
        if value in keys and keys[value] not in invocation:
            problems.append(
                locate(
                    f"{name}: environment variable {variable.get('name')} takes the value of input {keys[value]!r}, "
                    "which the invocation leaves out: give it in the invocation (or remove the variable from (a copy "
                    "of) the descriptor)",
                    where,
                )
            )
    return problems
