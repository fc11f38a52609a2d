"""``reprovip init``: write a commented ``study.yaml`` from a command line or a Boutiques descriptor."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from reprovip.errors import InputError

TEMPLATE = """\
# reprovip study: see docs/study-format.md for every key.
name: {name}

application:
{application}

# The N input datasets. A glob relative to this folder, with a {{subject}} capture:
subjects:
  glob: {subjects}

# Execution conditions that may change the results (cartesian product).
factors:
  threads: [1, 2]          # sets OMP/OPENBLAS/MKL/ITK... thread variables; usable as {{threads}}
  seed: [42, random]       # usable as {{seed}}; `random` draws a fresh, recorded seed per execution

repetitions: 3             # K executions of each subject under each condition

# What each execution produces, relative to {{outdir}}; kind: image, labels, table, scalars, text, array or bytes.
outputs:
{outputs}

timeout: 3600              # seconds; the whole process group is killed
retries: 1
"""


_INTERPRETERS = frozenset({"python", "python3", "{python}", "bash", "sh", "Rscript", "julia", "node", "octave", "perl"})


def command_name(command: list[str]) -> str:
    """A study name from its command: the program's, or for an interpreter its script's (or ``-m`` module's);
    never a placeholder or an option (review C: `bet {input} ...` was named `_input_`, `python -m mytool`
    `s_-m`).

    Examples
    --------
    >>> [command_name(c) for c in (["bet", "{input}"], ["python", "-m", "mytool", "{input}"],
    ...  ["{python}", "-u", "{study_dir}/seg.py"], ["antsRegistration", "--dimensionality", "3"], ["python"],
    ...  ["python3", "-c", "print(1)"])]
    ['bet', 'mytool', 'seg', 'antsRegistration', 'python', 'python3']
    """
    program = Path(command[0]).name
    if program in _INTERPRETERS or program.startswith("python3."):
        rest = command[1:]
        if "-c" in rest:  # a program given as text: no file to name it after
            return program
        if "-m" in rest[:-1]:
            return rest[rest.index("-m") + 1].rsplit(".", 1)[-1]
        for arg in rest:
            if not arg.startswith("-") and not arg.startswith("{") or arg.startswith("{study_dir}/"):
                return Path(arg).stem or program
    return Path(program).stem or "study"


def _yaml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


_PYTHON = re.compile(r"^python[0-9.]*$")
# Words YAML reads as booleans or null: a study named after the command `true` read `name: True`, refused.
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null"})
# Output kinds guessed from the file name; an image is `labels` when its name says segmentation (below).
_KIND_BY_SUFFIX = {
    ".nii": "image",
    ".nii.gz": "image",
    ".mgz": "image",
    ".mgh": "image",
    ".csv": "table",
    ".stats": "table",  # FreeSurfer's aseg.stats, lh.aparc.stats
    ".tsv": "table",
    ".json": "scalars",
    ".npy": "array",
    ".npz": "array",
    ".txt": "text",
    ".log": "text",
    # text reports the text reader reads by line (`bytes` failed a YAML report written `0.10` then `0.1`: a review)
    **dict.fromkeys((".dat", ".out", ".text", ".yaml", ".yml", ".xml", ".ini", ".par"), "text"),
    # LCModel's `.table`, `.coord` and `.print`, reports (`.rpt`): `bytes` failed a fit whose seed moved its
    # concentrations by 2e-4 (review LC)
    **dict.fromkeys((".table", ".coord", ".print", ".rpt", ".report"), "text"),
}


# A segmentation's name (BIDS `_dseg`, FreeSurfer's `aseg`/`aparc+aseg`, `seg`, `labels`, `mask`, `atlas`, a
# parcellation) as a word of its own; `segment_length` is none, nor a `_probseg` (probabilities, even with its
# BIDS `label-GM`).
_LOG_NAME = re.compile(r"(?<![a-z])(?:log|logs|stdout|stderr)(?![a-z])|\.(?:log|out|err)$")
# FreeSurfer's own label volumes whose names hold no such word: `wmparc`, `ribbon`, `filled`, and SynthSeg's output
# (review LB7: `wmparc.mgz` was declared an image); `brainmask.mgz`, FreeSurfer's skull-stripped intensities, is none
_LABEL_NAME = re.compile(
    r"(?<![a-z])(?:d?seg|aseg|aparc|labels?|parc|parcellation|segmentation|atlas|mask|wmparc|ribbon|filled|synthseg)"
    r"(?![a-z])"
)


def portable_command(command: list[str], study_dir: Path) -> tuple[list[str], list[str]]:
    """The command with ``{python}`` for a Python interpreter and ``{study_dir}/...`` for files of this folder.

    Executions run in a fresh working folder, so a relative path to a file of the current folder would not
    be found there. Returns the rewritten argv and one note per rewrite (``old -> new: why``).

    Examples
    --------
    >>> argv, notes = portable_command(["python3", "{input}"], Path("/nonexistent"))
    >>> argv
    ['{python}', '{input}']
    >>> notes[0].split(":")[0]
    'python3 -> {python}'
    """
    argv, notes = [], []
    for i, arg in enumerate(command):
        new = arg
        if i == 0 and (_PYTHON.match(arg) or arg == sys.executable):
            new = "{python}"
            why = "the interpreter running reprovip (an environment's under an `environments` factor)"
        else:
            prefix, value = arg.split("=", 1) if arg.startswith("-") and "=" in arg else ("", arg)
            path = Path(value)
            if value and "{" not in value and not path.is_absolute() and path.is_file():
                new = (f"{prefix}=" if prefix else "") + _study_path(path, study_dir)
                why = "executions run in a fresh working folder"
        if new != arg:
            notes.append(f"{arg} -> {new}: {why}")
        argv.append(new)
    return argv, notes


def _study_path(path: Path, study_dir: Path) -> str:
    """``{study_dir}/rel`` for a file inside the study folder, else its absolute path."""
    full = path.resolve()
    try:
        return "{study_dir}/" + full.relative_to(study_dir.resolve()).as_posix()
    except ValueError:
        return str(full)


def _outputs(specs: tuple[str, ...]) -> tuple[str, list[str]]:
    """YAML lines for ``--result NAME=PATH[:KIND]`` options, and what was declared."""
    from reprovip.spec.models import NAME_RE, OUTPUT_KINDS, PAIR_VOXELS, declared_suffix

    lines, said = [], []
    paths = {spec.removesuffix("?").partition("=")[2].rsplit(":", 1)[0].lower() for spec in specs}
    for spec in specs:
        optional = spec.endswith("?")
        name, sep, rest = spec.removesuffix("?").partition("=")
        path, _, kind = rest.rpartition(":") if ":" in rest else (rest, "", "")
        # a printed result (`{stdout}`) is read as its suffix says, plain text without one (it was `bytes`: a review)
        stream = re.fullmatch(r"\{std(?:out|err)\}(\.\w+)?", path)
        typed = (stream[1] or ".txt") if stream else path
        kind = kind or next((k for suf, k in _KIND_BY_SUFFIX.items() if typed.lower().endswith(suf)), "bytes")
        name_of = Path(path).name.lower()
        if kind == "image" and _LABEL_NAME.search(name_of) and "probseg" not in name_of:
            kind = "labels"  # a segmentation declared `image` got no Dice nor HD95 (a review)
        if not sep or not path or not re.match(NAME_RE, name) or kind not in OUTPUT_KINDS:
            raise InputError(
                f"--result {spec!r}: expected NAME=PATH or NAME=PATH:KIND with NAME a word and KIND one of "
                f"{', '.join(OUTPUT_KINDS)} (e.g. --result volumes=volumes.csv:table)"
            )
        lines.append(f"  {name}: {{path: {json.dumps(path)}, kind: {kind}" + (", optional: true}" if optional else "}"))
        # `bytes` reads no number: say so, with how to read a text report's (review LC: a user kept it unread)
        what = (
            f"{kind}: compared bit for bit only, no number read; :text reads a text file's" if kind == "bytes" else kind
        )
        if kind == "text" and not stream and _LOG_NAME.search(name_of):  # a printed result is what it prints
            # a log's time stamps, run times and thread counts decide a verdict on a deterministic tool (review NU)
            what += (
                "; a log: its time stamps, run times and settings vary between runs and will read as results: "
                "declare the files that hold results instead"
            )
        said.append(f"{name} = {path} ({what}{', optional' if optional else ''})")
        if (suffix := declared_suffix(path, PAIR_VOXELS)) and (
            voxels := path[: -len(suffix)] + PAIR_VOXELS[suffix]
        ).lower() not in paths:  # a pair's header alone read "identical" while its voxels differed (a review)
            lines.append(f"  {name}_voxels: {{path: {json.dumps(voxels)}, kind: bytes}}")
            said.append(f"{name}_voxels = {voxels} (bytes: the voxels of {name}'s .hdr/.img pair)")
    return "\n".join(lines), said


def descriptor_outputs(desc: dict[str, Any]) -> tuple[str, ...]:
    """``--result`` specs for a Boutiques descriptor's ``output-files``: each path template relative to the
    output folder, its value-keys as ``*`` (the file a value names), a ``:labels`` kind for a mask or a
    segmentation, ``?`` marking an optional output (``init --boutiques`` proposed one `result.nii.gz`: a review).

    Examples
    --------
    >>> desc = {"output-files": [{"id": "outfile", "path-template": "[OUTDIR]/[PREFIX].nii.gz"},
    ...     {"id": "mask", "path-template": "[OUTDIR]/[PREFIX]_mask.nii.gz", "optional": True}]}
    >>> descriptor_outputs(desc)
    ('outfile=*.nii.gz', 'mask=*_mask.nii.gz?')
    """
    specs = []
    for o in desc.get("output-files") or []:
        template = str(o.get("path-template") or "") if isinstance(o, dict) else ""
        name = re.sub(r"\W", "_", str(o.get("id", ""))) if isinstance(o, dict) else ""
        if not template or not name:
            continue
        relative = re.sub(r"^\[[^\]/]+\]/", "", template)  # the output folder's value-key: {outdir}
        path = re.sub(r"\[[^\]/]+\]", "*", relative)
        specs.append(f"{name}={path}" + ("?" if o.get("optional") else ""))
    return tuple(specs)


def init_study(
    output: str,
    command: tuple[str, ...],
    boutiques: str | None,
    force: bool,
    *,
    subjects: str | None = None,
    outputs: tuple[str, ...] = (),
) -> int:
    """Write the scaffold; refuse to overwrite an existing file unless ``force``."""
    out = Path(output)
    if out.is_dir():
        raise InputError(f"{out}: is a folder; write the study file inside it with -o {out / 'study.yaml'}")
    if out.exists() and not force:
        raise InputError(f"{out}: already exists; pass --force to overwrite it or -o to write elsewhere")
    if subjects is not None and "{subject}" not in subjects:
        raise InputError(
            f"--subjects {subjects!r}: the glob needs a {{subject}} capture, e.g. 'data/{{subject}}.nii.gz'"
        )
    notes: list[str] = []
    if boutiques:
        desc_path = Path(boutiques)
        try:
            desc = json.loads(desc_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{desc_path}: cannot read the Boutiques descriptor ({exc})") from exc
        if not isinstance(desc, dict):  # review N9: `[]` crashed
            raise InputError(f"{desc_path}: a Boutiques descriptor is a JSON object; this file holds no object")
        inputs = {
            i["id"]: [f"<{i.get('type', 'value')}>"] if i.get("list") else f"<{i.get('type', 'value')}>"
            for i in desc.get("inputs", [])
            if isinstance(i, dict)
        }
        inv = "\n".join(f'    {k}: {json.dumps(v)}   # e.g. "{{input}}" or "{{outdir}}/..."' for k, v in inputs.items())
        if not outputs:
            outputs = descriptor_outputs(desc)
        application = f"  boutiques: {json.dumps(str(desc_path))}\n  invocation:\n{inv or '    {}'}"
        name = str(desc.get("name", "study")).replace(" ", "_")
    else:
        if not command:
            raise InputError(
                "give the command after `--` (e.g. reprovip init -- python app.py {input} {outdir}) or --boutiques"
            )
        argv, notes = portable_command(list(command), out.absolute().parent)
        application = f"  command: {_yaml_list(argv)}   # argv list, never run through a shell"
        name = command_name(list(command))
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in name) or "study"
    if not (name[0].isalpha() or name[0] == "_"):
        name = f"s_{name}"
    output_lines, declared = _outputs(outputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        TEMPLATE.format(
            name=json.dumps(name) if name.lower() in _YAML_WORDS else name,  # `true` named the study True
            application=application,
            subjects=json.dumps(subjects or "data/{subject}.nii.gz") + ("" if subjects else "   # EDIT"),
            outputs=output_lines or '  result: {path: "result.nii.gz", kind: image}   # EDIT',
        ),
        encoding="utf-8",
    )
    click.echo(f"wrote {out}")
    for note in notes:
        click.echo(f"  {note}")
    if subjects:
        from reprovip.spec.subjects import from_glob

        n = len(from_glob(subjects, out.absolute().parent))
        click.echo(f"  subjects: {subjects} ({n} found{'' if n else '; put the inputs there before validating'})")
    for said in declared:
        click.echo(f"  output: {said}")
    todo = [k for k, given in (("subjects", subjects), ("outputs", outputs)) if not given]
    edit = f"edit {' and '.join(todo)} (marked EDIT), " if todo else ""
    click.echo(f"next: {edit}review factors, repetitions and criteria, then run `reprovip validate {out}`")
    return 0


@click.command("init")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-o", "--output", default="study.yaml", show_default=True, help="File to write.")
@click.option("--boutiques", type=click.Path(exists=True, dir_okay=False), help="Start from a Boutiques descriptor.")
@click.option(
    "--subjects", metavar="GLOB", help="Where the inputs are, with a {subject} capture: 'data/{subject}.nii.gz'."
)
@click.option(
    "--result",
    "outputs",
    multiple=True,
    metavar="NAME=PATH[:KIND]",
    help="A file each execution writes in {outdir} (repeatable); KIND is guessed from the suffix when omitted.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(
    command: tuple[str, ...],
    output: str,
    boutiques: str | None,
    subjects: str | None,
    outputs: tuple[str, ...],
    force: bool,
) -> int:
    """Write a commented study.yaml for COMMAND (after --) or a Boutiques descriptor.

    A Python interpreter becomes {python} and files of the current folder become {study_dir}/...: each
    execution runs in a fresh working folder.
    """
    return init_study(output, command, boutiques, force, subjects=subjects, outputs=outputs)
