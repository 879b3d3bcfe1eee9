"""Workflow tests on the smoke tier: Snakemake builds MAiVAR's tables and figures from
synthetic videos, and the known answer of the synthetic data holds.

The smoke tier is built in tests/smoke (as `make smoke` does); when it is already built
this only checks it, and that a rerun with nothing changed does no work.
"""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from avrepro.papers import load_metafile

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "tests" / "smoke"
REPS = ["wp", "mfcc", "mfs", "sc", "sr", "ch"]
pytestmark = pytest.mark.workflow


def snakemake(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--directory", str(SMOKE), "--cores", "2", *args],
        cwd=REPO, capture_output=True, text=True,
    )


@pytest.fixture(scope="module")
def built():
    done = snakemake("all")
    assert done.returncode == 0, done.stderr[-3000:]
    return SMOKE / "results"


def table(results: Path, n: int) -> pd.DataFrame:
    return pd.read_csv(results / f"table{n}_maivar.csv").set_index("method")


def test_fusion_beats_audio_only_and_video_only_for_every_representation(built):
    table1, table3 = table(built, 1), table(built, 3)
    video_only = table1.loc["Video-only (VMLP on TSN features)", "reproduced"]
    for row in table3.itertuples():
        assert row.fusion_reproduced > row.audio_reproduced, row.Index
        assert row.fusion_reproduced > video_only, row.Index


def test_fusion_beats_both_on_kinetics_sounds(built):
    table2 = table(built, 2)
    fusion = table2.loc["MAiVAR-CH", "reproduced"]
    assert fusion > table2.loc["Video-only (VMLP on TSN features)", "reproduced"]
    assert fusion > table2.loc["Audio-only (chromagram, IRV2)", "reproduced"]


def test_tables_carry_every_paper_row_with_its_reported_value(built):
    meta = load_metafile(REPO / "workflow" / "papers" / "maivar.yaml")
    seeds = len(yaml.safe_load((SMOKE / "config.yaml").read_text())["seeds"])
    for key, spec in meta.tables.items():
        frame = pd.read_csv(built / f"{key}_maivar.csv")
        assert list(frame.method) == [row.method for row in spec.rows]
        for row, (_, out) in zip(spec.rows, frame.iterrows(), strict=True):
            for column, cell in row.cells.items():
                prefix = "" if column == "value" else f"{column}_"
                reported = out[f"{prefix}reported"]
                assert (pd.isna(reported) and cell.reported is None) or reported == cell.reported
                if cell.run is None:
                    assert out.status == "cited" and pd.isna(out[f"{prefix}reproduced"])
                else:
                    assert out[f"{prefix}n"] == seeds
                    for run in out[f"{prefix}runs"].split(";"):
                        assert (SMOKE / run / "metrics.json").is_file()


def test_tables_state_the_clips_used(built):
    config = yaml.safe_load((SMOKE / "config.yaml").read_text())
    per_class = config["raw"]["ucf101"]["synthetic"]["clips_per_class"]
    listed = len(config["datasets"]["ucf51"]["classes"]) * (per_class["train"] + per_class["test"])
    frame = table(built, 1)
    used = frame[frame.status == "reproduced"].eval("clips_train + clips_test")
    # every listed clip, less those the generator wrote without an audio track
    assert used.between(0.85 * listed, listed - 1).all()


def test_figures_are_real_images(built):
    for n in (6, 7, 8, 9):
        png = built / f"fig{n}_maivar.png"
        with Image.open(png) as image:
            assert image.width > 400 and image.height > 300
            assert len(set(image.convert("L").getdata())) > 20  # not a blank canvas
        assert (built / f"fig{n}_maivar.pdf").stat().st_size > 1000


def test_rerun_with_nothing_changed_does_no_work(built):
    again = snakemake("all", "--dry-run")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Nothing to be done" in again.stdout + again.stderr
