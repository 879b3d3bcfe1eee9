"""MAiVAR runs: which clips they use, the validation hold-out, a run folder end to end."""

import json

import numpy as np
import pandas as pd
import pytest
from manifests import toy_manifest as manifest

from avrepro.features.store import write_shard
from avrepro.train import maivar


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
