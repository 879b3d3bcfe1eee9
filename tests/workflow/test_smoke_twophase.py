"""The two-phase system on the smoke tier: the known answer of the synthetic data holds
(scenes come in pairs that share the picture or the sound, so audio-only and visual-only
top out at 75 % and the audio-visual system beats both)."""

import pandas as pd
import pytest

pytestmark = pytest.mark.workflow


def test_audio_visual_beats_audio_only_and_visual_only(built):
    table2 = pd.read_csv(built / "table2_twophase.csv").set_index("method")
    ours = table2.loc["Two-phase, f4 fusion (our best system)"]
    assert ours.audio_visual_reproduced > ours.audio_reproduced
    assert ours.audio_visual_reproduced > ours.visual_reproduced


def test_table1_has_each_scenes_accuracy_per_fusion(built):
    table1 = pd.read_csv(built / "table1_twophase.csv").set_index("method")
    scenes = table1.drop("Overall")
    smoke_scenes = scenes.dropna(subset=["f4_reproduced"])
    assert len(smoke_scenes) == 8  # the smoke tier's scenes; park and street traffic absent
    assert smoke_scenes[[f"f{k}_reproduced" for k in range(1, 7)]].stack().between(0, 100).all()
