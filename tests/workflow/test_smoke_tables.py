"""Every paper's tables and figures on the smoke tier: each row of the paper with its
reported value, reproduced cells only where a run stands behind them; and a rerun with
nothing changed does no work."""

import pandas as pd
import pytest
import yaml
from PIL import Image
from smoke_tier import REPO, SMOKE, smoke_snakemake

from avrepro.papers import ACCURACY, RUNS, TOP5, load_metafile

pytestmark = pytest.mark.workflow
FIGURES = {"maivar": (6, 7, 8, 9), "mafnet": (6, 7), "twophase": (4,), "audiogen": (3,)}


@pytest.mark.parametrize("paper", sorted(FIGURES))
def test_tables_carry_every_paper_row_with_its_reported_value(built, paper):
    meta = load_metafile(REPO / "workflow" / "papers" / f"{paper}.yaml")
    config = yaml.safe_load((SMOKE / "config.yaml").read_text())
    seeds = len(config["seeds"])
    for key, spec in meta.tables.items():
        if spec.kind != RUNS:  # counts and class rankings: tests/workflow/test_smoke_audiogen.py
            continue
        frame = pd.read_csv(built / f"{key}_{paper}.csv")
        assert list(frame.method) == [row.method for row in spec.rows]
        for row, (_, out) in zip(spec.rows, frame.iterrows(), strict=True):
            assert out.status == ("cited" if row.cited else "reproduced"), (key, row.method)
            for column, cell in row.cells.items():
                prefix = "" if column == "value" else f"{column}_"
                reported = out[f"{prefix}reported"]
                assert (pd.isna(reported) and cell.reported is None) or reported == cell.reported
                if cell.run is None:
                    assert pd.isna(out[f"{prefix}reproduced"]), (key, row.method, column)
                else:  # a run per seed, and per dataset where a column averages several
                    runs = seeds * len(spec.datasets[column])
                    metric = spec.metric(row, column)
                    label = metric.removeprefix("per_class.")
                    if metric not in (ACCURACY, TOP5) and not any(
                        label in config["datasets"][d]["classes"] for d in spec.datasets[column]
                    ):
                        runs = 0  # a class the smoke tier's dataset does not have
                    assert out[f"{prefix}n"] == runs, (key, row.method, column)
                    for run in out[f"{prefix}runs"].split(";"):
                        assert (SMOKE / run / "metrics.json").is_file()


@pytest.mark.parametrize(("paper", "n"), [(p, n) for p, ns in FIGURES.items() for n in ns])
def test_figures_are_real_images(built, paper, n):
    png = built / f"fig{n}_{paper}.png"
    with Image.open(png) as image:
        assert image.width > 400 and image.height > 300
        assert len(set(image.convert("L").getdata())) > 20  # not a blank canvas
    assert (built / f"fig{n}_{paper}.pdf").stat().st_size > 1000


def test_rerun_with_nothing_changed_does_no_work(built):
    again = smoke_snakemake("all", "--dry-run")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Nothing to be done" in again.stdout + again.stderr
