"""Lee et al. on the smoke tier: the synthetic Moments in Time mini's known answer holds.

Barking/howling and whistling/chewing share the picture, swimming/wrapping look alike in
one frame but move apart, and 40 % of the clips are soundless (no track, or a silent one).
So flow adds to RGB, and sound generated for the soundless clips beats counting them wrong.
"""

import pandas as pd
import pytest
import yaml
from smoke_tier import REPO, SMOKE

from avrepro.data.synthetic import plan_clips
from avrepro.papers import load_metafile

pytestmark = pytest.mark.workflow
META = load_metafile(REPO / "workflow" / "papers" / "audiogen.yaml")


def table(built, n: int) -> pd.DataFrame:
    return pd.read_csv(built / f"table{n}_audiogen.csv").set_index("method")


def test_table1_counts_the_soundless_clips_the_generator_made(built):
    spec = yaml.safe_load((SMOKE / "config.yaml").read_text())["raw"]["moments_mini"]
    plan = plan_clips(spec["synthetic"])
    counts = table(built, 1)
    assert list(counts.index) == [row.method for row in META.tables["table1"].rows]
    for split in ("train", "test"):
        clips = plan[plan.split == split]
        assert counts.loc["total", f"{split}_counted"] == len(clips)
        assert counts.loc["  no audio track", f"{split}_counted"] == (~clips.has_audio).sum()
        assert counts.loc["  silent track (all zeros)", f"{split}_counted"] == clips.silent.sum()
        soundless = (~clips.has_audio | clips.silent).sum()
        assert counts.loc["without sound", f"{split}_counted"] == soundless
        assert counts.loc["with sound", f"{split}_counted"] == len(clips) - soundless
    assert counts.loc["with sound", "train_reported"] == 55196


# Table 4's Gen-LSTM and Gen-AE: the best generator of each kind (the metafile's note).
CHOSEN = ["LSTM, L2 loss, w/o classifier", "Autoencoder, L2 loss, w/ classifier"]


@pytest.mark.parametrize("n", [2, 3])
def test_generated_sound_beats_counting_soundless_clips_wrong(built, n):
    """For the generators Table 4 uses, and on average over all eight. Not for every one:
    the paper's own Table 3 has a generator below its baseline, as a KL one may be here."""
    sound = table(built, n).top1_reproduced
    baseline = sound["w/o generation (baseline)"]
    assert (sound[CHOSEN] > baseline).all(), sound
    assert sound.drop("w/o generation (baseline)").mean() > baseline, sound


def test_flow_adds_to_rgb_and_sound_adds_to_both(built):
    overall = table(built, 4).top1_reproduced
    assert overall["RGB + Flow (fusion)"] > overall["RGB (spatial)"]
    # Generated sound on top of both visual streams, over the table's two generators: one
    # of 48 test clips is 2 points, and AENet's LSTM alone can tie the visual fusion (it
    # did, 73.96 each, once the frames were stored as JPEGs) where VGGish's AE adds 15.
    with_sound = overall[["fusion + AENet (Gen-LSTM)", "fusion + VGGish (Gen-AE)"]]
    assert with_sound.mean() > overall["RGB + Flow (fusion)"], with_sound
    assert overall["RGB + AENet (Gen-LSTM)"] > overall["RGB (spatial)"]


def test_table5_ranks_three_classes_per_comparison_beside_the_papers(built):
    ranked = pd.read_csv(built / "table5_audiogen.csv")
    assert list(ranked["rank"]) == [1, 2, 3]
    for column, comparison in META.tables["table5"].comparisons.items():
        assert list(ranked[f"{column} reported"]) == list(comparison.reported)
        assert ranked[f"{column} reproduced"].notna().all()
