"""Reader for the UCF101 layout as distributed by its authors.

    root/UCF-101/{Class}/v_{Class}_gGG_cCC.avi
    root/ucfTrainTestlist/classInd.txt              "1 ApplyEyeMakeup"
    root/ucfTrainTestlist/trainlist0K.txt           "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
    root/ucfTrainTestlist/testlist0K.txt            "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"

The lists have CRLF line ends. A clip's label is the folder its list entry names, never
a part of the file name: the folder HandstandPushups holds v_HandStandPushups_* files.
UCF51 is this reader's output restricted to 51 classes by `build_manifest`. Each of the
three official splits lists every clip once, as train or test.
"""

from pathlib import Path, PurePosixPath

import pandas as pd

from avrepro.data.manifest import READER_COLUMNS, LayoutError

VIDEO_DIR = "UCF-101"
LISTS_DIR = "ucfTrainTestlist"
SPLIT_NUMBERS = (1, 2, 3)


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, whitespace-separated fields) of each non-blank line."""
    with open(path) as file:  # universal newlines: CRLF and LF both read as "\n"
        return [(number, line.split()) for number, line in enumerate(file, 1) if line.strip()]


def read_class_index(path: str | Path) -> dict[str, int]:
    """classInd.txt as {class name: 1-based index}."""
    path = Path(path)
    classes = {}
    for number, fields in _lines(path):
        if len(fields) != 2 or not fields[0].isdigit():
            raise LayoutError(f"{path}:{number}: expected 'INDEX CLASS', got {' '.join(fields)!r}")
        classes[fields[1]] = int(fields[0])
    return classes


def class_names(root: str | Path) -> list[str]:
    """The classes in classInd.txt's order, whose 1-based index minus one is UCF101's usual
    label index. For `classes: all`: sorted() would differ, putting HammerThrow before
    Hammering and JumpRope before JumpingJack (capitals sort first), and models and
    confusion matrices trained elsewhere would not line up."""
    return list(read_class_index(Path(root) / LISTS_DIR / "classInd.txt"))


def _read_split_list(path: Path, class_index: dict[str, int], split: str) -> list[dict]:
    rows = []
    for number, fields in _lines(path):
        relative = PurePosixPath(fields[0])
        if len(relative.parts) != 2 or relative.suffix != ".avi":
            raise LayoutError(f"{path}:{number}: expected 'CLASS/FILE.avi', got {fields[0]!r}")
        label = relative.parts[0]
        if label not in class_index:
            raise LayoutError(f"{path}:{number}: class {label!r} is not in classInd.txt")
        # Train lists repeat the class index; a mismatch means lists from different releases.
        if len(fields) > 1 and fields[1] != str(class_index[label]):
            raise LayoutError(
                f"{path}:{number}: index {fields[1]!r} disagrees with classInd.txt "
                f"({label} = {class_index[label]})"
            )
        rows.append(
            {"clip_id": relative.stem, "relative": relative, "label": label, "split": split}
        )
    return rows


def read_ucf101(root: str | Path, split: int) -> pd.DataFrame:
    """Clips of official split `split` (1, 2 or 3): DataFrame(clip_id, path, label, split).

    Train rows come first, then test rows, each in list order. Paths are root-based
    (relative when `root` is); the files are not checked here, `build_manifest` probes them.
    """
    if split not in SPLIT_NUMBERS:
        raise ValueError(f"UCF101 split must be one of {SPLIT_NUMBERS}, got {split!r}")
    root = Path(root)
    lists = root / LISTS_DIR
    class_index = read_class_index(lists / "classInd.txt")
    rows = _read_split_list(lists / f"trainlist{split:02d}.txt", class_index, "train")
    rows += _read_split_list(lists / f"testlist{split:02d}.txt", class_index, "test")

    df = pd.DataFrame(rows, columns=["clip_id", "relative", "label", "split"])
    df["path"] = [str(root / VIDEO_DIR / relative) for relative in df["relative"]]
    return df[READER_COLUMNS]
