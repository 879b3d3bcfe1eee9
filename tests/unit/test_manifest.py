"""Manifests: schema checks with useful errors, atomic writes, shards, coverage, building."""

from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

from avrepro.data import manifest
from avrepro.data.manifest import (
    COLUMNS,
    ManifestError,
    build_manifest,
    read_manifest,
    shard_rows,
    write_manifest,
)
from avrepro.media.probe import Probe


def example() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "clip_id": ["a1", "a2", "b1", "b2", "b3"],
            "path": ["v/a1.avi", "v/a2.avi", "v/b1.avi", "v/b2.avi", "v/b3.avi"],
            "label": ["A", "A", "B", "B", "B"],
            "label_index": [0, 0, 1, 1, 1],
            "split": ["train", "test", "train", "train", "test"],
            "duration": [3.0, 2.5, np.nan, 4.0, 1.0],
            "has_audio": [True, False, False, True, True],
            "status": ["ok", "ok", "missing", "ok", "ok"],
            "reason": ["", "", "v/b1.avi: file not found", "", ""],
        }
    )


def test_round_trip_keeps_values_and_types(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "m.csv"
    write_manifest(example(), path)
    back = read_manifest(path)
    pd.testing.assert_frame_equal(back, example(), check_dtype=False)
    assert back["label_index"].dtype == np.int64
    assert back["has_audio"].dtype == bool
    assert back["reason"].tolist()[0] == ""  # empty text stays text, not NaN
    assert np.isnan(back["duration"][2])
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary left


def test_columns_are_written_in_schema_order(tmp_path: Path) -> None:
    write_manifest(example()[COLUMNS[::-1]], tmp_path / "m.csv")
    assert (tmp_path / "m.csv").read_text().splitlines()[0] == ",".join(COLUMNS)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("status", "broken", r"column status: 'broken' is not one of"),
        ("split", "validation", r"column split: 'validation' is not one of"),
        ("label_index", -1, r"column label_index: -1 is less than the minimum"),
        ("reason", "something", r"column reason: '' was expected"),
    ],
)
def test_bad_value_names_file_row_and_column(tmp_path, column, value, message) -> None:
    df = example()
    df[column] = df[column].astype(object)
    df.loc[1, column] = value
    with pytest.raises(ManifestError, match=rf"m\.csv: row 1 \(clip_id 'a2'\): {message}"):
        write_manifest(df, tmp_path / "m.csv")


def test_unusable_clip_must_say_why(tmp_path: Path) -> None:
    df = example()
    df.loc[2, "reason"] = ""
    with pytest.raises(ManifestError, match=r"row 2 .*column reason: '' should be non-empty"):
        write_manifest(df, tmp_path / "m.csv")


def test_usable_clip_needs_a_duration(tmp_path: Path) -> None:
    df = example()
    df.loc[0, "duration"] = np.nan
    with pytest.raises(ManifestError, match=r"row 0 .*column duration: None is not of type"):
        write_manifest(df, tmp_path / "m.csv")


def test_failed_write_keeps_the_previous_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    write_manifest(example(), path)
    before = path.read_text()
    with pytest.raises(ManifestError, match="duplicate clip_id"):
        write_manifest(example().assign(clip_id="same"), path)
    assert path.read_text() == before
    assert list(tmp_path.iterdir()) == [path]


def test_read_names_a_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    example().drop(columns="has_audio").to_csv(path, index=False)
    with pytest.raises(ManifestError, match=r"m\.csv: missing columns \['has_audio'\]"):
        read_manifest(path)


@pytest.mark.parametrize(
    ("written", "edited", "message"),
    [
        ("B,1,train", "B,one,train", "column label_index: 'one' is not of type 'integer'"),
        (",False,missing", ",no,missing", "column has_audio: 'no' is not of type 'boolean'"),
    ],
)
def test_read_names_an_edited_bad_cell(tmp_path, written, edited, message) -> None:
    path = tmp_path / "m.csv"
    write_manifest(example(), path)
    path.write_text(path.read_text().replace(written, edited, 1))
    with pytest.raises(ManifestError, match=rf"row 2 \(clip_id 'b1'\): {message}"):
        read_manifest(path)


def test_shards_partition_the_rows_by_position() -> None:
    df = example()
    shards = [shard_rows(df, i, 2) for i in range(2)]
    assert shards[0]["clip_id"].tolist() == ["a1", "b1", "b3"]
    assert shards[1]["clip_id"].tolist() == ["a2", "b2"]
    assert sorted(pd.concat(shards).index) == list(df.index)
    with pytest.raises(ValueError, match="shard index 2"):
        shard_rows(df, 2, 2)


def test_val_is_a_split(tmp_path: Path) -> None:
    # AVE's validation set (MAFnet early-stops on it).
    df = example()
    df.loc[[2, 4], "split"] = "val"
    write_manifest(df, tmp_path / "m.csv")
    assert read_manifest(tmp_path / "m.csv")["split"].tolist()[4] == "val"


def reader_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "clip_id": ["x1", "y1", "z1", "y2"],
            "path": ["x1.avi", "y1.avi", "z1.avi", "y2.avi"],
            "label": ["X", "Y", "Z", "Y"],
            "split": ["train", "train", "test", "test"],
        }
    )


def fake_status(path: str) -> tuple[str, Probe | None, str]:
    if path == "y2.avi":
        return "corrupt", None, f"{path}: moov atom not found"
    probe = Probe(duration=2.0, fps=25.0, width=32, height=24, has_video=True, has_audio=True)
    return "ok", probe, ""


def test_build_keeps_configured_classes_in_config_order(monkeypatch) -> None:
    monkeypatch.setattr(manifest, "clip_status", fake_status)
    built = build_manifest(reader_rows(), classes=["Y", "X"], probe_workers=2)
    assert built.columns.tolist() == COLUMNS
    assert built["clip_id"].tolist() == ["x1", "y1", "y2"]  # Z is not configured
    assert built["label_index"].tolist() == [1, 0, 0]
    assert built["status"].tolist() == ["ok", "ok", "corrupt"]
    assert built["reason"].tolist()[2] == "y2.avi: moov atom not found"
    assert np.isnan(built["duration"][2]) and not built["has_audio"][2]
    manifest.validate_manifest(built, "built")


def test_all_classes_are_every_listed_class_in_sorted_order(monkeypatch) -> None:
    monkeypatch.setattr(manifest, "clip_status", fake_status)
    built = build_manifest(reader_rows(), classes="all", probe_workers=2)
    assert built["clip_id"].tolist() == ["x1", "y1", "z1", "y2"]
    assert built["label_index"].tolist() == [0, 1, 2, 1]  # X, Y, Z
    with pytest.raises(ManifestError, match="a list or 'all', got 'every'"):
        build_manifest(reader_rows(), classes="every")


def test_build_rejects_a_class_with_no_clips(monkeypatch) -> None:
    monkeypatch.setattr(manifest, "clip_status", fake_status)
    with pytest.raises(ManifestError, match=r"no clips in the dataset: \['HandStandPushups'\]"):
        build_manifest(reader_rows(), classes=["X", "HandStandPushups"])


def test_build_probes_real_files(fixtures_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.avi").touch()
    rows = pd.DataFrame(
        {
            "clip_id": ["real", "empty", "gone"],
            "path": [
                str(fixtures_dir / "clips" / "test.avi"),
                str(tmp_path / "empty.avi"),
                str(tmp_path / "gone.avi"),
            ],
            "label": ["A", "A", "A"],
            "split": ["train", "train", "test"],
        }
    )
    built = build_manifest(rows, classes=["A"])
    assert built["status"].tolist() == ["ok", "empty", "missing"]
    assert built["duration"][0] == pytest.approx(6.56, abs=0.05)
    assert built["has_audio"].tolist() == [True, False, False]
    write_manifest(built, tmp_path / "m.csv")


# --- the optional audio_path column (DCASE: the sound is a WAV of its own) ---


def with_audio_path() -> pd.DataFrame:
    return example().assign(audio_path=["a/a1.wav", "", "a/b1.wav", "a/b2.wav", ""])


def test_audio_path_is_optional_and_round_trips(tmp_path: Path) -> None:
    write_manifest(with_audio_path(), tmp_path / "m.csv")
    header = (tmp_path / "m.csv").read_text().splitlines()[0]
    assert header == ",".join([*COLUMNS, "audio_path"])
    back = read_manifest(tmp_path / "m.csv")
    pd.testing.assert_frame_equal(back, with_audio_path(), check_dtype=False)
    assert back["audio_path"].tolist()[1] == ""  # empty stays text
    # Without the column a manifest has none (the round-trip test above).
    write_manifest(example(), tmp_path / "plain.csv")
    assert "audio_path" not in read_manifest(tmp_path / "plain.csv").columns


def test_audio_file_is_the_separate_audio_when_set() -> None:
    rows = list(with_audio_path().itertuples(index=False))
    assert [manifest.audio_file(row) for row in rows[:2]] == ["a/a1.wav", "v/a2.avi"]
    assert manifest.audio_file(example().iloc[0]) == "v/a1.avi"  # no column: the video


def test_a_bad_audio_path_is_named(tmp_path: Path) -> None:
    df = with_audio_path().astype({"audio_path": object})
    df.loc[3, "audio_path"] = 7
    with pytest.raises(ManifestError, match=r"row 3 \(clip_id 'b2'\): column audio_path: 7 is"):
        write_manifest(df, tmp_path / "m.csv")


def test_an_unknown_column_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"unexpected columns \['audio'\]"):
        write_manifest(example().assign(audio="x"), tmp_path / "m.csv")


def test_build_carries_audio_path_and_probes_it_for_sound(monkeypatch) -> None:
    def fake_probe(path: str) -> Probe:
        if path == "gone.wav":
            raise FileNotFoundError(path)
        has_audio = path != "silent.wav"
        return Probe(
            duration=2.0, fps=None, width=None, height=None, has_video=False, has_audio=has_audio
        )

    def silent_video(path: str) -> tuple[str, Probe, str]:
        # DCASE's videos carry no audio track: has_audio must come from the WAV.
        probe = Probe(duration=2.0, fps=25.0, width=32, height=24, has_video=True, has_audio=False)
        return "ok", probe, ""

    monkeypatch.setattr(manifest, "clip_status", silent_video)
    monkeypatch.setattr(manifest, "probe", fake_probe)
    rows = reader_rows().assign(audio_path=["x1.wav", "silent.wav", "z1.wav", "gone.wav"])
    built = build_manifest(rows, classes=["X", "Y"], probe_workers=2)
    assert built.columns.tolist() == [*COLUMNS, "audio_path"]
    assert built["audio_path"].tolist() == ["x1.wav", "silent.wav", "gone.wav"]
    assert built["has_audio"].tolist() == [True, False, False]  # a missing WAV: no sound
    assert set(built["status"]) == {"ok"}  # ... but the clip stays usable (its video is)
    manifest.validate_manifest(built, "built")


# --- the column-wise checks enforce the schema file, as jsonschema would ---


def jsonschema_violations(df: pd.DataFrame) -> list[tuple[int, str, str]]:
    """(row, column, message) per error, by jsonschema row by row: the reference."""
    schema = yaml.safe_load(manifest.SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    records = df.astype(object).where(df.notna(), None).to_dict("records")
    return sorted(
        (row, "/".join(map(str, error.path)), error.message)
        for row, record in enumerate(records)
        for error in validator.iter_errors(record)
    )


def column_violations(df: pd.DataFrame) -> list[tuple[int, str, str]]:
    found = manifest.violations(df)
    return sorted(zip(found["row"], found["column"], found["message"], strict=True))


GOOD = {
    "clip_id": "c",
    "path": "v.mp4",
    "label": "A",
    "label_index": 0,
    "split": "train",
    "duration": 2.0,
    "has_audio": True,
    "status": "ok",
    "reason": "",
    "audio_path": "",
}
# One row per kind of violation (and a few good rows that look odd but are valid).
CASES = [
    {},  # good
    {"label_index": 3.0},  # an integral float is an integer in JSON Schema: good
    {"status": "missing", "duration": None, "reason": "gone", "has_audio": False},  # good
    {"split": "val"},  # good
    {"audio_path": "a.wav"},  # good
    {"clip_id": ""},
    {"clip_id": None},
    {"clip_id": 5},
    {"path": ""},
    {"label": float("nan")},
    {"label_index": -1},
    {"label_index": 1.5},
    {"label_index": "one"},
    {"label_index": True},
    {"split": "validation"},
    {"split": None},
    {"duration": -0.5},
    {"duration": "long"},
    {"duration": False},
    {"duration": None},  # usable clips need a duration
    {"has_audio": 1},
    {"has_audio": "no"},
    {"has_audio": None},
    {"status": "broken"},
    {"status": 3},
    {"reason": "why"},  # ok clips have none
    {"status": "corrupt", "reason": ""},  # unusable clips say why
    {"status": "corrupt", "reason": None},
    {"reason": 0},
    {"audio_path": 2},
    {"audio_path": None},
    {"status": None, "reason": ""},  # not ok, so it needs a reason
]


def case_frame() -> pd.DataFrame:
    rows = [{**GOOD, **change} for change in CASES]
    return pd.DataFrame(rows, dtype=object).assign(clip_id=[r["clip_id"] for r in rows])


def test_column_checks_flag_what_jsonschema_flags() -> None:
    df = case_frame()
    expected = jsonschema_violations(df)
    assert column_violations(df) == expected
    flagged = {row for row, _, _ in expected}
    assert flagged == set(range(5, len(CASES)))  # every bad row, no good one
    # Typed columns, as build_manifest makes them, are checked the same way.
    typed = pd.DataFrame([{**GOOD, **change} for change in CASES[:5]]).astype(
        {"label_index": float, "duration": float}
    )
    typed.loc[1, "duration"] = -1.0
    typed.loc[2, "label_index"] = 0.5
    assert column_violations(typed) == jsonschema_violations(typed)
    assert len(column_violations(typed)) == 2


def test_text_columns_of_pandas_string_dtype_are_checked() -> None:
    df = case_frame().iloc[:5].astype({"split": "string", "reason": "string"})
    df.loc[3, "split"] = "holdout"
    df.loc[4, "reason"] = pd.NA
    found = column_violations(df)
    assert found == jsonschema_violations(df)
    assert found == [
        (3, "split", "'holdout' is not one of ['train', 'val', 'test']"),
        (4, "reason", "'' was expected"),
        (4, "reason", "None is not of type 'string'"),
    ]


def test_the_error_counts_the_other_bad_rows(tmp_path: Path) -> None:
    df = example()
    df["label_index"] = [0, -1, -1, 1, -1]
    with pytest.raises(ManifestError, match=r"row 1 \(clip_id 'a2'\): .* \(and 2 more rows\)"):
        write_manifest(df, tmp_path / "m.csv")


def test_a_schema_rule_the_checks_do_not_implement_is_refused() -> None:
    schema = yaml.safe_load(manifest.SCHEMA_PATH.read_text())
    manifest._checked_schema(schema)  # the real one passes
    schema["properties"]["clip_id"]["pattern"] = "^[a-z]+$"
    with pytest.raises(ValueError, match=r"property 'clip_id' uses \['pattern'\]"):
        manifest._checked_schema(schema)
    schema = yaml.safe_load(manifest.SCHEMA_PATH.read_text())
    schema["anyOf"] = []
    with pytest.raises(ValueError, match=r"top level uses \['anyOf'\]"):
        manifest._checked_schema(schema)


def test_schema_columns_are_the_module_columns() -> None:
    schema = manifest.manifest_schema()
    assert schema["required"] == COLUMNS
    assert [c for c in schema["properties"] if c not in COLUMNS] == manifest.OPTIONAL_COLUMNS
