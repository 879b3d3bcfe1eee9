"""MAiVAR runs: which clips they use, the validation hold-out, a run folder end to end."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
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


@pytest.mark.parametrize(("variant", "flips", "snippets"), [
    ("vmlp", False, False), ("vmlp", False, True), ("amlp_rep-ch_bb-irv2", False, False),
    ("amlp_rep-ch_bb-irv2", True, False)])
def test_run_writes_a_complete_run_folder(tmp_path, monkeypatch, variant, flips, snippets):
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
        # Four views of the audio features (view 0 as rendered), as audio_flips stores
        # them; three of the video features (view 0 the segment centres), as a tsn spec
        # with random_views: 2 does.
        views = np.stack([feats + 0.2 * k for k in range(4 if modality == "audio" else 3)],
                         axis=1)
        write_shard(paths[modality][0], m.clip_id.tolist(), feats, views=views)
    hparams = {"val_fraction": 0.2, "standardize": True, "hidden": 16, "audio_flips": flips,
               "video_snippets": snippets,
               "schedule": {"epochs": 30, "batch_size": 8, "lr": 1e-2}}
    media = {}
    for stream, column in (("audio", "audio_status"), ("frames", "frames_status")):
        media[stream] = [tmp_path / f"{stream}.csv"]
        pd.DataFrame({"clip_id": m.clip_id, column: "ok"}).to_csv(media[stream][0], index=False)
    out = tmp_path / "run"
    fitted = {}

    def fit(model, train, val, test, **kwargs):
        fitted.update(train=train, val=val)
        return real_fit(model, train, val, test, **kwargs)

    real_fit = maivar.fit
    monkeypatch.setattr(maivar, "fit", fit)
    metrics = maivar.run(variant, tmp_path / "manifest.csv", paths, media, 3, hparams, 0, out)
    assert metrics["accuracy"] > 80  # separable by construction
    # Training sees every view, standardised as view 0 is; validation view 0 only.
    trained, held_out = fitted["train"].inputs[0], fitted["val"].inputs[0]
    n_views = {"vmlp": 3 if snippets else 1, "amlp_rep-ch_bb-irv2": 4 if flips else 1}[variant]
    assert trained.shape[1:2] == ((n_views,) if n_views > 1 else held_out.shape[1:2])
    if n_views > 1:
        assert trained.shape[2:] == held_out.shape[1:]
        assert abs(float(trained[:, 0].mean())) < 1e-4  # the training clips' own stats
    assert json.loads((out / "metrics.json").read_text()) == metrics
    for name in ("history.csv", "predictions.parquet", "model.pt", "config.yaml"):
        assert (out / name).is_file(), name
    assert len(pd.read_csv(out / "history.csv")) == 30
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert len(predictions) == metrics["clips"]["test"]
    assert 100 * (predictions.prediction == predictions.label_index).mean() == pytest.approx(
        metrics["accuracy"])


def test_each_clip_trains_on_a_view_drawn_per_epoch():
    """The view step gives every clip one of its views, from the epoch's generator: two
    epochs draw differently, the same epoch (a resumed run) alike; inputs without views
    pass as they are."""
    views = torch.arange(8 * 4, dtype=torch.float32).view(8, 4, 1)  # clip i, view k: 4i + k
    plain = torch.ones(8, 3)
    seen = []

    def model(audio, video):
        seen.append(audio[:, 0].clone())
        assert torch.equal(video, plain)
        return torch.zeros(len(audio), 2, requires_grad=True)

    step = maivar.view_step((True, False))
    labels = torch.zeros(8, dtype=torch.long)
    for seed in (1, 2, 1):
        step(model, (views, plain), labels, torch.Generator().manual_seed(seed))
    first, second, again = seen
    assert torch.equal(first, again) and not torch.equal(first, second)
    assert torch.isin(first - 4 * torch.arange(8), torch.arange(4.0)).all()  # own views
