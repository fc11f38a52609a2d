"""Checks of a study's command against the disk: what would certainly fail at run time, found by ``validate``.

Each execution runs in a fresh working folder, with the environment reprovip builds. So a command fails for
sure when its program is not on ``PATH`` (or its path does not exist), or when an argument names a file of
the study folder by a relative path (the fresh folder does not hold it). Programs that run inside an image
(``container``, ``os``) or come with a built environment (``environments``) are not looked up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from itertools import product
from pathlib import Path
from typing import Any

from reprovip.errors import InputError, SpecError
from reprovip.execute.render import render
from reprovip.spec.loader import placeholders
from reprovip.spec.models import BUILTIN_FACTORS, StudySpec, is_unseeded


def command_problems(
    spec: StudySpec, study_dir: Path, locate: Callable[..., SpecError], *, programs: bool = True
) -> list[SpecError]:
    """Every argument of the command (and of `args` levels, Boutiques inputs) that will certainly fail, and
    every factor that never reaches the application (:func:`unused_factor_problems`).

    Parameters
    ----------
    spec : StudySpec
        The validated study.
    study_dir : Path
        The study folder (``{study_dir}``).
    locate : callable
        ``locate(message, loc)`` makes a located error (:func:`reprovip.spec.loader.locator`).
    programs : bool
        Also look the program up on this machine (``validate`` does; ``run`` does not, since its executor's
        machines may have programs this one lacks).

    Returns
    -------
    list of SpecError
        Empty when nothing is certain to fail.
    """
    app = spec.application
    if app is None:
        return []
    problems = unused_factor_problems(spec, locate, study_dir) + same_payload_problems(spec, locate)
    known = {"study_dir": str(study_dir), "python": sys.executable}
    items: list[tuple[tuple[Any, ...], str]] = []
    problems += _verrou_problems(spec, locate) if programs else []
    problems += _hook_problems(spec, study_dir, locate) if programs else []
    if app.command is not None:
        items = [(("application", "command", i), a) for i, a in enumerate(app.command)]
        problems += _program_problems(spec, app.command, known, study_dir, locate) if programs else []
    elif app.invocation is not None:
        items = [(("application", "invocation", k), v) for k, v in app.invocation.items() if isinstance(v, str)]
    args = spec.factors.get("args")
    if isinstance(args, dict):
        items += [(("factors", "args", level, i), str(a)) for level, argv in args.items() for i, a in enumerate(argv)]
    renderings = _Renderings(spec, study_dir, known)
    for loc, arg in items[1:] if app.command is not None else items:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        # A template (`data/{subject}.txt`) is judged by what it renders to, as the literal it becomes.
        found = next((r for r in renderings(value) if renderings.names_study_file(r)), None)
        if found is not None:
            shown = repr(value) if found == value else f"{value!r} (rendered {found!r})"
            problems.append(
                locate(
                    f"{shown} is a file of the study folder given by a relative path, but each execution runs in "
                    f"a fresh working folder; write {{study_dir}}/{value}",
                    loc,
                )
            )
    if app.boutiques is not None:
        from reprovip.spec.boutiques_checks import boutiques_problems

        problems += boutiques_problems(spec, study_dir, locate)
    if app.boutiques is not None and app.invocation is not None:
        problems += _invocation_problems(spec, study_dir, locate, renderings)
    problems += _output_path_problems(spec, renderings, locate)
    problems += _shared_input_problems(spec, renderings.subjects(), locate)
    problems += one_input_problems(spec, reaching_placeholders(spec, study_dir)[0], renderings.subjects, locate)
    return problems + _perturb_problems(spec, renderings.subjects, locate)


_UNDER_OUTDIR = re.compile(r"\{outdir\}[^\s\"',;]*")


def _shared_input_problems(spec: StudySpec, subjects: list[Any], locate: Callable[..., SpecError]) -> list[SpecError]:
    """Subjects that are one subject counted twice: the same input (one file, a byte-identical copy, one folder)
    while nothing but the input tells their executions apart (no ``{subject}`` in the command but in an output path
    under ``{outdir}``). A `map` pointing
    8 ids at 2 inputs narrowed the ICC's confidence interval and passed a study its 2 real subjects fail (a
    review). When the command names ``{subject}``, the subject chooses the data (a BIDS app's dataset and
    ``--participant_label {subject}``, a settings file alike for all): not refused (another review)."""
    from reprovip.plan.expand import content_digest

    text = json.dumps(spec.model_dump(include={"application", "env"}), default=str)
    # ... but a `{subject}` in a path under `{outdir}` names an output file, not the data (review N6: `bet {input}
    # {outdir}/{subject}_brain` over two byte-identical inputs passed the ICC on a subject counted twice)
    if "{subject}" in _UNDER_OUTDIR.sub("", text):
        return []
    keys: dict[str, str] = {}  # subject -> its input's real path, or its bytes' digest when another has its size
    for s in subjects:
        path = Path(s.input)
        if path.is_file() or path.is_dir():
            keys[s.id] = os.path.realpath(path)
    by_size: dict[int, set[str]] = {}
    for path in set(keys.values()):
        if Path(path).is_file():
            by_size.setdefault(Path(path).stat().st_size, set()).add(path)
    digests = {p: content_digest(Path(p)) for same in by_size.values() if len(same) > 1 for p in same}
    by_key: dict[str, list[str]] = {}
    for subject, path in keys.items():
        by_key.setdefault(digests.get(path, path), []).append(subject)
    groups = [ids for ids in by_key.values() if len(ids) > 1]
    if not groups:
        return []
    shown = "; ".join(", ".join(ids) for ids in groups[:5]) + (
        f" and {len(groups) - 5} more" if len(groups) > 5 else ""
    )
    return [
        locate(
            f"subjects with the same input (one file, a byte-identical copy, or one folder) that the command tells "
            f"apart by nothing else: {shown}; one subject counted twice makes the between-subject statistics (the "
            "ICC and its confidence interval) wrong: give each subject its own input, or name `{subject}` in the "
            "command when the subject chooses the data",
            ("subjects",),
        )
    ]


def _output_path_problems(
    spec: StudySpec, renderings: _Renderings, locate: Callable[..., SpecError]
) -> list[SpecError]:
    """Output paths that a subject's id or a factor's value takes out of ``{outdir}``: a `map` id
    ``../../keep/precious`` in ``{subject}.csv`` made a run move the user's file into the store, gone from disk
    (a review); the path as written was checked, not what it renders to."""
    out = []
    for name, output in spec.outputs.items():
        names = placeholders(output.path)
        if not names:
            continue
        # Placeholders known only when an execution starts (`{repetition}`, a drawn seed) name no folder.
        template = render(output.path, {n: "x" for n in names if n in ("repetition", "seed", "outdir", "execution")})
        for path in renderings(template):
            if path.startswith("/") or ".." in path.replace("\\", "/").split("/"):
                out.append(
                    locate(
                        f"renders to {path!r}, outside {{outdir}}: a subject id or factor value climbs out with `..` "
                        "or is absolute; rename it (an output path must stay inside the execution's folder)",
                        ("outputs", name, "path"),
                    )
                )
                break
    return out


def _perturb_problems(
    spec: StudySpec, subjects: Callable[[], list[Any]], locate: Callable[..., SpecError]
) -> list[SpecError]:
    """A `perturb` level moving ULPs of inputs that hold no floating-point value would copy them unchanged:
    every level would run alike and read identical (a review: raw int16 T1w images under `perturb: [0, 8]`)."""
    factor = next((f for f in spec.factor_list() if f.name == "perturb"), None)
    if factor is None or not any(v != "verrou" and v > 0 for v in factor.levels.values()):
        return []
    from reprovip.execute.perturb import unperturbable  # numpy: only for a study that perturbs its inputs

    bad = [(s, why) for s in subjects() if (why := unperturbable(Path(s.input))) is not None]
    if not bad:
        return []
    (first, why), others = bad[0], len(bad) - 1
    also = f" (and the inputs of {others} other subjects)" if others else ""
    return [
        locate(
            f"the input of subject {first.id!r} ({first.input}) {why}{also}: `perturb` moves floating-point values "
            "only, so it would be copied unchanged and every level run on the same input; perturb the computation "
            "instead (`perturb: [verrou]`), give floating-point inputs (e.g. the image converted to float32), or "
            "remove the factor",
            ("factors", "perturb"),
        )
    ]


def same_payload_problems(spec: StudySpec, locate: Callable[..., SpecError]) -> list[SpecError]:
    """Levels of a factor's map form that give the application one payload: each would run as the other (a
    review's `env` levels both setting X=1 read identical). Only for a study that runs an application: an
    ingest-only study declares `{old: [], new: []}` just to order its levels."""
    problems = []
    for name, levels in spec.factors.items():
        first: dict[str, Any] = {}
        for level, payload in levels.items() if isinstance(levels, dict) else ():
            key = json.dumps(payload, sort_keys=True, default=str)
            if key in first:
                problems.append(
                    locate(
                        f"levels {first[key]!r} and {level!r} of factor {name!r} give the application the same "
                        f"{payload!r}: they would run alike and compare nothing; make them differ, or remove one",
                        ("factors", name, level),
                    )
                )
            first.setdefault(key, level)
    return problems


def unused_factor_problems(
    spec: StudySpec, locate: Callable[..., SpecError], study_dir: Path | None = None
) -> list[SpecError]:
    """Each factor that never reaches the application: every level would run the same command.

    A built-in factor reaches it by itself (environment variables, arguments, an image, a copy of the input); a
    Python callable gets every factor as a keyword argument. Any other factor reaches it only through its
    placeholder ``{name}`` or ``{name_level}`` in the command (or the Boutiques invocation), the top-level `env`,
    or the levels of the `env` and `args` factors. Without one, each level ran the same command and the study
    read "identical" while comparing nothing (a review). Given ``study_dir``, a Boutiques input whose value never
    reaches the tool (:func:`reprovip.spec.boutiques_checks.inert_inputs`) does not count (review BQ: a factor
    bound to an input with no value-key read "bit-for-bit identical").
    """
    app = spec.application
    if app is None or app.python is not None:
        return []
    used, inert = reaching_placeholders(spec, study_dir)
    where = "Boutiques `invocation`" if app.boutiques is not None else "command"
    example = '`invocation: {{{0}: "{{{0}}}"}}`' if app.boutiques is not None else '`"--{0}={{{0}}}"` in the command'
    problems = []
    for name in spec.factors:
        if name in BUILTIN_FACTORS or {name, f"{name}_level"} & used:
            continue
        through = [(key, why) for key, (names, why) in inert.items() if {name, f"{name}_level"} & names]
        if through:
            key, why = through[0]
            message = (
                f"factor {name!r} never reaches the application: it is given only to Boutiques input {key!r}, "
                f"which never reaches the tool ({why}), so every level would run the same command and the study "
                "compare nothing; pass it through an input whose value-key is in the descriptor's command-line, or "
                "remove the factor"
            )
        else:
            message = (
                f"factor {name!r} never reaches the application: no {{{name}}} (or {{{name}_level}}) in the {where}, "
                "an `env` value or an `args` level, so every level would run the same command and the study compare "
                f"nothing; pass it, e.g. {example.format(name)}, or remove the factor"
            )
        problems.append(locate(message, ("factors", name)))
    return problems + _perturb_unused(spec, used, where, locate)


def reaching_placeholders(
    spec: StudySpec, study_dir: Path | None = None
) -> tuple[set[str], dict[str, tuple[set[str], str]]]:
    """The placeholders that reach the application (command, Boutiques invocation, `env`, `env` and `args`
    levels), and, given ``study_dir``, those of each Boutiques input whose value never reaches the tool, with why
    (input id -> (placeholders, why)); those are left out of the first set."""
    app = spec.application
    inert_why: dict[str, str] = {}
    if app is not None and app.boutiques is not None and study_dir is not None:
        from reprovip.spec.boutiques import descriptor_path
        from reprovip.spec.boutiques_checks import inert_inputs

        try:
            desc = json.loads(descriptor_path(app.boutiques, study_dir).read_text())
            inert_why = inert_inputs(desc) if isinstance(desc, dict) else {}
        except (OSError, ValueError):
            pass  # reported by the descriptor's own check
    texts = list(app.command or []) if app is not None else []
    inert: dict[str, tuple[set[str], str]] = {}
    for key, value in ((app.invocation or {}) if app is not None else {}).items():
        items = [t for t in (value if isinstance(value, list) else [value]) if isinstance(t, str)]
        if key in inert_why:  # a list input's items are rendered one by one
            inert[key] = ({n for t in items for n in placeholders(t)}, inert_why[key])
        else:
            texts += items
    texts += spec.env.values()
    for name in ("env", "args"):
        levels = spec.factors.get(name)
        for payload in levels.values() if isinstance(levels, dict) else ():
            texts += map(str, payload.values() if isinstance(payload, dict) else payload)
    return {name for text in texts for name in placeholders(text)}, inert


def one_input_problems(
    spec: StudySpec, used: set[str], subjects: Callable[[], list[Any]], locate: Callable[..., SpecError]
) -> list[SpecError]:
    """A Boutiques invocation that names neither ``{input}`` nor ``{subject}`` (``used``: the placeholders that
    reach the tool, with `env` and the `env` and `args` levels) runs every subject on the same data: a literal input
    path ran one image 4 times and passed over "4 subjects" (review BQ), their agreement read as between-subject
    reliability. A plain `command` naming neither is not refused here (yet): many studies' commands do so."""
    app = spec.application
    if app is None or app.invocation is None or {"input", "subject"} & used:
        return []
    count = len(subjects())
    if count < 2:
        return []
    return [
        locate(
            f"the Boutiques invocation (with `env` and the `env` and `args` levels) names neither {{input}} nor "
            f"{{subject}} in an input that reaches the tool, so each of the {count} subjects would run the same "
            f"command on the same data and the between-subject statistics count one subject {count} times; give "
            'the subject\'s input to the tool (e.g. `input_file: "{input}"`), or name {subject} where the subject '
            "chooses the data",
            ("application", "invocation"),
        )
    ]


#: An option that sets a thread count (``--threads 1``, ``-nthreads``, ``--n_jobs``, ``--cpus``, ``--omp``).
_THREAD_OPTION = re.compile(r"-{1,2}(?:n[-_]?)?(?:threads?|jobs|cpus|procs|omp|nproc)(?:=(\d+))?", re.IGNORECASE)


def factor_warnings(spec: StudySpec, descriptor: dict[str, Any] | None = None) -> list[str]:
    r"""What may keep a built-in factor from reaching the application, said by ``validate`` (review MC): a `seed`
    factor named nowhere reaches it only as ``REPROVIP_SEED``, which few tools read (a literal ``--seed 42``
    made every level run seeded alike: "bit-for-bit identical"); a literal thread count in the command
    (``--threads 1``) overrides the variables the `threads` factor sets, and so does a Boutiques thread-count
    input (``descriptor``'s, its flag ``--nthreads``) the invocation leaves to its ``default-value`` or sets
    literally (review N5: every level ran ``--nthreads 1``, "bit-for-bit identical").

    Examples
    --------
    >>> from reprovip.spec import parse_spec
    >>> head = "outputs: {o: {path: o, kind: text}}\nfactors: {threads: [1, 4], seed: [42, random]}\n"
    >>> found = factor_warnings(parse_spec(head + "application: {command: [t, --seed, '42', --threads, '1']}"))
    >>> [w[:30] for w in found]
    ["factor 'seed' is named nowhere", "factor 'threads' has its level"]
    >>> factor_warnings(parse_spec(head + "application: {command: [t, '--seed={seed}', -n, '{threads}']}"))
    []
    """
    app = spec.application
    if app is None or app.python is not None:
        return []
    texts = [*(app.command or []), *map(str, (app.invocation or {}).values()), *spec.env.values()]
    for name in ("env", "args"):
        levels = spec.factors.get(name)
        for payload in levels.values() if isinstance(levels, dict) else ():
            texts += map(str, payload.values() if isinstance(payload, dict) else payload)
    used = {name for text in texts for name in placeholders(text)}
    out = []
    if "seed" in spec.factors and not {"seed", "seed_level"} & used:
        out.append(
            "factor 'seed' is named nowhere in the command, the Boutiques `invocation` or an `env` value: the "
            "application gets it only as the environment variable REPROVIP_SEED, and a tool that does not read it "
            'runs every level alike (read "identical"); pass it, e.g. `"--seed={seed}"` or `env: {MY_TOOL_SEED: '
            '"{seed}"}`'
        )
    command = [str(a) for a in app.command or []]
    for i, arg in enumerate(command):
        m = _THREAD_OPTION.fullmatch(arg)
        literal = m and (m[1] or (i + 1 < len(command) and command[i + 1].isdigit()))
        if "threads" in spec.factors and literal:
            out.append(
                "factor 'threads' has its levels but the command sets a literal thread count "
                f"({' '.join(command[i : i + 2])}), which overrides the variables the factor sets; write "
                "`{threads}` there"
            )
            break
    if "threads" in spec.factors and isinstance(descriptor, dict):
        out += _boutiques_thread_inputs(descriptor, app.invocation or {})
    return out


def _boutiques_thread_inputs(descriptor: dict[str, Any], invocation: dict[str, Any]) -> list[str]:
    """Warnings for the descriptor's thread-count inputs (a flag like ``--nthreads``) that the invocation does not
    set from ``{threads}``: left to their default value, or set literally."""
    out = []
    for item in descriptor.get("inputs") or []:
        flag = str(item.get("command-line-flag") or "") if isinstance(item, dict) else ""
        if not flag or not _THREAD_OPTION.fullmatch(flag) or "id" not in item:
            continue
        given = invocation.get(item["id"])
        if given is not None and {"threads", "threads_level"} & set(placeholders(str(given))):
            continue
        how = (
            f"its default-value {item['default-value']!r}"
            if given is None and "default-value" in item
            else f"the value {given!r}"
            if given is not None
            else "no value (the tool's own default)"
        )
        out.append(
            f"factor 'threads' has its levels but the Boutiques input {item['id']!r} ({flag}) gets {how} in every "
            f'condition, which overrides the variables the factor sets; write `{item["id"]}: "{{threads}}"` in the '
            "invocation"
        )
    return out


def _perturb_unused(spec: StudySpec, used: set[str], where: str, locate: Callable[..., SpecError]) -> list[SpecError]:
    """A `perturb` level moving ULPs perturbs a copy of the subject's input, handed over as ``{input}``: a
    command that reads the input by another path (``{study_dir}/data/{subject}.txt``) never sees it, and every
    level read identical (a review). Verrou levels reach the application by themselves."""
    levels = spec.factors.get("perturb")
    ulps = [v for v in (levels.values() if isinstance(levels, dict) else levels or []) if v != "verrou"]
    if not ulps or "input" in used:
        return []
    return [
        locate(
            f"factor 'perturb' never reaches the application: it perturbs a copy of the subject's input, given as "
            f"{{input}}, and the {where} never names {{input}}, so every level would read the same file; pass "
            "{input} to the application, or perturb the computation instead (`perturb: [verrou]`)",
            ("factors", "perturb"),
        )
    ]


def _invocation_problems(
    spec: StudySpec, study_dir: Path, locate: Callable[..., SpecError], renderings: _Renderings
) -> list[SpecError]:
    """Each invocation value, rendered for every subject and level it names, is one its input can take."""
    from reprovip.spec.boutiques import cast_input, check_input, declared_inputs, descriptor_path

    try:
        inputs = declared_inputs(json.loads(descriptor_path(spec.application.boutiques, study_dir).read_text()))
    except (OSError, ValueError):
        return []  # reported by the descriptor's own check
    problems = []
    for key, template in spec.application.invocation.items():
        declared = inputs.get(key)
        loc = ("application", "invocation", key)
        if declared is None:
            known = ", ".join(sorted(inputs)) or "none"
            problems.append(locate(f"{key!r} is not an input of the Boutiques descriptor; its inputs: {known}", loc))
            continue
        try:
            if not isinstance(template, str):
                check_input(template, declared)
            elif not declared.get("list"):
                for text in renderings(template):
                    cast_input(text, declared)
        except InputError as exc:
            problems.append(locate(str(exc), loc))
    return problems


def _elsewhere(spec: StudySpec) -> bool:
    """Whether programs run inside an image, or with a built environment's bin/ first on PATH: then they cannot
    be looked up on this machine."""
    return bool({"container", "os", "environments"} & set(spec.factors)) or spec.application.container is not None


def _verrou_problems(spec: StudySpec, locate: Callable[..., SpecError]) -> list[SpecError]:
    """A `perturb: verrou` level runs the application under valgrind's Verrou tool: valgrind must be found."""
    levels = spec.factors.get("perturb")
    if "verrou" not in (levels.values() if isinstance(levels, dict) else levels or []) or _elsewhere(spec):
        return []
    valgrind = shutil.which("valgrind", path=spec.env.get("PATH", os.environ.get("PATH", os.defpath)))
    if valgrind is None:
        why = "`valgrind` is not found on PATH"
    else:
        try:  # a few milliseconds: valgrind looks the tool up and prints its options
            found = subprocess.run([valgrind, "--tool=verrou", "--help"], capture_output=True, timeout=30)
            why = None if found.returncode == 0 else f"{valgrind} has no Verrou tool (`--tool=verrou` fails)"
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = f"{valgrind} cannot be run ({exc})"
    if why is None:
        return []
    return [
        locate(
            f"level 'verrou' runs the application under valgrind's Verrou tool, and {why}; install Verrou "
            "(https://github.com/edf-hpc/verrou; Debian does not package it) or remove the level",
            ("factors", "perturb"),
        )
    ]


def _program_problems(
    spec: StudySpec, argv: list[str], known: dict[str, str], study_dir: Path, locate: Callable[..., SpecError]
) -> list[SpecError]:
    """The program (``argv[0]``) must be found."""
    program = render(argv[0], known)
    if placeholders(program) or _elsewhere(spec):
        return []
    where = ("application", "command", 0)
    relative = not os.path.isabs(program)
    if relative and (study_dir / program).is_file():
        message = (
            f"program {program!r} is a file of the study folder given by a relative path, but each execution runs "
            "in a fresh working folder; write {study_dir}/" + os.path.normpath(program)
        )
    elif "/" not in program:
        path = spec.env.get("PATH", os.environ.get("PATH", os.defpath))
        found = shutil.which(program, path=path)
        message = None if found else f"program {program!r} is not found on PATH; install it or give its full path"
    elif relative:
        message = f"program {program!r} is a relative path: give {{study_dir}}/... or an absolute path"
    elif not os.path.isfile(program):
        message = f"program {program!r} does not exist"
    elif not os.access(program, os.X_OK):
        message = f"program {program!r} is not executable; chmod +x it or run it with its interpreter"
    else:
        message = None
    return [locate(message, where)] if message else _script_problems(argv, program, study_dir, spec.env, locate)


def _hook_problems(spec: StudySpec, study_dir: Path, locate: Callable[..., SpecError]) -> list[SpecError]:
    """An `on_fail` program not on PATH, or a script it names that does not exist (it runs in the study's folder):
    `validate` said ok, and only `check` said "can't open file .../notify.py" (review NU2)."""
    argv = [render(a, {"study_dir": str(study_dir), "python": sys.executable}) for a in spec.on_fail or []]
    problems = []
    if argv and "/" not in argv[0] and not shutil.which(argv[0], path=spec.env.get("PATH", os.environ.get("PATH"))):
        problems.append(
            locate(f"on_fail program {argv[0]!r} is not found on PATH; install it or give its path", ("on_fail", 0))
        )
    for i, arg in enumerate(argv):
        named = Path(arg) if os.path.isabs(arg) else study_dir / arg
        if (i == 0 and "/" in arg or _SCRIPT.search(arg)) and not placeholders(arg) and not named.exists():
            problems.append(
                locate(f"on_fail names {spec.on_fail[i]!r}, which does not exist ({named})", ("on_fail", i))
            )
    return problems


_INTERPRETER = re.compile(r"(?:python[\d.]*|bash|sh|zsh|Rscript|perl|julia|octave|node|ruby)$")
_SCRIPT = re.compile(r"\.(?:py|sh|bash|R|r|pl|jl|m|js|rb)$")


def _script_problems(
    argv: list[str], program: str, study_dir: Path, env: dict[str, str], locate: Callable[..., SpecError]
) -> list[SpecError]:
    """An interpreter's script (``argv[1]``) that names no file: by a relative path, no file of the study folder
    (each execution runs in a fresh working folder, where it is not either: review NU's `init` run from another
    folder kept `measure.py`, `validate` said ok and every execution failed), or through ``{study_dir}`` or an
    absolute path, none at all (a typo, review R3); and ``python -m`` of a package of the study folder, which no
    execution's path holds without ``PYTHONPATH`` (review R3)."""
    if not (_INTERPRETER.search(os.path.basename(program)) or program == sys.executable) or len(argv) < 2:
        return []
    where = ("application", "command", 1)
    if argv[1] == "-m" and len(argv) > 2 and not placeholders(argv[2]) and "PYTHONPATH" not in env:
        top = argv[2].split(".")[0]
        if (study_dir / top).is_dir() or (study_dir / f"{top}.py").is_file():
            return [
                locate(
                    f"module {argv[2]!r} is in the study folder, which no execution's Python path holds (each runs "
                    'in a fresh working folder): set `env: {PYTHONPATH: "{study_dir}"}`',
                    ("application", "command", 2),
                )
            ]
        return []
    script = render(argv[1], {"study_dir": str(study_dir)})
    if not _SCRIPT.search(script) or placeholders(script):
        return []
    if os.path.isabs(script):
        return [] if os.path.exists(script) else [locate(f"script {argv[1]!r} does not exist ({script})", where)]
    if (study_dir / script).exists():
        return []
    return [
        locate(
            f"script {script!r} is no file of the study folder ({study_dir}), and each execution runs in a fresh "
            "working folder: give its path as {study_dir}/... or an absolute path",
            where,
        )
    ]


class _Renderings:
    """What an argument renders to at validate time: one text per subject and factor level it names.

    Placeholders known only when an execution starts (``{outdir}``, a drawn seed) stay as written; a rendering
    still holding one is not judged. Subjects are found only when an argument names ``{subject}``.
    """

    def __init__(self, spec: StudySpec, study_dir: Path, known: dict[str, str]) -> None:
        self.spec, self.study_dir, self.known = spec, study_dir, known
        self._subjects: list[Any] | None = None

    def subjects(self) -> list[Any]:
        if self._subjects is None:
            from reprovip.spec.subjects import SubjectsLeftOut, resolve_subjects

            try:
                with warnings.catch_warnings():  # said by the subjects' own check, at the study file's line
                    warnings.simplefilter("ignore", SubjectsLeftOut)
                    self._subjects = resolve_subjects(self.spec, self.study_dir)
            except SpecError:  # reported by the subjects' own check
                self._subjects = []
        return self._subjects

    def __call__(self, template: str) -> list[str]:
        names = set(placeholders(template))
        if not names:
            return [template]
        choices: dict[str, list[str]] = {k: [v] for k, v in self.known.items()}
        for factor in self.spec.factor_list():
            if factor.name in names or f"{factor.name}_level" in names:
                levels = factor.levels
                if factor.name == "seed":  # a `random` seed is drawn when the execution starts
                    levels = {k: v["unseeded"] if is_unseeded(v) else v for k, v in levels.items() if v != "random"}
                # A level holding a map or list (env, args, container...) is named by its label.
                choices[factor.name] = [k if isinstance(v, dict | list) else str(v) for k, v in levels.items()]
                choices[f"{factor.name}_level"] = list(levels)
        if "subject" in names:
            choices["subject"] = [s.id for s in self.subjects()]
        used = [n for n in names if n in choices]
        texts = [
            render(template, dict(zip(used, combo, strict=True))) for combo in product(*(choices[n] for n in used))
        ]
        return [t for t in texts if not placeholders(t)]

    def names_study_file(self, value: str) -> bool:
        """``value`` is a relative path naming a file of the study folder, or a subject's input folder."""
        # `./name` says "the working folder" on purpose: a file the application makes there.
        if not value or os.path.isabs(value) or value.startswith("./"):
            return False
        path = self.study_dir / value
        try:
            if path.is_file():
                return True
            return path.is_dir() and str(path.resolve()) in {s.input for s in self.subjects()}
        except OSError:  # a name too long for a file (a 300-character subject id): no study file (a review's crash)
            return False
