"""MAiVAR's Table 1 from a UCF101 the user already holds (acquire: local).

The folder has UCF101's published layout: the official classInd.txt and split-1 list lines
of four UCF51 classes, and each listed video a copy of a real UCF101-style clip (XVID and
MP3 in AVI, 320x240, 25 fps, 6.6 s). One listed clip is absent, as in a copy with gaps. The
workflow links the folder in, never writes into it, names the absent clip, records it in the
manifest and its coverage, and builds the table from the rest. The tier is tests/faults's
(MAiVAR's Table 1 on four classes) with its UCF101 taken from this folder, and with the
full tier's flipped audio images (maivar.audio_flips), which the smoke tier leaves out.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from avrepro.data.manifest import read_manifest

REPO = Path(__file__).resolve().parents[2]
TABLE = "results/table1_maivar.csv"
CLASSES = ["BoxingPunchingBag", "BoxingSpeedBag", "CricketBowling", "CricketShot"]
PER_CLASS = {"trainlist01.txt": 3, "testlist01.txt": 2}  # list lines kept per class
pytestmark = pytest.mark.workflow


def user_copy(root: Path, fixtures: Path) -> tuple[Path, str]:
    """The user's UCF101 folder, and the one listed clip it lacks."""
    lists, videos = root / "ucfTrainTestlist", root / "UCF-101"
    lists.mkdir(parents=True)
    shutil.copy(fixtures / "labels" / "ucf101_classInd.txt", lists / "classInd.txt")
    listed = []
    for name, keep in PER_CLASS.items():
        lines = (fixtures / "labels" / f"ucf101_{name}").read_text().splitlines()
        kept = [x for c in CLASSES for x in [x for x in lines if x.startswith(f"{c}/")][:keep]]
        (lists / name).write_text("".join(f"{line}\r\n" for line in kept), newline="")
        listed += [line.split()[0] for line in kept]
    absent = listed.pop()
    for relative in listed:
        (videos / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixtures / "clips" / "test.avi", videos / relative)
    return root, absent


def snapshot(root: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime)
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def built(tmp_path_factory, fixtures_dir):
    folder, absent = user_copy(tmp_path_factory.mktemp("user") / "UCF101", fixtures_dir)
    before = snapshot(folder)
    workdir = tmp_path_factory.mktemp("local")
    config = yaml.safe_load((REPO / "tests" / "faults" / "config.yaml").read_text())
    config["raw"]["ucf101"] = {"acquire": "local", "path": str(folder)}
    config["datasets"]["ucf51"]["classes"] = CLASSES
    config["maivar"]["audio_flips"] = True  # the full tier's augmentation, end to end
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "snakemake", "--directory", str(workdir),
                           "--cores", "2", TABLE], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir, folder, absent, before


def test_the_table_is_built_from_the_users_folder(built):
    workdir, folder, absent, _ = built
    table = pd.read_csv(workdir / TABLE)
    assert table.filter(like="reproduced").notna().any().any()
    assert (workdir / "resources" / "ucf101" / "UCF-101").resolve() == folder / "UCF-101"


def test_the_folder_is_not_written_into(built):
    _, folder, _, before = built
    assert snapshot(folder) == before


def test_the_absent_clip_is_named_recorded_and_counted(built):
    workdir, _, absent, _ = built
    assert absent in (workdir / "logs" / "acquire" / "ucf101.log").read_text()
    manifest = read_manifest(workdir / "results" / "manifests" / "ucf51.csv")
    assert len(manifest) == sum(PER_CLASS.values()) * len(CLASSES)
    status = manifest.set_index("path").status
    assert status[status.index.str.endswith(absent)].tolist() == ["missing"]
    assert (status.drop(status.index[status.index.str.endswith(absent)]) == "ok").all()
    coverage = pd.read_csv(workdir / "results" / "manifests" / "ucf51.coverage.csv")
    total = coverage.set_index("split").loc["all"]
    assert (total.listed, total.downloaded, total.usable) == (20, 19, 19)
