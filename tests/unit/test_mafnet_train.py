"""MAFnet runs: the variant grammar, the dropped visual update (MAFnet §3.6, §4.5 Figure 6),
a run folder end to end, and the Figure 7 embeddings."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from avrepro.features.store import WindowStore, read_windows, write_shard
from avrepro.models.mafnet import MAFnet
from avrepro.papers import load_metafile
from avrepro.train import mafnet
from avrepro.train.loop import Schedule, Split, fit

REPO = Path(__file__).resolve().parents[2]
FULL = "mafnet_fusion-concat_att-both_film-audio_drop-0.1"
# Small sizes; batch norm statistics that follow a few short epochs (the authors' decay,
# 0.999, is for hundreds of epochs of thousands of clips: the smoke tier's choice too).
SMALL = {"hidden": 16, "mcb_dim": 64, "bn_momentum": 0.1}


def test_variant_names_round_trip():
    v = mafnet.parse(FULL)
    assert (v.model, v.fusion, v.attention, v.film, v.drop) == ("mafnet", "concat", "both",
                                                                 "audio", 0.1)
    assert v.name == FULL
    assert mafnet.Variant("mafnet", "mcb", "both", "none", 0.25).name == (
        "mafnet_fusion-mcb_att-both_film-none_drop-0.25")
    assert mafnet.parse("mafnet_fusion-audio_att-temp_film-none_drop-0").drop == 0.0
    assert mafnet.parse("dmrn") == mafnet.Variant("dmrn")


def test_every_run_of_the_metafile_is_a_valid_variant():
    meta = load_metafile(REPO / "workflow" / "papers" / "mafnet.yaml")
    runs = {v for table in meta.tables.values() for v in table.variants()}
    assert {"attcluster", "dmrn", FULL} <= runs
    assert all(mafnet.parse(v).name == v for v in runs)


@pytest.mark.parametrize(("name", "message"), [
    ("mafnet_fusion-concat_att-both_film-audio_drop-0.10", "write it 'mafnet_fusion-concat_att"),
    ("mafnet_att-both_fusion-concat_film-audio_drop-0.1", "in this order"),
    ("mafnet_fusion-concat_att-both_film-audio", "keys"),
    ("mafnet_fusion-concat_att-both_film-audio_drop-1.5", r"not in \[0, 1\]"),
    ("mafnet_fusion-concat_att-both_film-audio_drop-x", "not a number"),
    ("mafnet_fusion-visual_att-temp_film-none_drop-0.1", "needs both paths"),
    ("mafnet_fusion-audio_att-both_film-none_drop-0", "one-path"),
    ("mafnet_fusion-sum_att-both_film-audio_drop-0.1", "fusion 'sum'"),
    ("attcluster_units-8", "takes no options"),
    ("tsn", "unknown model"),
])
def test_bad_variant_names_are_refused_with_the_reason(name, message):
    with pytest.raises(ValueError, match=message):
        mafnet.parse(name)


def data(n, t=3, classes=3, seed=0, full=False):
    """Separable toy clips: the label shifts one audio and one visual channel."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    audio = rng.normal(size=(n, t, 8, 2, 2)).astype(np.float32)
    visual = rng.normal(size=(n, t, 12, 3, 3)).astype(np.float32)
    audio[:, :, 0] += 3 * labels[:, None, None, None]
    visual[:, :, 0] += 3 * labels[:, None, None, None]
    lengths = np.full(n, t) if full else rng.integers(1, t + 1, n)
    padding = np.arange(t)[None, :] >= lengths[:, None]
    audio[padding], visual[padding] = 0, 0
    ids = np.array([f"v{seed}_{i:03d}" for i in range(n)])
    return mafnet.Clips(ids, audio, visual, lengths, labels)


def fit_drop(rate, tmp_path, epochs=2):
    torch.manual_seed(0)
    model = MAFnet(3, visual_dim=12, audio_dim=8, **SMALL)
    initial = {k: v.clone() for k, v in model.named_parameters()}
    split = data(24, full=True).split(model.needs_maps)
    fit(model, split, split, split, Schedule(epochs=epochs, batch_size=8, lr=1e-2), seed=0,
        checkpoint=tmp_path / "checkpoint.pt", device=torch.device("cpu"), fingerprint="f",
        train_step=mafnet.drop_visual_step(rate))
    changed = {k: not torch.equal(v, initial[k]) for k, v in model.named_parameters()}
    return model, changed


def test_with_rate_one_the_visual_path_never_moves_and_the_rest_learns(tmp_path):
    _, changed = fit_drop(1.0, tmp_path)
    visual = [k for k in changed if k.startswith("visual.")]
    others = [k for k in changed if not k.startswith("visual.")]
    assert visual and not any(changed[k] for k in visual)
    assert all(changed[k] for k in others), [k for k in others if not changed[k]]
    # The FiLM generator conditions the audio path and is trained with it.
    assert changed["audio.film.dense.weight"]


def test_with_rate_zero_the_visual_path_learns_too(tmp_path):
    model, changed = fit_drop(0.0, tmp_path)
    assert all(changed.values())
    assert all(p.requires_grad for p in model.parameters())  # nothing left frozen


def test_dropped_batches_leave_visual_gradients_none_at_the_rate_asked():
    torch.manual_seed(0)
    model = MAFnet(3, visual_dim=12, audio_dim=8, **SMALL)
    (audio, visual), labels = next(data(8, full=True).split(model.needs_maps).batches(8))
    step = mafnet.drop_visual_step(0.3)
    generator = torch.Generator().manual_seed(5)
    dropped = []
    for _ in range(200):
        model.zero_grad(set_to_none=True)
        loss, _ = step(model, (audio, visual), labels, generator)
        loss.backward()
        grads = [p.grad for p in model.visual.parameters()]
        assert all(g is None for g in grads) or all(g is not None for g in grads)
        dropped.append(grads[0] is None)
        assert model.audio.dense.weight.grad is not None
    assert 0.2 < np.mean(dropped) < 0.4
    # The same generator state drops the same batches (resumed runs replay them).
    replay = torch.Generator().manual_seed(5)
    expected = [torch.rand((), generator=replay).item() < 0.3 for _ in range(200)]
    assert dropped == expected


def hparams(epochs=20):
    return {"schedule": {"epochs": epochs, "batch_size": 8, "lr": 1e-2},
            "model": {}}


@pytest.mark.parametrize(("variant", "model_kwargs"), [
    (FULL, SMALL),
    ("mafnet_fusion-concat_att-both_film-visual_drop-0", SMALL),
    ("attcluster", {"units": 2}),
    ("dmrn", {"lstm_hidden": 8, "attention_hidden": 8}),
])
def test_run_writes_a_complete_run_folder(tmp_path, variant, model_kwargs):
    splits = {"train": data(48, seed=0), "val": data(12, seed=1), "test": data(15, seed=2)}
    params = hparams() | {"model": model_kwargs}
    out = tmp_path / "run"
    metrics = mafnet.run(variant, "ave", splits, 3, params, seed=0, out_dir=out)
    assert metrics["accuracy"] > 70, metrics  # separable by construction; chance is 33
    assert metrics["clips"] == {"train": 48, "val": 12, "test": 15}
    assert metrics["dataset"] == "ave" and metrics["variant"] == variant
    assert json.loads((out / "metrics.json").read_text()) == metrics
    for name in ("history.csv", "predictions.parquet", "model.pt", "config.yaml"):
        assert (out / name).is_file(), name
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert list(predictions.clip_id) == list(splits["test"].clip_ids)
    assert 100 * (predictions.prediction == predictions.label_index).mean() == pytest.approx(
        metrics["accuracy"])
    # model.pt rebuilds the model of the best epoch.
    model = mafnet.load_model(out / "model.pt")
    test = splits["test"].split(model.needs_maps)
    inputs, _ = next(test.batches(len(test)))  # the whole split, in order
    with torch.no_grad():
        again = model(*inputs).argmax(1).numpy()
    np.testing.assert_array_equal(again, predictions.prediction.to_numpy())


def test_run_refuses_windows_past_the_length_that_are_not_zero(tmp_path):
    splits = {"train": data(12, seed=0), "val": data(6, seed=1), "test": data(6, seed=2)}
    clips = splits["val"]
    short = int(np.argmax(clips.lengths < 3))
    assert clips.lengths[short] < 3
    clips.visual[short, -1] = 1.0
    with pytest.raises(ValueError, match="val: visual windows past a video's length"):
        mafnet.run(FULL, "ave", splits, 3, hparams(1), 0, tmp_path)
    assert not (tmp_path / "metrics.json").exists()


def test_clips_check_names_the_split_and_array():
    clips = data(6)
    clips.labels = clips.labels[:5]
    with pytest.raises(ValueError, match="test: labels has 5 rows for 6 clip ids"):
        clips.check("test")
    clips = data(6)
    clips.audio = clips.audio[:, :2]
    with pytest.raises(ValueError, match="train: audio has 2 windows, visual 3"):
        clips.check("train")


def test_unneeded_maps_are_pooled_before_training_and_needed_ones_read_per_batch(monkeypatch):
    monkeypatch.setattr(mafnet, "CHUNK", 3)  # pooled a chunk at a time
    clips = data(8)
    split = clips.split({"audio": True, "visual": False})
    assert split.inputs[0].shape == (8, 3, 8, 2, 2) and split.inputs[1].shape == (8, 3, 12)
    assert isinstance(split.inputs[0], mafnet.Windows)
    assert np.array_equal(split.inputs[1].numpy(), clips.visual.mean((-2, -1), dtype=np.float32))
    (audio, visual), labels = next(split.batches(3, torch.Generator().manual_seed(0)))
    order = torch.randperm(8, generator=torch.Generator().manual_seed(0))[:3].numpy()
    assert audio.dtype == torch.float32 and np.array_equal(audio.numpy(), clips.audio[order])
    assert np.array_equal(visual.numpy(), split.inputs[1].numpy()[order])
    assert isinstance(split, Split)


def test_film_embeddings_of_every_valid_window(tmp_path):
    splits = {"train": data(24, seed=0), "val": data(6, seed=1), "test": data(9, seed=2)}
    mafnet.run(FULL, "ave", splits, 3, hparams(2) | {"model": SMALL}, 0, tmp_path)
    model = mafnet.load_model(tmp_path / "model.pt")
    test = splits["test"]
    before, after, labels = mafnet.film_embeddings(model, test, batch_size=4)
    m = int(test.lengths.sum())
    assert before.shape == after.shape == (m, 16) and labels.shape == (m,)
    assert list(labels[: test.lengths[0]]) == [test.labels[0]] * int(test.lengths[0])
    assert not np.allclose(before, after)


def write_window_stores(tmp_path, ids, audio_n, visual_n, t=3):
    audio = np.zeros((len(ids), t, 4, 2, 2), np.float16)
    visual = np.zeros((len(ids), t, 5, 2, 2), np.float16)
    for i, (a, v) in enumerate(zip(audio_n, visual_n, strict=True)):
        audio[i, :a], visual[i, :v] = 1, 2
    write_shard(tmp_path / "audio.npz", ids, audio, n_valid=np.array(audio_n))
    write_shard(tmp_path / "visual.npz", ids, visual, n_valid=np.array(visual_n))


def write_media_indexes(tmp_path, ids, broken):
    statuses = ["error" if i in broken else "ok" for i in ids]
    pd.DataFrame({"clip_id": ids, "audio_status": statuses}).to_csv(tmp_path / "a.csv")
    pd.DataFrame({"clip_id": ids, "frames_status": "ok"}).to_csv(tmp_path / "f.csv")
    return {"audio": [tmp_path / "a.csv"], "frames": [tmp_path / "f.csv"]}


def test_load_clips_holds_out_validation_where_the_dataset_has_none(tmp_path):
    from manifests import toy_manifest

    from avrepro.data.manifest import write_manifest

    rows = toy_manifest(n_per_class=13)  # 39 clips; c0_01 corrupt, c0_09 without audio
    write_manifest(rows, tmp_path / "m.csv")
    ids = rows.clip_id.tolist()
    audio_n = [3 if i % 2 else 2 for i in range(len(ids))]  # the longer modality counts
    write_window_stores(tmp_path, ids, audio_n, [3 - (i % 2) for i in range(len(ids))])
    media = write_media_indexes(tmp_path, ids, broken={"c2_12"})

    clips = mafnet.load_clips(tmp_path / "m.csv", [tmp_path / "audio.npz"],
                              [tmp_path / "visual.npz"], media, val_fraction=0.2)
    used = {c for split in clips.values() for c in split.clip_ids}
    assert used == set(ids) - {"c0_01", "c0_09", "c2_12"}
    assert len(clips["test"].clip_ids) == 8  # 3 per class, less the corrupt c0_01
    assert set(clips["val"].clip_ids) <= set(rows.clip_id[rows.split == "train"])
    assert len(clips["val"].clip_ids) in (6, 7)
    for split in clips.values():
        split.check("any")  # zeros past every clip's length
        assert (split.lengths == 3).all()  # max(3, 2) or max(2, 3)
    assert clips["train"].visual.dtype == np.float16  # float32 only when split for the loop
    assert isinstance(clips["train"].visual, WindowStore)  # left in the shards


def test_load_clips_keeps_a_datasets_own_validation_split(tmp_path):
    from manifests import toy_manifest

    from avrepro.data.manifest import write_manifest

    rows = toy_manifest(n_per_class=10)
    rows.loc[rows.clip_id.str.endswith("_05"), "split"] = "val"  # as AVE's valSet.txt
    write_manifest(rows, tmp_path / "m.csv")
    ids = rows.clip_id.tolist()
    write_window_stores(tmp_path, ids, [3] * len(ids), [3] * len(ids))
    media = write_media_indexes(tmp_path, ids, broken=set())
    clips = mafnet.load_clips(tmp_path / "m.csv", [tmp_path / "audio.npz"],
                              [tmp_path / "visual.npz"], media, val_fraction=0.2)
    assert sorted(clips["val"].clip_ids) == ["c0_05", "c1_05", "c2_05"]


def write_toy_dataset(tmp_path, t=4):
    """A toy dataset on disk: manifest, media indexes, and audio and visual window stores of
    separable maps, each store in two shards with its own order of the clips."""
    from manifests import toy_manifest

    from avrepro.data.manifest import write_manifest

    rows = toy_manifest(n_per_class=14)
    rows.loc[rows.clip_id.str.endswith(("_04", "_05")), "split"] = "val"
    write_manifest(rows, tmp_path / "m.csv")
    ids = rows.clip_id.to_numpy()
    media = write_media_indexes(tmp_path, list(ids), broken={"c2_12"})
    toy = data(len(ids), t=t, seed=3)
    labels = rows.label_index.to_numpy()
    rng = np.random.default_rng(1)
    shards = {}
    for key, maps in (("audio", toy.audio), ("visual", toy.visual)):
        maps = maps.astype(np.float16)  # as the extractors store them
        maps[:, :, 1] += 3 * labels[:, None, None, None]  # the manifest's class, not toy's
        maps[np.arange(t)[None, :] >= toy.lengths[:, None]] = 0
        n_valid = toy.lengths if key == "visual" else np.minimum(toy.lengths, 2)
        order = rng.permutation(len(ids))
        shards[key] = [tmp_path / f"{key}-{i}.npz" for i in range(2)]
        for path, part in zip(shards[key], np.array_split(order, [len(ids) // 3]), strict=True):
            write_shard(path, ids[part], maps[part], n_valid=n_valid[part])
    return tmp_path / "m.csv", shards, media


def in_memory(splits: dict) -> dict:
    """The splits with their maps read whole from the stores, as load_clips read them
    before it streamed them (read_windows, then rows by clip id)."""
    out = {}
    for name, clips in splits.items():
        maps = {}
        for key in ("audio", "visual"):
            store = getattr(clips, key)
            paths = [Path(a.filename) for a in store.features]
            ids, whole, _ = read_windows(paths)
            position = {c: i for i, c in enumerate(ids)}
            maps[key] = whole[[position[c] for c in clips.clip_ids]]
        out[name] = mafnet.Clips(clips.clip_ids, maps["audio"], maps["visual"], clips.lengths,
                                 clips.labels)
    return out


@pytest.mark.parametrize(("variant", "model_kwargs"), [
    (FULL, SMALL),  # both paths' maps read per batch, the visual update dropped at random
    ("dmrn", {"lstm_hidden": 8, "attention_hidden": 8}),  # visual maps, pooled audio
])
def test_runs_streamed_from_the_shards_equal_runs_on_the_whole_arrays(
        tmp_path, monkeypatch, variant, model_kwargs):
    monkeypatch.setattr(mafnet, "CHUNK", 5)  # checks and pooling over several chunks
    manifest, shards, media = write_toy_dataset(tmp_path)
    streamed = mafnet.load_clips(manifest, shards["audio"], shards["visual"], media, 0.1)
    assert isinstance(streamed["train"].audio, WindowStore)
    whole = in_memory(streamed)
    assert isinstance(whole["train"].audio, np.ndarray)
    params = hparams(3) | {"model": model_kwargs}
    params["schedule"]["batch_size"] = 7  # batch norm needs two clips in the last batch
    sources = [*shards["audio"], *shards["visual"]]
    a = mafnet.run(variant, "ave", streamed, 3, params, seed=1, out_dir=tmp_path / "a",
                   sources=sources)
    b = mafnet.run(variant, "ave", whole, 3, params, seed=1, out_dir=tmp_path / "b",
                   sources=sources)
    assert a == b and a["clips"] == {"train": 25, "val": 6, "test": 8}
    assert (tmp_path / "a" / "history.csv").read_text() == (
        tmp_path / "b" / "history.csv").read_text()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "predictions.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "predictions.parquet"))
    state_a = torch.load(tmp_path / "a" / "model.pt", weights_only=False)["state"]
    state_b = torch.load(tmp_path / "b" / "model.pt", weights_only=False)["state"]
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    if variant == FULL:  # Figure 7's embeddings, streamed too
        model = mafnet.load_model(tmp_path / "a" / "model.pt")
        for x, y in zip(mafnet.film_embeddings(model, streamed["test"], batch_size=3),
                        mafnet.film_embeddings(model, whole["test"], batch_size=3), strict=True):
            np.testing.assert_array_equal(x, y)


def test_streamed_clips_are_checked_chunk_by_chunk(tmp_path, monkeypatch):
    from manifests import toy_manifest

    from avrepro.data.manifest import write_manifest

    monkeypatch.setattr(mafnet, "CHUNK", 4)
    rows = toy_manifest(n_per_class=10)
    rows.loc[rows.clip_id.str.endswith("_04"), "split"] = "val"  # no holdout drawn
    write_manifest(rows, tmp_path / "m.csv")
    ids = rows.clip_id.tolist()
    write_window_stores(tmp_path, ids, [3] * 30, [2] * 30, t=4)  # lengths 3 of 4 windows
    # c2_09, the last training clip, has a visual window past its length that is not zeros,
    # in its store's shard on disk.
    with np.load(tmp_path / "visual.npz") as stored:
        visual = stored["features"].copy()
    visual[ids.index("c2_09"), 3] = 1
    write_shard(tmp_path / "visual.npz", ids, visual, n_valid=np.full(30, 2))
    clips = mafnet.load_clips(tmp_path / "m.csv", [tmp_path / "audio.npz"],
                              [tmp_path / "visual.npz"], write_media_indexes(tmp_path, ids, set()),
                              val_fraction=0.2)
    clips["test"].check("test")
    assert clips["train"].clip_ids[-1] == "c2_09" and len(clips["train"].clip_ids) > 4
    with pytest.raises(ValueError, match="train: visual windows past a video's length"):
        clips["train"].check("train")
