"""``ingest --boutiques-records`` (review R): records without MD5s sharing one file, a configuration file given to
every subject, a parameter an output is named after, and a BIDS app's ``participant_label``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import InputError
from reprovip.ingest.boutiques_records import RecordsHint, ingest_boutiques_records
from reprovip.study import Study

STUDY = "name: recs\noutputs:\n  volumes: {{path: {path}, kind: table, key_columns: [tissue]}}\n"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _descriptor(records: Path, inputs: list[tuple[str, str]], template: str) -> None:
    """``segtool``'s descriptor: ``inputs`` are (id, type), each with the value-key ``[ID]``."""
    records.mkdir(parents=True, exist_ok=True)
    desc = {
        "name": "segtool",
        "tool-version": "1.0",
        "inputs": [{"id": i, "name": i, "type": t, "value-key": f"[{i.upper()}]"} for i, t in inputs],
        "output-files": [{"id": "volumes", "name": "volumes", "path-template": template}],
    }
    (records / "segtool.json").write_text(json.dumps(desc))


def _record(records: Path, n: int, invocation: dict, output: dict) -> None:
    doc = {
        "summary": {
            "name": "segtool",
            "descriptor-doi": "segtool.json",
            "date-time": f"2026-11-01_10h{n:02d}m00s000ms",
        },
        "public-invocation": invocation,
        "public-output": {"exit-code": 0, "missing-files": {}, "output-files": {"volumes": output}},
    }
    (records / f"segtool_{n:02d}.json").write_text(json.dumps(doc))


def _t1(s: str) -> dict:
    return {"file-name": f"{s}_T1w.nii.gz", "md5sum": _md5(f"T1 of {s}".encode())}


def _study(root: Path, path: str = "volumes.csv") -> Study:
    root.mkdir(parents=True, exist_ok=True)
    (root / "study.yaml").write_text(STUDY.format(path=json.dumps(path)))
    return Study.load(root / "study.yaml")


def _table(root: Path, rel: str, volume: float) -> dict:
    """Write the output ``rel`` under ``root``; its record entry (file name and MD5)."""
    data = f"tissue,volume\ngm,{volume}\n".encode()
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)
    return {"file-name": Path(rel).name, "md5sum": _md5(data)}


def _no_md5_records(root: Path, *, own_folders: bool) -> Path:
    """3 subjects x 2 repetitions whose records give no MD5 for their output; each execution's output in its own
    folder, or ONE file left at the template's path (``outdir/volumes.csv``) that no record vouches for."""
    records = root / "records"
    _descriptor(records, [("t1", "File"), ("out", "String")], "[OUT]/volumes.csv")
    _table(root, "outdir/volumes.csv", 123)
    n = 0
    for s in ("sub-01", "sub-02", "sub-03"):
        for rep in (1, 2):
            n += 1
            out = f"out/{s}_{rep}" if own_folders else "outdir"
            if own_folders:
                _table(root, f"{out}/volumes.csv", 100 * n)
            _record(records, n, {"t1": _t1(s), "out": out}, {"file-name": "volumes.csv", "md5sum": None})
    return records


def test_records_without_md5_are_not_all_given_one_file_left_on_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One stale ``outdir/volumes.csv`` was taken by the 6 executions: "bit-for-bit identical", exit 0."""
    records = _no_md5_records(tmp_path, own_folders=False)
    _study(tmp_path)
    code = main(["ingest", str(tmp_path / "study.yaml"), "--boutiques-records", str(records)])
    assert code == 2
    assert capsys.readouterr().err == (
        f"reprovip: error: {records}/segtool_01.json has no MD5 for its output 'volumes' and {records}/segtool_02.json "
        "is given the same file outdir/volumes.csv: nothing says it is either's output (a file left by another run?); "
        "keep each execution's outputs at its own path, or ingest records that carry the outputs' MD5s\n"
    )
    assert not (tmp_path / ".reprovip").exists()


def test_records_without_md5_each_given_its_own_file_are_hashed(tmp_path: Path) -> None:
    records = _no_md5_records(tmp_path, own_folders=True)
    summary = ingest_boutiques_records(_study(tmp_path), records)
    assert (summary.executions, summary.complete, summary.hashes) == (6, 6, {"volumes": "blake3"})
    outs = _study(tmp_path).catalog.outputs(1)
    assert len({o["blob"] for o in outs}) == 6


def _config_records(root: Path, subjects: dict[str, tuple[str, ...]], t1=_t1) -> Path:
    """Records of segtool given a T1 and a configuration FILE (``fast.cnf``, ``slow.cnf``), 2 repetitions each;
    the output depends on the configuration, never on the repetition."""
    records = root / "records"
    _descriptor(records, [("t1", "File"), ("config", "File"), ("out", "String")], "[OUT]/volumes.csv")
    n = 0
    for s, configs in subjects.items():
        for c in configs:
            for _ in (1, 2):
                n += 1
                data = f"tissue,volume\ngm,{100 * int(s[-1]) + len(c)}\n".encode()
                config = {"file-name": c, "md5sum": _md5(c.encode())}
                out = {"file-name": "volumes.csv", "md5sum": _md5(data)}
                _record(records, n, {"t1": t1(s), "config": config, "out": "outdir"}, out)
    return records


CROSSED = {s: ("fast.cnf", "slow.cnf") for s in ("sub-01", "sub-02", "sub-03")}


def test_a_configuration_file_given_to_every_subject_is_a_factor(tmp_path: Path) -> None:
    """3 subjects x 2 configuration files made 6 subjects (``sub-01_T1w-a1b415dc``...) and no factor: identical."""
    records = _config_records(tmp_path, CROSSED)
    summary = ingest_boutiques_records(_study(tmp_path / "auto"), records)
    chosen = ingest_boutiques_records(_study(tmp_path / "chosen"), records, subject_inputs=["t1"])
    assert summary.subjects == ["sub-01_T1w", "sub-02_T1w", "sub-03_T1w"] and summary.factors == ["config"]
    assert (chosen.subjects, chosen.factors) == (summary.subjects, summary.factors)
    df = _study(tmp_path / "auto").executions()
    assert sorted(set(df["condition_key"])) == ["config=fast.cnf", "config=slow.cnf"]
    assert df.groupby(["subject", "condition_key"]).size().tolist() == [2] * 6  # 2 repetitions per cell


def test_crossed_files_with_nothing_naming_the_subject_are_refused(tmp_path: Path) -> None:
    records = _config_records(tmp_path, CROSSED, t1=lambda s: {"file-name": f"anat{s[-1]}.nii", "md5sum": s * 4})
    with pytest.raises(
        InputError,
        match=r"^records of 'segtool' cross the File inputs t1 \(3 files\), config \(2 files\): .* pass it with "
        r"--subject-input <id> \(the others become factors\)$",
    ):
        ingest_boutiques_records(_study(tmp_path), records)


def test_a_file_shared_by_subjects_but_one_per_subject_describes_them(tmp_path: Path) -> None:
    """Nested, not crossed: sub-01 and sub-02 run fast.cnf, sub-03 slow.cnf; the T1 names the subject."""
    records = _config_records(tmp_path, {"sub-01": ("fast.cnf",), "sub-02": ("fast.cnf",), "sub-03": ("slow.cnf",)})
    summary = ingest_boutiques_records(_study(tmp_path), records)
    assert summary.subjects == ["sub-01_T1w", "sub-02_T1w", "sub-03_T1w"] and summary.factors == []


def _frac_records(root: Path, out: str) -> Path:
    """A deterministic tool whose output is named after a parameter (``vol_frac-[FRAC].csv``): 3 subjects x frac
    0.3 | 0.5 x 2 repetitions, each execution's output in ``out`` (formatted with s, rep)."""
    records = root / "records"
    _descriptor(records, [("t1", "File"), ("frac", "Number"), ("out", "String")], "[OUT]/vol_frac-[FRAC].csv")
    n = 0
    for rep in (1, 2):
        for s in ("sub-01", "sub-02", "sub-03"):
            for frac in (0.3, 0.5):
                n += 1
                folder = out.format(s=s, rep=rep)
                entry = _table(root, f"{folder}/vol_frac-{frac}.csv", 100 * int(s[-1]) * (1 + frac))
                _record(records, n, {"t1": _t1(s), "frac": frac, "out": folder}, entry)
    return records


def test_a_parameter_an_output_is_named_after_stays_a_factor(tmp_path: Path) -> None:
    """``frac`` was taken as placing outputs: its 2 levels became 4 repetitions, blamed on nondeterminism."""
    records = _frac_records(tmp_path, "out/{s}_{rep}")
    summary = ingest_boutiques_records(_study(tmp_path, "vol_frac-*.csv"), records)
    assert summary.factors == ["frac"] and summary.hashes == {"volumes": "blake3"}
    df = _study(tmp_path, "vol_frac-*.csv").executions()
    assert sorted(set(df["condition_key"])) == ["frac=0.3", "frac=0.5"] and sorted(set(df["repetition"])) == [1, 2]


def _bids_app_records(root: Path) -> Path:
    """A BIDS app: ``bids_dir`` (a folder, no MD5) and ``participant_label``; 3 participants x 2 threads x 2."""
    records = root / "records"
    inputs = [("bids_dir", "File"), ("out", "String"), ("participant_label", "String"), ("n_threads", "Number")]
    _descriptor(records, inputs, "[OUT]/volumes.csv")
    n = 0
    for s in ("01", "02", "03"):
        for t in (1, 2):
            for rep in (1, 2):
                n += 1
                entry = _table(root, f"out/{s}_{t}_{rep}/volumes.csv", 1000 * int(s) + (0.01 if t == 2 else 0))
                invocation = {
                    "bids_dir": {"file-name": "ds000001", "md5sum": None},
                    "out": f"out/{s}_{t}_{rep}",
                    "participant_label": [s],
                    "n_threads": t,
                }
                _record(records, n, invocation, entry)
    return records


def test_one_subject_with_a_participant_label_factor_hints_at_subject_input(tmp_path: Path) -> None:
    """It read "not analysable" with no hint."""
    records = _bids_app_records(tmp_path)
    with pytest.warns(RecordsHint, match=r"make 1 subject with factors participant_label \(3 levels\), n_threads"):
        summary = ingest_boutiques_records(_study(tmp_path / "a"), records)
    assert summary.hints[0].endswith(
        "ingest again with --subject-input participant_label into a study with nothing stored yet"
    )
    chosen = ingest_boutiques_records(_study(tmp_path / "b"), records, subject_inputs=["participant_label"])
    assert (chosen.subjects, chosen.factors, chosen.hints) == (["01", "02", "03"], ["n_threads"], [])


def test_a_factor_of_one_execution_per_level_hints_at_ignore_input(tmp_path: Path) -> None:
    records = tmp_path / "records"
    _descriptor(records, [("t1", "File"), ("seed", "Number")], "volumes.csv")
    for n in range(1, 5):
        _record(
            records, n, {"t1": _t1(f"sub-0{1 + n % 2}"), "seed": n}, {"file-name": "volumes.csv", "md5sum": "a" * 32}
        )
    with pytest.warns(RecordsHint, match=r"the factor seed .* takes another value in each of the 4 executions"):
        ingest_boutiques_records(_study(tmp_path), records)
