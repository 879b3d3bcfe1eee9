"""MAiVAR runs: which clips they use, the validation hold-out, a run folder end to end."""

import json

import numpy as np
import pandas as pd
import pytest

from avrepro.features.store import write_shard
from avrepro.train import maivar


def manifest(n_per_class=10, classes=3):
    rows = []
    for k in range(classes):
        for i in range(n_per_class):
            split = "test" if i < 3 else "train"
            rows.append({"clip_id": f"c{k}_{i:02d}", "path": f"x/c{k}_{i}.avi", "label": f"L{k}",
                         "label_index": k, "split": split, "duration": 3.0,
                         "has_audio": not (k == 0 and i == 9), "status": "ok", "reason": ""})
    rows[1].update(status="corrupt", duration=None, reason="moov atom not found")
    return pd.DataFrame(rows)


def test_assemble_keeps_clips_usable_by_every_modality():
    m = manifest()
    ids = m.clip_id.to_numpy()
    audio = (ids[:-2], np.arange(len(ids) - 2, dtype=np.float32)[:, None])  # 2 not embedded
    video = (ids[::-1], np.arange(len(ids), dtype=np.float32)[::-1, None])  # another order
    rows, feats = maivar.assemble(m, {"audio": audio, "video": video})
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
    rows, _ = maivar.assemble(m, {"video": store}, decoded)
    assert not {"c1_05", "c2_07"} & set(rows.clip_id)
    assert len(rows) == len(ids) - 4  # and the corrupt and the soundless clip


def test_decodable_needs_both_audio_and_frames(tmp_path):
    pd.DataFrame({"clip_id": ["a", "b", "c"], "audio_status": ["ok", "error", "ok"]}).to_csv(
        tmp_path / "audio.csv", index=False)
    pd.DataFrame({"clip_id": ["a", "b", "c"], "frames_status": ["ok", "ok", "error"]}).to_csv(
        tmp_path / "frames.csv", index=False)
    assert maivar.decodable([tmp_path / "audio.csv"], [tmp_path / "frames.csv"]) == {"a"}


def test_holdout_is_stratified_fixed_and_from_training_clips():
    m = manifest(n_per_class=13)
    val = maivar.holdout(m, 0.2)
    assert (m.split[val] == "train").all()
    assert m[val].label_index.value_counts().tolist() == [2, 2, 2]
    np.testing.assert_array_equal(val, maivar.holdout(m, 0.2))


def test_standardisation_uses_training_statistics():
    x = np.array([[0.0, 10.0], [2.0, 10.0], [100.0, 50.0]], dtype=np.float32)
    train = np.array([True, True, False])
    stats = maivar.standardization(x, train)
    z = maivar.standardize(x, stats)
    np.testing.assert_allclose(z[:2, 0], [-1, 1])
    assert z[2, 0] == pytest.approx(99.0)  # test clips do not move the statistics


@pytest.mark.parametrize("variant", ["vmlp", "amlp_rep-ch_bb-irv2"])
def test_run_writes_a_complete_run_folder(tmp_path, variant):
    m = manifest(n_per_class=12)
    m.to_csv(tmp_path / "manifest.csv", index=False)
    rng = np.random.default_rng(0)
    labels = m.label_index.to_numpy()
    shards = {
        "audio": rng.normal(size=(len(m), 6)).astype(np.float32) + 3 * labels[:, None],
        "video": rng.normal(size=(len(m), 2, 4)).astype(np.float32) + 3 * labels[:, None, None],
    }
    paths = {}
    for modality, feats in shards.items():
        paths[modality] = [tmp_path / f"{modality}.npz"]
        write_shard(paths[modality][0], m.clip_id.tolist(), feats)
    hparams = {"val_fraction": 0.2, "standardize": True, "hidden": 16,
               "schedule": {"epochs": 30, "batch_size": 8, "lr": 1e-2}}
    media = {}
    for stream, column in (("audio", "audio_status"), ("frames", "frames_status")):
        media[stream] = [tmp_path / f"{stream}.csv"]
        pd.DataFrame({"clip_id": m.clip_id, column: "ok"}).to_csv(media[stream][0], index=False)
    out = tmp_path / "run"
    metrics = maivar.run(variant, tmp_path / "manifest.csv", paths, media, 3, hparams, 0, out)
    assert metrics["accuracy"] > 80  # separable by construction
    assert json.loads((out / "metrics.json").read_text()) == metrics
    for name in ("history.csv", "predictions.parquet", "model.pt", "config.yaml"):
        assert (out / name).is_file(), name
    assert len(pd.read_csv(out / "history.csv")) == 30
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert len(predictions) == metrics["clips"]["test"]
    assert 100 * (predictions.prediction == predictions.label_index).mean() == pytest.approx(
        metrics["accuracy"])
