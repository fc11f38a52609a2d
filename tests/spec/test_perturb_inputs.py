"""``validate`` and ``run`` refuse a ``perturb`` factor that would leave every input unchanged.

A review: raw T1w images stored as int16 under ``perturb: [0, 8]`` were copied unchanged (integers are left alone),
and the study read "bit-for-bit identical" with no warning. Levels below one ULP move nothing either: with
``u`` uniform in [-1, 1], ``x + 0.5 * u * spacing(x)`` rounds back to ``x`` (IEEE 754 round to nearest).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.cli.main import main
from reprovip.errors import SpecError
from reprovip.spec import parse_spec
from reprovip.study import Study

STUDY = """\
application:
  command: ["{{python}}", "-c", "pass", "{{input}}", "{{outdir}}"]
subjects: {{glob: "data/{{subject}}_T1w.nii.gz"}}
factors:
  perturb: {levels}
outputs:
  vol: {{path: vol.txt, kind: text}}
"""


def _study(root: Path, *, dtype: type, levels: str = "[0, 8]", subjects: int = 3) -> Path:
    (root / "data").mkdir()
    rng = np.random.default_rng(0)
    for i in range(subjects):
        data = (rng.random((4, 4, 4)) * 1000 + i).astype(dtype)
        img = nib.Nifti1Image(data, np.eye(4))
        img.header.set_data_dtype(dtype)
        nib.save(img, root / "data" / f"sub-0{i + 1}_T1w.nii.gz")
    path = root / "study.yaml"
    path.write_text(STUDY.format(levels=levels))
    return path


def test_validate_refuses_perturbing_integer_images_naming_the_input_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _study(tmp_path, dtype=np.int16)
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"reprovip: error: {path}:5:3: factors.perturb: the input of subject 'sub-01' "
        f"({tmp_path}/data/sub-01_T1w.nii.gz) holds int16 voxels, not floating-point ones (and the inputs of 2 other "
        "subjects): `perturb` moves floating-point values only, so it would be copied unchanged and every level run "
        "on the same input; perturb the computation instead (`perturb: [verrou]`), give floating-point inputs (e.g. "
        "the image converted to float32), or remove the factor"
    ]
    with pytest.raises(SpecError, match=r"factors.perturb: the input of subject 'sub-01' .* holds int16 voxels"):
        Study.load(path).run(jobs=1)


@pytest.mark.parametrize(
    ("dtype", "levels"),
    [(np.float32, "[0, 8]"), (np.int16, "[0, verrou]"), (np.int16, "[0]")],
)
def test_float_inputs_verrou_and_level_zero_are_accepted(tmp_path: Path, dtype: type, levels: str) -> None:
    """Verrou perturbs the computation, not the input; level 0 perturbs nothing on purpose."""
    assert Study.load(_study(tmp_path, dtype=dtype, levels=levels)).problems() == []


@pytest.mark.parametrize("level", [0.5, 0.99])
def test_a_level_below_one_ulp_is_refused(level: float) -> None:
    text = (
        f"application: {{command: [t]}}\nfactors: {{perturb: [0, {level}]}}\noutputs: {{o: {{path: o, kind: text}}}}\n"
    )
    with pytest.raises(SpecError, match=r"factors.perturb.1: `perturb` levels must be 0 \(unperturbed\)") as info:
        parse_spec(text, file="s.yaml")
    assert str(info.value).endswith(
        f"a number of ULPs from 1 to 1e6 (below 1, rounding gives most values back unchanged) or 'verrou', got {level}"
    )
    assert parse_spec(text.replace(str(level), "1"), file="s.yaml").factors == {"perturb": [0, 1]}
