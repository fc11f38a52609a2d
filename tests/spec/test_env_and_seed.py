"""Placeholders in environment variables reach the application expanded; a seed level can be the tool's own word."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from reprovip.study import Study
from tests.conftest import write_study

DUMP = (
    "import json, os, sys\n"
    "keys = ['MY_SEED', 'MY_TAG', 'REPROVIP_SEED']\n"
    "json.dump({'argv_seed': sys.argv[3], **{k: os.environ.get(k) for k in keys}},"
    " open(sys.argv[2] + '/result.json', 'w'))\n"
)


def test_env_placeholders_and_seed_words_reach_the_application(study_dir: Path) -> None:
    app = study_dir / "dump.py"
    app.write_text(DUMP)
    path = write_study(
        study_dir,
        factors="  seed: [7, random, {unseeded: none}]\n  env: {a: {MY_TAG: '{subject}/{seed_level}'}}\n",
        repetitions=2,
        subjects=1,
        args='"{input}", "{outdir}", "{seed}"',
        extra="env: {MY_SEED: '{seed}'}\n",
    )
    path.write_text(path.read_text().replace(str(Path(__file__).parents[1] / "apps" / "det_app.py"), str(app)))
    study = Study.load(path)
    study.run()
    sid = study.catalog.study_id(study.name)
    executions = study.executions().set_index("id")
    seen = {}
    for out in study.catalog.outputs(sid):
        blob = next((study.store / "blobs").glob(f"*/{out['blob']}*"))
        got = json.loads(blob.read_text())
        row = executions.loc[out["execution_id"]]
        seen.setdefault(row["condition_key"], []).append((got, row["seed"]))
    assert sorted(seen) == ["seed=7,env=a", "seed=random,env=a", "seed=unseeded,env=a"]
    for got, recorded in seen["seed=7,env=a"]:
        assert got == {"argv_seed": "7", "MY_SEED": "7", "MY_TAG": "sub-01/7", "REPROVIP_SEED": "7"}
        assert recorded == 7
    drawn = [(got, recorded) for got, recorded in seen["seed=random,env=a"]]
    for got, recorded in drawn:
        assert got["argv_seed"] == got["MY_SEED"] == got["REPROVIP_SEED"] == str(int(recorded))
        assert got["MY_TAG"] == "sub-01/random"
    assert drawn[0][1] != drawn[1][1]
    for got, recorded in seen["seed=unseeded,env=a"]:
        # The tool's own word for "unseeded"; reprovip neither draws nor records a seed.
        assert got == {"argv_seed": "none", "MY_SEED": "none", "MY_TAG": "sub-01/unseeded", "REPROVIP_SEED": None}
        assert pd.isna(recorded)
