import pytest

from avrepro.data.manifest import READER_COLUMNS, LayoutError
from avrepro.data.mit import read_categories, read_mit

CATEGORIES = "bicycling,0\nblocking,1\ndancing,2\n"
# Real rows: "label/file.mp4,label,annotators agreeing,annotators disagreeing", no header.
TRAINING = [
    "blocking/getty-karate-video-id635808620_4.mp4,blocking,3,0",
    "dancing/yt-5of6ffo6-Bw_205.mp4,dancing,2,1",
    "bicycling/yt-5of6ffo6-Bw_205.mp4,bicycling,3,0",  # the same file name in another class
]
VALIDATION = ["dancing/yt-zzzzzzzzzzz_15.mp4,dancing,3,0"]


def write_mit(root, training=TRAINING, validation=VALIDATION, categories=CATEGORIES):
    (root / "moments_categories.txt").write_text(categories)
    (root / "trainingSet.csv").write_text("\n".join(training) + "\n")
    (root / "validationSet.csv").write_text("\n".join(validation) + "\n")
    return root


def test_reads_training_as_train_and_validation_as_test(tmp_path):
    df = read_mit(write_mit(tmp_path))
    assert list(df.columns) == READER_COLUMNS
    assert list(df["split"]) == ["train", "train", "train", "test"]
    assert list(df["label"]) == ["blocking", "dancing", "bicycling", "dancing"]
    assert list(df["clip_id"]) == [
        "blocking__getty-karate-video-id635808620_4",
        "dancing__yt-5of6ffo6-Bw_205",
        "bicycling__yt-5of6ffo6-Bw_205",
        "dancing__yt-zzzzzzzzzzz_15",
    ]
    assert df.loc[0, "path"] == str(
        tmp_path / "training" / "blocking" / "getty-karate-video-id635808620_4.mp4"
    )
    assert df.loc[3, "path"] == str(tmp_path / "validation/dancing/yt-zzzzzzzzzzz_15.mp4")


def test_categories_keep_their_index(tmp_path):
    (tmp_path / "moments_categories.txt").write_text(CATEGORIES)
    assert read_categories(tmp_path / "moments_categories.txt") == {
        "bicycling": 0,
        "blocking": 1,
        "dancing": 2,
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("dancing/clip.mp4,blocking,3,0", "is not in folder 'blocking'"),
        ("swimming/clip.mp4,swimming,3,0", "class 'swimming' is not in"),
        ("clip.mp4,dancing,3,0", "expected 'LABEL/FILE.mp4"),
        ("dancing/clip.avi,dancing,3,0", "expected 'LABEL/FILE.mp4"),
    ],
)
def test_a_bad_row_names_file_and_line(tmp_path, row, message):
    write_mit(tmp_path, validation=[*VALIDATION, row])
    with pytest.raises(LayoutError, match=r"validationSet\.csv:2: ") as caught:
        read_mit(tmp_path)
    assert message in str(caught.value)


def test_a_bad_category_line_names_file_and_line(tmp_path):
    write_mit(tmp_path, categories="bicycling,0\nblocking\n")
    with pytest.raises(LayoutError, match=r"moments_categories\.txt:2:"):
        read_mit(tmp_path)
