"""The study loader: valid studies parse; every bad input is one located line."""

from __future__ import annotations

import pytest

from reprovip.errors import SpecError
from reprovip.spec import parse_spec

GOOD = """\
application:
  command: [echo, "{input}", "{outdir}", "{threads}"]
subjects: {glob: "data/{subject}.txt"}
factors:
  threads: [1, 2]
  solver: {fast: lsq, slow: trust}
outputs:
  out: {path: out.txt, kind: text}
"""


def test_good_study_parses() -> None:
    spec = parse_spec(GOOD)
    assert spec.repetitions == 3 and spec.retries == 0
    factors = spec.factor_list()
    assert [f.name for f in factors] == ["threads", "solver"]
    assert factors[0].levels == {"1": 1, "2": 2} and factors[1].levels == {"fast": "lsq", "slow": "trust"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [", "study.yaml:1:5: malformed YAML: expected the node content, but found '<stream end>'"),
        ("- a\n", "study.yaml:1:1: the study must be a YAML mapping (key: value lines)"),
        (
            GOOD.replace("outputs:", "outptus:"),
            "study.yaml:7:1: outptus: unknown key `outptus`; did you mean `outputs`?",
        ),
        (
            GOOD.replace("{outdir}", "{outdr}"),
            "study.yaml:2:30: application.command.2: unknown placeholder {outdr}; did you mean {outdir}?",
        ),
        (
            GOOD.replace("kind: text", "kind: txt"),
            "study.yaml:8:24: outputs.out.kind: Input should be 'image', 'labels', 'table', 'scalars', 'text', 'array' or 'bytes'",
        ),
        (
            GOOD + "repetitions: many\n",
            "study.yaml:9:1: repetitions: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            GOOD + "repetitions: 100000000000\n",
            "study.yaml:9:1: repetitions: Input should be less than or equal to 10000",
        ),
        (
            GOOD.replace("[1, 2]", "[1, x]"),
            "study.yaml:5:16: factors.threads.1: `threads` levels must be integers >= 1 and <= 4096, got 'x'",
        ),
        (
            GOOD.replace('"data/{subject}.txt"', '"data/*.txt"'),
            "study.yaml:3:1: subjects: `glob` must contain a {subject}",
        ),
        (GOOD.replace("out.txt", "../out.txt"), "study.yaml:8:9: outputs.out.path: must be relative to {outdir}"),
        (
            GOOD.replace("  out: {path: out.txt, kind: text}\n", "  {}\n"),
            "study.yaml:7:1: outputs: declare at least one output",
        ),
        (GOOD.replace("echo, ", ""), None),
        (
            GOOD.replace('"{threads}"', '"{seed}"'),
            "study.yaml:2:42: application.command.3: placeholder {seed} needs a `seed` factor",
        ),
        (GOOD.replace("  command: [echo", "  command: [echo]\n  python: 'm:f'\n  x: [echo"), "unknown key `x`"),
        (  # a review: a command line as one string said what was wrong, not how to write it
            GOOD.replace('[echo, "{input}", "{outdir}", "{threads}"]', '"echo {input} {outdir} {threads}"'),
            "study.yaml:2:3: application.command: Input should be a valid list (got 'echo {input} {outdir} "
            "{threads}'); write it as a list of arguments, never run through a shell: "
            '["echo", "{input}", "{outdir}", "{threads}"]',
        ),
        (  # a review: a GIfTI declared `text` passed on its metadata numbers; refused at its line, with the kind
            GOOD.replace("{path: out.txt, kind: text}", "{path: lh.thickness.gii, kind: text}"),
            "study.yaml:8:3: outputs.out: a .gii file is read as kind array or labels, not 'text': declare `kind: "
            "array` (or `bytes` to compare the files bit for bit)",
        ),
        (  # review AR: a parcellation declared `array` had its label ids judged as numbers by ICC, and passed
            GOOD.replace("{path: out.txt, kind: text}", "{path: lh.aparc.label.gii, kind: array}"),
            "study.yaml:8:3: outputs.out: a .label.gii file holds label ids, not 'array' values: declare `kind: "
            "labels` (compared by Dice per label; or `bytes` to compare the files bit for bit)",
        ),
        (GOOD.replace("{path: out.txt, kind: text}", "{path: lh.aparc.label.gii, kind: labels}"), None),
        # review AR: label ids saved with NumPy had no kind to say so ("a .npy file is read as kind array")
        (GOOD.replace("{path: out.txt, kind: text}", "{path: parcels.npy, kind: labels}"), None),
        (
            GOOD.replace("{path: out.txt, kind: text}", "{path: 'seg/*.nii.gz', kind: table}"),
            "study.yaml:8:3: outputs.out: a .nii.gz file is read as kind image or labels, not 'table'",
        ),
        (GOOD.replace("{path: out.txt, kind: text}", "{path: seg.nii.gz, kind: bytes}"), None),
        (  # review BB: a .hdr the same in every run read "identical" while its .img differed
            GOOD.replace("{path: out.txt, kind: text}", "{path: pair.hdr, kind: image}"),
            "study.yaml:8:3: outputs.out: a .hdr file is the header of an Analyze or NIfTI .hdr/.img pair: no reader "
            "joins the header to its voxels; write single-file .nii or .nii.gz images, or declare both files "
            "`kind: bytes`",
        ),
        (
            GOOD.replace("{path: out.txt, kind: text}", "{path: pair.HDR, kind: bytes}"),
            "study.yaml:7:1: outputs: output 'out' (pair.HDR) is the header of a .hdr/.img pair, and no output "
            "declares its voxels: add `out_voxels: {path: pair.img, kind: bytes}`",
        ),
        (
            GOOD.replace(
                "{path: out.txt, kind: text}", "{path: pair.hdr, kind: bytes}\n  v: {path: pair.img, kind: bytes}"
            ),
            None,
        ),
        (
            GOOD.replace("{path: out.txt, kind: text}", "{path: 'shots/*.png', kind: image}"),
            "study.yaml:8:3: outputs.out: a .png file is in a format no reader decodes: write NIfTI (image)",
        ),
        (  # review OO: a pickle declared scalars ran every execution before "binary content (NUL byte...)"
            GOOD.replace("{path: out.txt, kind: text}", "{path: model.pkl, kind: scalars}"),
            "study.yaml:8:3: outputs.out: a .pkl file is serialized Python objects or model weights, which reprovip "
            "never loads",
        ),
        (GOOD.replace("{path: out.txt, kind: text}", "{path: weights.pt, kind: bytes}"), None),
        (  # review FS: a binary FreeSurfer surface declared array ran every execution, then could not be read
            GOOD.replace("{path: out.txt, kind: text}", "{path: surf/lh.white, kind: array}"),
            "study.yaml:8:3: outputs.out: a .white file is a FreeSurfer binary surface, curvature or annotation, "
            "which no reader decodes: convert it to GIFTI (`mris_convert lh.white lh.white.gii`",
        ),
        (  # review RR: a tractogram declared image
            GOOD.replace("{path: out.txt, kind: text}", "{path: tracks.tck, kind: image}"),
            "study.yaml:8:3: outputs.out: a .tck file is a tractogram, whose streamlines no reader decodes",
        ),
        (GOOD.replace("{path: out.txt, kind: text}", "{path: tracks.tck, kind: bytes}"), None),
        (
            GOOD.replace("{path: out.txt, kind: text}", "{path: tables.tar.gz, kind: table}"),
            "study.yaml:8:3: outputs.out: a .tar.gz file is an archive: its files are not unpacked",
        ),
        (  # review KK: a YAML report declared scalars ran every execution, then "invalid JSON ...; fix the program"
            GOOD.replace("{path: out.txt, kind: text}", "{path: report.yaml, kind: scalars}"),
            "study.yaml:8:3: outputs.out: a .yaml file is read as kind text, not 'scalars': YAML, XML and INI are no "
            "JSON; their numbers are read by line (declare `kind: text`",
        ),
        (
            GOOD.replace("{path: out.txt, kind: text}", "{path: vol.csv, kind: image}"),
            "study.yaml:8:3: outputs.out: a .csv file is read as kind table or text, not 'image'",
        ),
        (GOOD.replace("{path: out.txt, kind: text}", "{path: fit.json, kind: text}"), None),
        (
            GOOD.replace("{path: out.txt, kind: text}", "{path: scan.nhdr, kind: text}"),
            "study.yaml:8:3: outputs.out: a .nhdr file is the header of a detached NRRD or MetaImage",
        ),
        (  # a review: a list of subject ids or of output paths said "Input should be a valid dictionary"
            GOOD.replace('{glob: "data/{subject}.txt"}', "[s1, s2]"),
            "study.yaml:3:1: subjects: expected a mapping, got a list; write one of `glob: data/{subject}.nii.gz`",
        ),
        (
            GOOD.replace("  out: {path: out.txt, kind: text}", "  - out.txt"),
            "study.yaml:7:1: outputs: expected a mapping, got a list; name each output: "
            "`volumes: {path: volumes.csv, kind: table}`",
        ),
        (
            GOOD.replace("{path: out.txt, kind: text}", "out.txt"),
            "study.yaml:8:3: outputs.out: expected a mapping, got str 'out.txt'; write `{path: volumes.csv, kind: table}`",
        ),
        (
            GOOD.replace('  command: [echo, "{input}", "{outdir}", "{threads}"]\n', "").replace(
                "application:", "application: echo {input}"
            ),
            "study.yaml:1:1: application: expected a mapping, got str 'echo {input}'; write `command: [...]`",
        ),
    ],
)
def test_bad_study_gives_one_located_line(text: str, expected: str | None) -> None:
    if expected is None:
        parse_spec(text, file="study.yaml")
        return
    with pytest.raises(SpecError) as info:
        parse_spec(text, file="study.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(expected) or expected in message, message


def test_wrong_application_shape_is_named() -> None:
    with pytest.raises(SpecError, match=r"give exactly one of `command`"):
        parse_spec(
            GOOD.replace('  command: [echo, "{input}", "{outdir}", "{threads}"]', "  python: 'm:f'\n  command: [a]")
        )


def test_key_columns_on_an_output_that_is_no_table_is_refused() -> None:
    """Review B: `key_columns` on a scalars output passed `validate`; every execution ran, then every file read
    "`key_columns` does not apply to kind 'scalars'"."""
    with pytest.raises(SpecError, match="`key_columns` names the columns that key a table's rows; a scalars output"):
        parse_spec("application: {command: [x]}\noutputs: {m: {path: m.json, kind: scalars, key_columns: [id]}}\n")
    assert parse_spec("application: {command: [x]}\noutputs: {m: {path: m.csv, kind: table, key_columns: [id]}}\n")
