import pytest

from avrepro.data.dcase import COLUMNS, read_dcase
from avrepro.data.manifest import LayoutError

HEADER = "filename_audio\tfilename_video\tscene_label"
TRAIN = ["airport-lyon-1095-40158", "metro_station-lyon-1077-40115", "bus-prague-1090-40149"]
TEST = ["park-helsinki-241-7111", "street_traffic-vienna-163-4383"]


def list_text(stems, header=HEADER):
    rows = [f"audio/{s}.wav\tvideo/{s}.mp4\t{s.split('-')[0]}" for s in stems]
    return "\n".join([header, *rows]) + "\n"


def write_setup(root, train=TRAIN, test=TEST):
    setup = root / "evaluation_setup"
    setup.mkdir(parents=True, exist_ok=True)
    (setup / "fold1_train.csv").write_text(list_text(train))
    (setup / "fold1_evaluate.csv").write_text(list_text(test))
    return root


def test_reads_fold1_with_video_and_audio_paths(tmp_path):
    df = read_dcase(write_setup(tmp_path))
    assert list(df.columns) == COLUMNS
    assert list(df["clip_id"]) == TRAIN + TEST
    assert list(df["split"]) == ["train"] * 3 + ["test"] * 2
    assert list(df["label"]) == ["airport", "metro_station", "bus", "park", "street_traffic"]
    assert df.loc[1, "path"] == str(tmp_path / "video" / "metro_station-lyon-1077-40115.mp4")
    assert df.loc[1, "audio_path"] == str(tmp_path / "audio" / "metro_station-lyon-1077-40115.wav")


@pytest.mark.parametrize(
    "row",
    [
        "audio/bus-prague-1090-1.wav\tvideo/bus-prague-1090-2.mp4\tbus",  # pair mismatch
        "audio/bus-prague-1090-1.wav\tbus-prague-1090-1.mp4\tbus",  # no video/ folder
        "audio/bus-prague-1090-1.wav\tvideo/bus-prague-1090-1.avi\tbus",  # not an mp4
        "audio/bus-prague-1090-1.wav\tvideo/bus-prague-1090-1.mp4\ttram",  # wrong scene
    ],
)
def test_a_bad_row_names_file_and_line(tmp_path, row):
    write_setup(tmp_path)
    path = tmp_path / "evaluation_setup" / "fold1_evaluate.csv"
    path.write_text(list_text(TEST) + row + "\n")
    with pytest.raises(LayoutError, match=r"fold1_evaluate\.csv:4:"):
        read_dcase(tmp_path)


def test_wrong_columns_are_refused(tmp_path):
    write_setup(tmp_path)
    # The 2020 audio-only task's header: no video column.
    (tmp_path / "evaluation_setup" / "fold1_train.csv").write_text("filename\tscene_label\n")
    with pytest.raises(LayoutError, match=r"fold1_train\.csv: expected columns"):
        read_dcase(tmp_path)


def test_a_clip_in_both_folds_is_refused(tmp_path):
    write_setup(tmp_path, test=[*TEST, TRAIN[0]])
    with pytest.raises(LayoutError, match=TRAIN[0]):
        read_dcase(tmp_path)


def test_a_missing_list_names_it(tmp_path):
    write_setup(tmp_path)
    (tmp_path / "evaluation_setup" / "fold1_evaluate.csv").unlink()
    with pytest.raises(FileNotFoundError, match="fold1_evaluate.csv"):
        read_dcase(tmp_path)
