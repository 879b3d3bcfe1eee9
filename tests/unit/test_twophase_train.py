"""Two-phase training (Pham et al., §II-III): mixup + KL loss, splits, run folders."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from avrepro.features.store import read_store, write_shard
from avrepro.media.frame_store import FrameStore, write_frames
from avrepro.models.twophase import Branch
from avrepro.train import twophase as tp
from avrepro.variants import twophase as variants

SCENES = ["airport", "bus", "metro_station"]


# --- mixup and the KL loss ------------------------------------------------------------

def test_mixup_draws_replay_from_the_generator():
    lam, partner = tp.mixup_draw(64, 0.4, torch.Generator().manual_seed(7))
    lam2, partner2 = tp.mixup_draw(64, 0.4, torch.Generator().manual_seed(7))
    lam3, _ = tp.mixup_draw(64, 0.4, torch.Generator().manual_seed(8))
    assert torch.equal(lam, lam2) and torch.equal(partner, partner2)
    assert not torch.equal(lam, lam3)
    assert ((lam >= 0) & (lam <= 1)).all() and len(set(lam.tolist())) == 64  # one per example
    assert sorted(partner.tolist()) == list(range(64))
    # Beta(0.4, 0.4) is U-shaped: most weights lie near 0 or 1.
    assert ((lam < 0.2) | (lam > 0.8)).float().mean() > 0.5


def test_mix_blends_in_float():
    x = torch.tensor([[0, 255], [100, 50]], dtype=torch.uint8)
    partner = torch.tensor([1, 0])
    torch.testing.assert_close(tp.mix(x, torch.tensor([1.0, 1.0]), partner), x.float())
    torch.testing.assert_close(tp.mix(x, torch.tensor([0.5, 0.0]), partner),
                               torch.tensor([[50.0, 152.5], [0.0, 255.0]]))


def test_kl_loss_is_cross_entropy_for_one_hot_targets_and_zero_when_exact():
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, 2, 1, 1])
    onehot = nn.functional.one_hot(labels, 3).float()
    torch.testing.assert_close(tp.kl_divergence(logits, onehot),
                               nn.functional.cross_entropy(logits, labels))
    soft = torch.tensor([[0.7, 0.3, 0.0], [0.2, 0.2, 0.6]])
    assert tp.kl_divergence(torch.log(soft + 1e-12), soft) == pytest.approx(0, abs=1e-6)
    assert tp.kl_divergence(torch.zeros(2, 3), soft) > 0.1


def test_mixup_step_mixes_inputs_and_targets_alike():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, labels = torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    loss, logits = tp.mixup_kl_step(0.4, 3)(model, (x,), labels,
                                             torch.Generator().manual_seed(3))
    lam, partner = tp.mixup_draw(8, 0.4, torch.Generator().manual_seed(3))
    mixed = lam[:, None] * x + (1 - lam[:, None]) * x[partner]
    onehot = nn.functional.one_hot(labels, 3).float()
    target = lam[:, None] * onehot + (1 - lam[:, None]) * onehot[partner]
    torch.testing.assert_close(logits, model(mixed))
    expected = (target * (torch.log(target + 1e-30) - torch.log_softmax(model(mixed), 1))).sum(1)
    torch.testing.assert_close(loss, expected.mean())


# --- clips, splits, metrics ------------------------------------------------------------

def make_manifest(locations=6, segments=2, test_locations=2):
    """DCASE-like clips: each location's segments share a split (the first locations test)."""
    rows = []
    for k, scene in enumerate(SCENES):
        for loc in range(locations):
            for seg in range(segments):
                rows.append({"clip_id": f"{scene}-lyon-{100 * k + loc}-{seg}",
                             "path": f"video/{scene}-{loc}-{seg}.mp4", "label": scene,
                             "label_index": k, "split": "test" if loc < test_locations else "train",
                             "duration": 10.0, "has_audio": True, "status": "ok", "reason": ""})
    return pd.DataFrame(rows)


def test_location_holdout_keeps_recordings_whole_and_classes_represented():
    m = make_manifest(locations=10, segments=3)
    val = tp.location_holdout(m, 0.25)
    assert (m.split[val] == "train").all()
    locations = m.clip_id.map(tp.recording_location)
    assert not set(locations[val]) & set(locations[~val])
    assert set(m.label[val]) == set(SCENES)
    np.testing.assert_array_equal(val, tp.location_holdout(m, 0.25))
    with pytest.raises(ValueError, match="at least 10 recording locations"):
        tp.location_holdout(make_manifest(locations=4), 0.1)
    with pytest.raises(ValueError, match="scene-city-location-segment"):
        tp.recording_location("v_Shotput_g01_c01")


def test_clip_outputs_average_the_real_frames_of_each_clip():
    torch.manual_seed(0)
    model = Branch(nn.Flatten(1), feature_dim=4, n_classes=3)
    clips = np.random.default_rng(0).normal(size=(3, 3, 2, 2)).astype(np.float32)
    n_valid = np.array([3, 1, 2])  # clip 1 has one real frame, then padding
    read = []
    out = tp.clip_outputs(model, lambda a, b: read.append((a, b)) or clips[a:b], n_valid, 3,
                          batch_size=4, device=torch.device("cpu"))
    assert read == [(0, 1), (1, 2), (2, 3)]  # a forward pass of at most 4 frames at a time
    model.eval()
    for i, n in enumerate(n_valid):
        h, logits = model.embeddings(torch.from_numpy(clips[i, :n]))
        np.testing.assert_allclose(out["fc1024"][i], h.mean(0).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out["fc10"][i], logits.mean(0).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out["probs"][i], torch.softmax(logits, 1).mean(0).numpy(),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_frames_are_the_examples_of_the_loaded_frames_in_their_order(tmp_path,
                                                                              workers):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 4, 8, 8, 3), dtype=np.uint8)
    n_valid = np.array([4, 1, 3, 4, 2])
    frames[np.arange(4)[None, :] >= n_valid[:, None]] = 0
    write_frames(tmp_path / "a.npz", "fps", ["a", "b", "c"], frames[:3], n_valid[:3])
    write_frames(tmp_path / "b.npz", "fps", ["d", "e"], frames[3:], n_valid[3:])
    store = FrameStore([tmp_path / "a.npz", tmp_path / "b.npz"]).select(["e", "a", "c", "b"])
    labels = np.array([2, 0, 1, 0])
    streamed = tp.stored_frame_split(store, labels, workers)
    # Before: the clips' frames loaded (here, as the store decodes them), each real frame
    # an example.
    decoded = np.stack([store.read(i) for i in range(len(store))])
    loaded = tp.frame_split(decoded, store.n_valid, labels)
    assert len(streamed) == len(loaded) == 2 + 4 + 3 + 1
    assert torch.equal(streamed.labels, loaded.labels)
    for generator in (None, 7):  # evaluation's order, and a training epoch's
        batches = [list(split.batches(3, generator and torch.Generator().manual_seed(7)))
                   for split in (streamed, loaded)]
        assert len(batches[0]) == len(batches[1]) == 4
        for ((x,), y), ((x_loaded,), y_loaded) in zip(*batches, strict=True):
            assert x.dtype == torch.uint8 and torch.equal(x, x_loaded)
            assert torch.equal(y, y_loaded)


# --- run folders ---------------------------------------------------------------------

def write_media_indexes(tmp_path, m):
    media = {}
    for stream, column in (("audio", "audio_status"), ("frames", "frames_status")):
        media[stream] = [tmp_path / f"{stream}.csv"]
        pd.DataFrame({"clip_id": m.clip_id, column: "ok"}).to_csv(media[stream][0], index=False)
    return media


def check_run_folder(out, metrics, n_classes):
    assert json.loads((out / "metrics.json").read_text()) == metrics
    for name in ("history.csv", "predictions.parquet", "model.pt", "config.yaml"):
        assert (out / name).is_file(), name
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert len(predictions) == metrics["clips"]["test"]
    assert 100 * (predictions.prediction == predictions.label_index).mean() == pytest.approx(
        metrics["accuracy"])
    assert np.array(metrics["confusion"]).sum() == metrics["clips"]["test"]
    assert list(metrics["per_class"]) == metrics["classes"] == SCENES[:n_classes]


def schedule(epochs):
    return {"epochs": epochs, "batch_size": 8, "lr": 1e-2, "weight_decay": 1e-4}


def test_audio_branch_run_learns_and_writes_embeddings(tmp_path):
    m = make_manifest()
    m.to_csv(tmp_path / "manifest.csv", index=False)
    labels = m.label_index.to_numpy()
    rng = np.random.default_rng(0)
    spectrograms = rng.normal(size=(len(m), 6, 4, 6)) + 2.0 * labels[:, None, None, None]
    write_shard(tmp_path / "mel.npz", m.clip_id.tolist(), spectrograms.astype(np.float16))
    hparams = {"val_fraction": 0.25, "mixup_alpha": 0.4, "audio_widths": [8, 16],
               "schedule": schedule(12)}
    out = tmp_path / "aud"
    metrics = tp.run_branch("aud_spec-mel", tmp_path / "manifest.csv", [tmp_path / "mel.npz"],
                            write_media_indexes(tmp_path, m), hparams, 0, out)
    check_run_folder(out, metrics, 3)
    assert metrics["accuracy"] > 80  # separable by construction
    assert metrics["clips"] == {"train": 18, "val": 6, "test": 12, "listed": 36, "unusable": 0}
    ids, fc1024 = read_store([out / "emb-fc1024.npz"])
    ids10, fc10 = read_store([out / "emb-fc10.npz"])
    assert sorted(ids) == sorted(m.clip_id) and list(ids) == list(ids10)
    assert fc1024.shape == (36, 1024) and fc10.shape == (36, 3)

    # model.pt rebuilds the trained network: same test predictions.
    saved = torch.load(out / "model.pt", weights_only=False)
    model = tp.build_model(saved["variant"], saved["n_classes"], saved["audio_widths"])
    model.load_state_dict(saved["state"])
    model.eval()
    test_ids = pd.read_parquet(out / "predictions.parquet").clip_id
    x = torch.from_numpy(spectrograms[m.clip_id.isin(test_ids).to_numpy()]).half()
    order = m.clip_id[m.clip_id.isin(test_ids)].tolist()
    with torch.no_grad():
        predicted = dict(zip(order, model(x).argmax(1).tolist(), strict=True))
    assert predicted == dict(zip(test_ids, pd.read_parquet(out / "predictions.parquet")
                                 .prediction, strict=True))


def test_visual_branch_run_trains_on_frames_and_averages_clips(tmp_path):
    m = make_manifest(locations=4, segments=1, test_locations=1)
    m.to_csv(tmp_path / "manifest.csv", index=False)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (len(m), 2, 75, 75, 3), dtype=np.uint8)
    n_valid = np.full(len(m), 2)
    n_valid[::3] = 1  # short clips: their second frame is padding
    frames[n_valid == 1, 1] = 0
    write_frames(tmp_path / "frames.npz", "fps", m.clip_id, frames, n_valid)
    hparams = {"val_fraction": 1 / 3, "schedule": schedule(1)}
    out = tmp_path / "vis"
    metrics = tp.run_branch("vis_bb-inceptionv3", tmp_path / "manifest.csv",
                            [tmp_path / "frames.npz"], write_media_indexes(tmp_path, m),
                            hparams, 0, out)
    check_run_folder(out, metrics, 3)
    assert metrics["clips"]["test"] == 3
    ids, fc1024 = read_store([out / "emb-fc1024.npz"])
    assert len(ids) == len(m) and fc1024.shape == (len(m), 1024)
    assert pd.read_csv(out / "history.csv").shape[0] == 1
    # Frames decoded by DataLoader workers: the same batches, so the same run.
    again = tp.run_branch("vis_bb-inceptionv3", tmp_path / "manifest.csv",
                          [tmp_path / "frames.npz"], write_media_indexes(tmp_path, m),
                          hparams, 0, tmp_path / "workers", workers=2)
    assert again == metrics


def write_embeddings(root, m, noise, seed=0):
    """Fake phase-I run folders: every branch's FC(10) and FC(1024) embeddings.

    Audio branches see the scene only weakly, visual ones clearly (`noise` per side)."""
    rng = np.random.default_rng(seed)
    labels = m.label_index.to_numpy()
    dirs = {}
    for branch in variants.audio_branches() + variants.visual_branches():
        sigma = noise["audio" if branch.startswith("aud") else "visual"]
        onehot = np.eye(3)[labels]
        fc10 = 3 * onehot + rng.normal(0, sigma, onehot.shape)
        fc1024 = np.repeat(fc10, 1024 // 3 + 1, axis=1)[:, :1024]
        dirs[branch] = root / branch
        write_shard(dirs[branch] / "emb-fc10.npz", m.clip_id.tolist(), fc10.astype(np.float32))
        write_shard(dirs[branch] / "emb-fc1024.npz", m.clip_id.tolist(),
                    fc1024.astype(np.float32))
    return dirs


@pytest.mark.parametrize("variant", ["fusion_fn-f4_mod-av", "fusion_fn-f1_mod-av",
                                     "fusion_fn-f6_mod-v"])
def test_fusion_run_on_frozen_embeddings(tmp_path, variant):
    m = make_manifest(locations=8, segments=3)
    m.to_csv(tmp_path / "manifest.csv", index=False)
    dirs = write_embeddings(tmp_path, m, {"audio": 3.0, "visual": 0.5})
    hparams = {"val_fraction": 0.25, "mixup_alpha": 0.4, "schedule": schedule(15)}
    out = tmp_path / "fusion"
    metrics = tp.run_fusion(variant, tmp_path / "manifest.csv", dirs, hparams, 0, out)
    check_run_folder(out, metrics, 3)
    assert metrics["accuracy"] > 90
    config = (out / "config.yaml").read_text()
    assert variants.embedding_file(variant) in config
    assert ("aud_spec-mel" in config) == variant.endswith("av")

    again = tp.run_fusion(variant, tmp_path / "manifest.csv", dirs, hparams, 0,
                          tmp_path / "again")
    assert again == metrics  # deterministic for a seed, mixup draws included


def test_fusion_needs_every_branch_it_fuses(tmp_path):
    m = make_manifest()
    m.to_csv(tmp_path / "manifest.csv", index=False)
    dirs = write_embeddings(tmp_path, m, {"audio": 1.0, "visual": 1.0})
    del dirs["vis_bb-convnexttiny"]
    hparams = {"val_fraction": 0.25, "schedule": schedule(1)}
    with pytest.raises(ValueError, match="vis_bb-convnexttiny"):
        tp.run_fusion("fusion_fn-f4_mod-av", tmp_path / "manifest.csv", dirs, hparams, 0,
                      tmp_path / "out")
    # The audio-only system does not read the visual branches.
    metrics = tp.run_fusion("fusion_fn-f4_mod-a", tmp_path / "manifest.csv", dirs, hparams, 0,
                            tmp_path / "audio")
    assert metrics["variant"] == "fusion_fn-f4_mod-a"
    with pytest.raises(ValueError, match="not a phase-I branch"):
        tp.run_branch("fusion_fn-f4_mod-a", tmp_path / "manifest.csv", [], {}, hparams, 0,
                      tmp_path / "x")
