"""``reprovip init``: write a commented ``study.yaml`` from a command line or a Boutiques descriptor."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reprovip.errors import InputError

TEMPLATE = """\
# reprovip study: see docs/study-format.md for every key.
name: {name}

application:
{application}

# The N input datasets. A glob relative to this folder, with a {{subject}} capture:
subjects:
  glob: "data/{{subject}}.nii.gz"

# Execution conditions that may change the results (cartesian product).
factors:
  threads: [1, 2]          # sets OMP/OPENBLAS/MKL/ITK... thread variables; usable as {{threads}}
  seed: [42, random]       # usable as {{seed}}; `random` draws a fresh, recorded seed per execution

repetitions: 3             # K executions of each subject under each condition

# What each execution produces, relative to {{outdir}}; kind: image, labels, table, scalars, text or array.
outputs:
  result: {{path: "result.nii.gz", kind: image}}

timeout: 3600              # seconds; the whole process group is killed
retries: 1
"""


def _yaml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def init_study(output: str, command: tuple[str, ...], boutiques: str | None, force: bool) -> int:
    """Write the scaffold; refuse to overwrite an existing file unless ``force``."""
    out = Path(output)
    if out.exists() and not force:
        raise InputError(f"{out}: already exists; pass --force to overwrite it or -o to write elsewhere")
    if boutiques:
        desc_path = Path(boutiques)
        try:
            desc = json.loads(desc_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{desc_path}: cannot read the Boutiques descriptor ({exc})") from exc
        inputs = {i["id"]: f"<{i.get('type', 'value')}>" for i in desc.get("inputs", []) if isinstance(i, dict)}
        inv = "\n".join(f'    {k}: {json.dumps(v)}   # e.g. "{{input}}" or "{{outdir}}/..."' for k, v in inputs.items())
        application = f"  boutiques: {json.dumps(str(desc_path))}\n  invocation:\n{inv or '    {}'}"
        name = str(desc.get("name", "study")).replace(" ", "_")
    else:
        if not command:
            raise InputError(
                "give the command after `--` (e.g. reprovip init -- python app.py {input} {outdir}) or --boutiques"
            )
        application = f"  command: {_yaml_list(list(command))}   # argv list, never run through a shell"
        name = Path(command[-1] if len(command) == 1 else command[1]).stem or "study"
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in name) or "study"
    if not (name[0].isalpha() or name[0] == "_"):
        name = f"s_{name}"
    out.write_text(TEMPLATE.format(name=name, application=application), encoding="utf-8")
    click.echo(f"wrote {out}; edit subjects, factors and outputs, then run `reprovip validate {out}`")
    return 0


@click.command("init")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-o", "--output", default="study.yaml", show_default=True, help="File to write.")
@click.option("--boutiques", type=click.Path(exists=True, dir_okay=False), help="Start from a Boutiques descriptor.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(command: tuple[str, ...], output: str, boutiques: str | None, force: bool) -> int:
    """Write a commented study.yaml for COMMAND (after --) or a Boutiques descriptor."""
    return init_study(output, command, boutiques, force)
