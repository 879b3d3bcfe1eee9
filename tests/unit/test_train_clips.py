"""Which clips a run uses, and its validation hold-out."""

import numpy as np
import pandas as pd
import pytest
from manifests import toy_manifest as manifest

from avrepro.train.clips import assemble, decodable, holdout, sounding


def test_assemble_keeps_clips_usable_by_every_modality():
    m = manifest()
    ids = m.clip_id.to_numpy()
    audio = (ids[:-2], np.arange(len(ids) - 2, dtype=np.float32)[:, None])  # 2 not embedded
    video = (ids[::-1], np.arange(len(ids), dtype=np.float32)[::-1, None])  # another order
    rows, feats = assemble(m, {"audio": audio, "video": video})
    assert "c0_01" not in set(rows.clip_id)  # corrupt
    assert "c0_09" not in set(rows.clip_id)  # no audio track
    assert not set(ids[-2:]) & set(rows.clip_id)  # missing from the audio store
    position = {c: i for i, c in enumerate(ids)}
    expected = np.array([position[c] for c in rows.clip_id], dtype=np.float32)
    np.testing.assert_array_equal(feats["video"][:, 0], expected)  # aligned to rows
    np.testing.assert_array_equal(feats["audio"][:, 0], expected)


def test_assemble_drops_clips_whose_media_did_not_decode():
    m = manifest()
    ids = m.clip_id.to_numpy()
    store = (ids, np.zeros((len(ids), 1), dtype=np.float32))
    decoded = set(ids) - {"c1_05", "c2_07"}  # e.g. an unreadable audio stream, broken frames
    rows, _ = assemble(m, {"video": store}, decoded)
    assert not {"c1_05", "c2_07"} & set(rows.clip_id)
    assert len(rows) == len(ids) - 4  # and the corrupt and the soundless clip


def test_decodable_needs_both_audio_and_frames(tmp_path):
    pd.DataFrame({"clip_id": ["a", "b", "c"], "audio_status": ["ok", "error", "ok"],
                  "n_samples": [8, 0, 8], "silent": False, "reason": ""}).to_csv(
        tmp_path / "audio.csv", index=False)
    pd.DataFrame({"clip_id": ["a", "b", "c"], "frames_status": ["ok", "ok", "error"]}).to_csv(
        tmp_path / "frames.csv", index=False)
    assert decodable([tmp_path / "audio.csv"], [tmp_path / "frames.csv"]) == {"a"}


def test_sounding_clips_decoded_to_samples_not_all_zero(tmp_path):
    index = tmp_path / "audio.csv"
    pd.DataFrame({"clip_id": ["a", "b", "c", "d"],
                  "audio_status": ["ok", "ok", "no_audio", "error"], "n_samples": [8, 8, 0, 0],
                  "silent": [False, True, False, False], "reason": ""}).to_csv(index, index=False)
    assert sounding([index]) == {"a"}
    pd.read_csv(index).drop(columns="silent").to_csv(index, index=False)
    with pytest.raises(ValueError, match="rerun the media stage"):
        sounding([index])  # an index from before silence detection


def test_holdout_is_stratified_fixed_and_from_training_clips():
    m = manifest(n_per_class=13)
    val = holdout(m, 0.2)
    assert (m.split[val] == "train").all()
    assert m[val].label_index.value_counts().tolist() == [2, 2, 2]
    np.testing.assert_array_equal(val, holdout(m, 0.2))


def test_holdout_keeps_one_clip_of_every_class_that_has_two():
    m = manifest(n_per_class=13)
    train = m[m.split == "train"]
    few = pd.concat([train[train.label_index == 0].head(1), train[train.label_index == 1].head(2),
                     m[m.split == "test"]]).reset_index(drop=True)
    val = holdout(few, 0.2)
    assert few[val].label_index.tolist() == [1]
