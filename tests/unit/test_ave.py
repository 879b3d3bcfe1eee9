import pytest

from avrepro.data.ave import CATEGORIES, HEADER, clip_id, read_annotations, read_ave
from avrepro.data.manifest import READER_COLUMNS, LayoutError

TRAIN = [
    "Church bell&RUhOCu3LNXM&good&0&10",
    "Ukulele&-1qyr-IzqKY&good&0&10",
    "Accordion&-1qyr-IzqKY&good&0&10",  # the same video with a second event
]
VAL = ["Baby cry, infant cry&abcdefghijk&good&3&7"]
TEST = ["Frying (food)&lmnopqrstuv&good&0&10"]


def write_ave(root, header=True):
    """A tiny AVE tree, the lists in the dataset archive's form (with a header)."""
    lines = {"trainSet.txt": TRAIN, "valSet.txt": VAL, "testSet.txt": TEST}
    lines["Annotations.txt"] = TRAIN + VAL + TEST
    for name, rows in lines.items():
        (root / name).write_text("\n".join([HEADER] * header + rows) + "\n")
    return root


def test_reads_the_eccv_split_in_order_with_a_row_per_event(tmp_path):
    df = read_ave(write_ave(tmp_path))
    assert list(df.columns) == READER_COLUMNS
    assert list(df["split"]) == ["train", "train", "train", "val", "test"]
    assert list(df["clip_id"]) == [
        "church_bell__RUhOCu3LNXM",
        "ukulele__-1qyr-IzqKY",
        "accordion__-1qyr-IzqKY",
        "baby_cry_infant_cry__abcdefghijk",
        "frying_food__lmnopqrstuv",
    ]
    assert list(df["label"]) == [row.split("&")[0] for row in TRAIN + VAL + TEST]
    # Two events of one video share its file.
    assert df.loc[1, "path"] == df.loc[2, "path"] == str(tmp_path / "AVE" / "-1qyr-IzqKY.mp4")


def test_the_header_line_is_optional(tmp_path):
    # The authors' GitHub copy of Annotations.txt has no header; the archive's lists do.
    (tmp_path / "archive").mkdir()
    (tmp_path / "github").mkdir()
    with_header = read_ave(write_ave(tmp_path / "archive", header=True))
    without_header = read_ave(write_ave(tmp_path / "github", header=False))
    assert list(with_header["clip_id"]) == list(without_header["clip_id"])
    assert len(without_header) == 5


def test_the_real_annotations(fixtures_dir):
    path = fixtures_dir / "labels" / "ave_Annotations.txt"
    rows = read_annotations(path)
    assert len(rows) == 4143
    assert rows["category"].nunique() == 28
    assert rows["video_id"].nunique() == 4097  # 46 videos carry two or three events
    ids = [clip_id(c, v) for c, v in zip(rows["category"], rows["video_id"], strict=True)]
    assert len(set(ids)) == 4143
    # The slugs keep the 28 categories apart.
    slugs = {identifier.split("__")[0] for identifier in ids}
    assert len(slugs) == 28
    assert (rows["start"] <= rows["end"]).all() and rows["end"].max() == 10
    assert sorted(rows["category"].unique()) == list(CATEGORIES)  # spelled as listed


@pytest.mark.parametrize(
    "line",
    [
        "Church bell&RUhOCu3LNXM&good&0",
        "Church bell&RUhOCu3LNXM&good&zero&10",
        "Church bell&RUhOCu3LNXM&good&8&2",
    ],
)
def test_a_malformed_row_names_file_and_line(tmp_path, line):
    path = tmp_path / "trainSet.txt"
    path.write_text(f"{HEADER}\n{TRAIN[0]}\n{line}\n")
    with pytest.raises(LayoutError, match=r"trainSet\.txt:3:"):
        read_annotations(path)


def test_an_event_listed_in_two_splits_is_refused(tmp_path):
    write_ave(tmp_path)
    (tmp_path / "testSet.txt").write_text(f"{HEADER}\n{TRAIN[0]}\n")
    with pytest.raises(LayoutError, match="church_bell__RUhOCu3LNXM"):
        read_ave(tmp_path)


def test_a_missing_split_file_names_it(tmp_path):
    write_ave(tmp_path)
    (tmp_path / "valSet.txt").unlink()
    with pytest.raises(FileNotFoundError, match="valSet.txt"):
        read_ave(tmp_path)
