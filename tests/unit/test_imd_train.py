"""IMD's training data (avrepro.train.imd_data) and run (avrepro.train.imd), on tiny stores
and a tiny network (image 32, patch 8, width 32, depth 3)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from avrepro.data.audioset import read_audioset_labels
from avrepro.media.frame_store import write_frames
from avrepro.savld import read_dictionary
from avrepro.train import imd as T
from avrepro.train import imd_data as I
from avrepro.train.run_folder import read_probs

CLASSES, TRAIN, TEST = 4, 8, 2
STORED, SIZE, FRAMES, WIDTH = 6, 40, 4, 16  # stored frames a clip, their side; sampled; AST dim
IRRELEVANT = 40  # the AudioSet label group (3 labels from 120) of irrelevant sounds
CLIP = {"frames": FRAMES, "stride": 1, "input_size": 32, "jitter": [40, 50], "test_scale": 40,
            "test_clips": 4, "test_crops": 3}
NETWORK = {"dim": 32, "depth": 3, "heads": 2, "patch": 8, "mlp_ratio": 2.0, "dropout": 0.0,
           "drop_path": 0.0}
IMD_VARIANT = "imd_mod-audio.rgb.flow_fus-imd_ov-iou_k-3_ya-3_a-0.25_m-mask_aug-0_size-b_init-in21k"


def audio_labels(fixtures_dir) -> list[str]:
    return read_audioset_labels(fixtures_dir / "labels" / "audioset_labels.csv")


def make_set(tmp_path, fixtures_dir, seed=0):
    """Manifest, frames, flow and AST shards and a SAVLD dictionary of a learnable set: a
    tint and a vertical motion per class; class k's sound is AudioSet labels 3k ... 3k + 2,
    which the dictionary names for it, but clips i % 4 == 1 sound like labels 120-122
    (`irrelevant`, in plan.csv) and clips i % 4 == 3 have no audio. Clip c0_00 has 2 real
    frames, c1_00 a single one (no flow field)."""
    names = audio_labels(fixtures_dir)
    rows = [{"clip_id": f"c{k}_{i:02d}", "path": f"v/{k}_{i}.mp4", "label": f"class{k}",
             "label_index": k, "split": "train" if i < TRAIN else "test", "duration": 3.0,
             "has_audio": i % 4 != 3, "status": "ok", "reason": ""}
            for k in range(CLASSES) for i in range(TRAIN + TEST)]
    m = pd.DataFrame(rows)
    m.to_csv(tmp_path / "manifest.csv", index=False)
    pd.DataFrame({"clip_id": m.clip_id, "frames_status": "ok"}).to_csv(
        tmp_path / "frames.csv", index=False)
    m["irrelevant"] = [i % 4 == 1 for k in range(CLASSES) for i in range(TRAIN + TEST)]
    m[["clip_id", "irrelevant"]].to_csv(tmp_path / "plan.csv", index=False)
    rng = np.random.default_rng(seed)
    n = len(m)
    n_valid = np.where(m.clip_id == "c0_00", 2, np.where(m.clip_id == "c1_00", 1, STORED))
    frames = np.zeros((n, STORED, SIZE, SIZE, 3), np.uint8)
    flow = np.zeros((n, STORED - 1, SIZE, SIZE, 2), np.uint8)
    tints = 60 * np.array([[1, 0, -1], [-1, 1, 0], [0, -1, 1], [1, 1, -1]])
    for j, k in enumerate(m.label_index):
        for t in range(n_valid[j]):
            frames[j, t] = np.clip(128 + tints[k] + rng.normal(0, 20, (SIZE, SIZE, 3)), 0, 255)
        for t in range(n_valid[j] - 1):
            flow[j, t, ..., 0] = np.clip(rng.normal(128, 8, (SIZE, SIZE)), 0, 255)
            flow[j, t, ..., 1] = 128 + 30 * (k - 1.5)
    ids = m.clip_id.to_numpy(dtype=str)
    half = n // 2  # two shards each
    for s, part in enumerate((slice(0, half), slice(half, n))):
        write_frames(tmp_path / f"frames-{s}.npz", "fps", ids[part], frames[part], n_valid[part])
        np.savez(tmp_path / f"flow-{s}.npz", clip_id=ids[part], flow=flow[part],
                 n_valid=n_valid[part] - 1)
    has_audio = m.has_audio.to_numpy()
    sound = np.where(m.irrelevant, IRRELEVANT, m.label_index)  # the label group it sounds like
    probs = rng.uniform(0, 0.1, (n, len(names))).astype(np.float32)
    embedding = rng.normal(0, 0.1, (n, WIDTH)).astype(np.float32)
    for j in range(n):
        probs[j, 3 * sound[j] : 3 * sound[j] + 3] = 0.9
        embedding[j, sound[j] % WIDTH] += 3
    probs[~has_audio], embedding[~has_audio] = 0, 0
    order = rng.permutation(n)  # the AST store's own clip order
    np.savez(tmp_path / "ast-0.npz", clip_id=ids[order], embedding=embedding[order],
             probs=probs[order], has_audio=has_audio[order])
    dictionary = [{"video_label": f"class{k}", "rank": r + 1, "audio_label": names[3 * k + r],
                   "distance": f"{0.1 * (r + 1):.6f}"} for k in range(CLASSES) for r in range(5)]
    pd.DataFrame(dictionary).to_csv(tmp_path / "savld.csv", index=False)
    return m


def hparams(epochs=3, **overrides):
    return {"clip": CLIP, "sizes": {"b": NETWORK}, "val_fraction": 0.0,
            "schedule": {"epochs": epochs, "batch_size": 8, "lr": 0.05, "lr_steps": [2],
                         "momentum": 0.9, "weight_decay": 1e-4}, **overrides}


def spec(tmp_path, fixtures_dir, variant=IMD_VARIANT, out="run", **kwargs) -> dict:
    return {"variant": variant, "manifest_path": str(tmp_path / "manifest.csv"),
            "frames_index": [str(tmp_path / "frames.csv")],
            "frames": [str(tmp_path / f"frames-{s}.npz") for s in (0, 1)],
            "flow": [str(tmp_path / f"flow-{s}.npz") for s in (0, 1)],
            "ast": [str(tmp_path / "ast-0.npz")], "dictionary": str(tmp_path / "savld.csv"),
            "audio_labels": str(fixtures_dir / "labels" / "audioset_labels.csv"),
            "plan": str(tmp_path / "plan.csv"), "hparams": hparams(), "seed": 0,
            "out_dir": str(tmp_path / out)} | kwargs


# ---------------------------------------------------------------------------------------
# Relevance target.


def test_overlaps_are_iou_or_dice():
    assert I.set_overlap({"a", "b"}, {"a", "c"}, "iou") == pytest.approx(1 / 3)
    assert I.set_overlap({"a", "b"}, {"a", "c"}, "dice") == pytest.approx(1 / 2)
    assert I.set_overlap({"a", "b"}, {"a", "c", "d"}, "iou") == pytest.approx(1 / 4)
    assert I.set_overlap({"a", "b"}, {"a", "c", "d"}, "dice") == pytest.approx(2 / 5)
    assert I.set_overlap(set(), {"a"}, "iou") == 0
    with pytest.raises(ValueError, match="overlap"):
        I.set_overlap({"a"}, {"a"}, "jaccard")


def test_targets_are_min_max_scaled_over_the_training_clips():
    overlaps = np.array([0.05, 0.15, 0.10, 0.30, 0.0], np.float32)
    fit = np.array([True, True, True, False, False])  # the last two: test clips
    np.testing.assert_allclose(I.normalise_targets(overlaps, fit), [0, 1, 0.5, 1, 0], atol=1e-6)
    assert not I.normalise_targets(np.full(3, 0.2), np.ones(3, bool)).any()  # no spread


def test_relevance_target_takes_ast_top_labels_and_the_dictionary_first_k():
    names = ["a", "b", "c", "d", "e"]
    probs = np.array([[0.9, 0.8, 0.1, 0.0, 0.7],
                      [0.0, 0.1, 0.2, 0.9, 0.8]], np.float32)
    dictionary = {"x": ["a", "c", "d"], "y": ["d", "e", "a"]}
    target = I.relevance_target(probs, ["x", "y"], dictionary, 2, 2, "iou", audio_labels=names)
    # x: A = {a, b}, B = {a, c}: 1/3; y: A = {d, e}, B = {d, e}: 1.
    np.testing.assert_allclose(target, [1 / 3, 1], rtol=1e-6)
    assert target.dtype == np.float32
    with pytest.raises(ValueError, match="no row for video labels"):
        I.relevance_target(probs, ["x", "z"], dictionary, 2, 2, "iou", audio_labels=names)


# ---------------------------------------------------------------------------------------
# Sampling and crops.


def test_frames_repeat_the_last_real_one_and_starts_stay_inside():
    s = I.Sampling(frames=4, stride=2)
    np.testing.assert_array_equal(I.frame_indices(10, s, 1), [1, 3, 5, 7])
    np.testing.assert_array_equal(I.frame_indices(4, s, 0), [0, 2, 3, 3])
    rng = np.random.default_rng(0)
    starts = {I.train_start(10, s, rng) for _ in range(200)}
    assert starts == {0, 1, 2, 3}  # the clip's 7 frames fit at starts 0 ... 3
    assert I.train_start(3, s, rng) == 0
    assert I.test_starts(10, s, 4) == [0, 0, 1, 2]  # SlowFast: free * i / clips
    assert I.test_starts(10, s, 1) == [1]


def test_training_crops_follow_the_scale_jitter():
    s = I.Sampling(input_size=224, jitter=(256, 320))
    rng = np.random.default_rng(0)
    boxes = [I.train_box(256, 256, s, rng) for _ in range(300)]
    sides = {side for _, _, side in boxes}
    assert min(sides) == round(224 * 256 / 320) and max(sides) == 224
    assert all(0 <= top <= 256 - side and 0 <= left <= 256 - side for top, left, side in boxes)


def test_test_crops_span_the_longer_side():
    s = I.Sampling(input_size=224, test_scale=256)
    assert I.test_boxes(256, 256, s, 3) == [(16, 0, 224), (16, 16, 224), (16, 32, 224)]
    assert I.test_boxes(300, 256, s, 3) == [(0, 16, 224), (38, 16, 224), (76, 16, 224)]
    assert I.test_boxes(256, 340, s, 1) == [(16, 58, 224)]
    s = I.Sampling(input_size=224, test_scale=224)  # short side to 224: the crop is all of it
    assert I.test_boxes(256, 256, s, 3) == [(0, 0, 256)] * 3


def test_flip_negates_x_flow_only():
    x = torch.arange(2 * 2 * 3, dtype=torch.float32).view(1, 2, 2, 3)  # (T, C, H, W)
    flipped = I.flip(x.clone(), "flow")
    assert torch.equal(flipped[:, 0], -x[:, 0].flip(-1))
    assert torch.equal(flipped[:, 1], x[:, 1].flip(-1))
    assert torch.equal(I.flip(x.clone(), "rgb"), x.flip(-1))


# ---------------------------------------------------------------------------------------
# The dataset.


def _clips(tmp_path, fixtures_dir, variant=IMD_VARIANT, cross_modal=False):
    m = make_set(tmp_path, fixtures_dir)
    s = spec(tmp_path, fixtures_dir)
    v = T.parse(variant)
    rows = T.read_clips(T.read_manifest(tmp_path / "manifest.csv"), s["frames_index"],
                        [s["frames"], s["flow"], s["ast"]])
    clips = T.build_clips(rows, v, I.Sampling(**{**CLIP, "jitter": (40, 50)}),
                          s["frames"], s["flow"], s["ast"],
                          read_dictionary(s["dictionary"], 3), audio_labels(fixtures_dir),
                          (rows.split == "train").to_numpy(), cross_modal)
    return m, rows, clips


def test_training_samples_are_cropped_normalised_and_replayable(tmp_path, fixtures_dir):
    _, rows, clips = _clips(tmp_path, fixtures_dir)
    i = rows.index[rows.clip_id == "c2_04"][0]
    sample = clips[(i, 123)]
    assert sample["rgb"].shape == (FRAMES, 3, 32, 32) and sample["rgb"].dtype == torch.float32
    assert sample["flow"].shape == (FRAMES, 2, 32, 32)
    assert sample["audio"].shape == (WIDTH,) and int(sample["label"]) == 2
    assert sample["rgb"].abs().max() <= 1 and sample["flow"].abs().max() <= 1
    # Class 2 moves at 128 + 15 quantised steps in y: +15/127.5 of the bound, mirrored or not.
    assert float(sample["flow"][:, 1].mean()) == pytest.approx(15 / 127.5, abs=0.01)
    again = clips[(i, 123)]
    assert all(torch.equal(sample[k], again[k]) for k in sample)
    assert not torch.equal(clips[(i, 124)]["rgb"], sample["rgb"])
    # Relevant sound: AST's top 3 are the dictionary's 3; irrelevant: none of them.
    assert float(sample["target"]) == 1
    assert float(clips[(i + 1, 0)]["target"]) == 0  # c2_05: irrelevant
    silent = clips[(i + 3, 0)]  # c2_07: no audio
    assert float(silent["target"]) == 0 and not silent["audio"].any()


def test_short_clips_repeat_their_last_frame_and_a_single_frame_has_no_motion(
        tmp_path, fixtures_dir):
    _, rows, clips = _clips(tmp_path, fixtures_dir)
    short = rows.index[rows.clip_id == "c0_00"][0]
    sample = clips[(short, 0)]
    assert torch.equal(sample["rgb"][1], sample["rgb"][3])  # frames 1, 1, 1 after frame 0
    still = clips[(rows.index[rows.clip_id == "c1_00"][0], 0)]
    assert not still["flow"].any()


def test_views_are_four_clips_by_three_crops(tmp_path, fixtures_dir):
    _, rows, clips = _clips(tmp_path, fixtures_dir)
    i = rows.index[rows.clip_id == "c3_09"][0]
    views = clips.views(i)
    assert views["rgb"].shape == (12, FRAMES, 3, 32, 32)
    assert views["flow"].shape == (12, FRAMES, 2, 32, 32)
    assert views["audio"].shape == (WIDTH,)
    assert not torch.equal(views["rgb"][0], views["rgb"][2])  # left and right crops differ
    assert clips.views(i, 1, 1)["rgb"].shape == (1, FRAMES, 3, 32, 32)


def test_cross_modal_augmentation_draws_audio_of_the_same_class(tmp_path, fixtures_dir):
    _, rows, clips = _clips(tmp_path, fixtures_dir, cross_modal=True)
    i = rows.index[rows.clip_id == "c1_03"][0]  # has no audio of its own
    drawn = {int(clips[(i, s)]["audio"].argmax()) for s in range(40)}
    # Class 1's training clips with audio: relevant ones (dimension 1) and irrelevant ones
    # (dimension 40 % 16 = 8); never a silent one.
    assert drawn == {1, IRRELEVANT % WIDTH}
    pool = clips.partners[1]
    assert set(rows.clip_id.to_numpy()[pool]) == {"c1_00", "c1_01", "c1_02", "c1_04",
                                                   "c1_05", "c1_06"}
    assert not clips.views(i)["audio"].any()  # tests keep the clip's own audio


# ---------------------------------------------------------------------------------------
# The run.


def test_run_writes_its_folder_and_relevance_scores(tmp_path, fixtures_dir):
    m = make_set(tmp_path, fixtures_dir)
    s = spec(tmp_path, fixtures_dir)
    metrics = T.run_imd(**s)
    out = tmp_path / "run"
    assert json.loads((out / "metrics.json").read_text()) == metrics
    for name in ("history.csv", "predictions.parquet", "model.pt", "config.yaml",
                 "relevance.parquet", "checkpoint.pt"):
        assert (out / name).is_file(), name
    assert metrics["clips"] == {"train": CLASSES * TRAIN, "val": 0, "test": CLASSES * TEST,
                                "listed": len(m), "unusable": 0}
    assert metrics["epoch"] == 2 and metrics["world_size"] == 1
    assert set(metrics) >= {"accuracy", "top5", "per_class", "confusion", "audio_kept"}
    probs = read_probs(pd.read_parquet(out / "predictions.parquet"))
    assert probs.shape == (CLASSES * TEST, CLASSES)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    table = pd.read_parquet(out / "relevance.parquet")
    assert list(table.columns) == ["clip_id", "label", "relevance", "target", "has_audio",
                                   "irrelevant"]
    assert len(table) == CLASSES * TEST and table.relevance.between(0, 1).all()
    # Test clips: _08 sounds like its class, _09 like labels far from every class.
    assert (table.irrelevant == table.clip_id.str.endswith("_09")).all() and table.has_audio.all()
    np.testing.assert_allclose(table.target, np.where(table.irrelevant, 0, 1))
    history = pd.read_csv(out / "history.csv")
    assert list(history.epoch) == [0, 1, 2]
    saved = torch.load(out / "model.pt", weights_only=False)
    assert saved["config"]["dim"] == 32 and saved["epoch"] == 2


def test_visual_only_runs_hold_out_a_validation_set_and_score_no_relevance(
        tmp_path, fixtures_dir):
    make_set(tmp_path, fixtures_dir)
    s = spec(tmp_path, fixtures_dir, "imd_mod-rgb.flow_size-b_init-in21k", dictionary=None,
             audio_labels=None, ast=[], hparams=hparams(epochs=2, val_fraction=0.25))
    metrics = T.run_imd(**s)
    out = tmp_path / "run"
    assert "audio_kept" not in metrics
    table = pd.read_parquet(out / "relevance.parquet")
    assert table.relevance.isna().all() and not table.has_audio.any()
    assert metrics["clips"]["val"] == CLASSES * 2 and metrics["clips"]["train"] == CLASSES * 6
    assert "val_acc" in pd.read_csv(out / "history.csv").columns
    assert 0 <= metrics["val_accuracy"] <= 100


def test_resumed_run_ends_as_an_uninterrupted_one(tmp_path, fixtures_dir, monkeypatch):
    make_set(tmp_path, fixtures_dir)
    whole = T.run_imd(**spec(tmp_path, fixtures_dir, out="whole"))
    epochs = []
    real = T.train_epoch

    def dying(*args, **kwargs):
        epochs.append(args[5])
        if len(epochs) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(T, "train_epoch", dying)
    with pytest.raises(KeyboardInterrupt):
        T.run_imd(**spec(tmp_path, fixtures_dir, out="resumed", checkpoint_interval_s=0))
    monkeypatch.setattr(T, "train_epoch", real)
    resumed = T.run_imd(**spec(tmp_path, fixtures_dir, out="resumed"))
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=False)["state"]
    b = torch.load(tmp_path / "resumed" / "model.pt", weights_only=False)["state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["accuracy"] == whole["accuracy"]


def test_kinetics_initialisation_loads_the_visual_streams_only(tmp_path, fixtures_dir):
    make_set(tmp_path, fixtures_dir)
    T.run_imd(**spec(tmp_path, fixtures_dir, hparams=hparams(epochs=1)))
    pretrained = torch.load(tmp_path / "run" / "model.pt", weights_only=False)["state"]
    variant = IMD_VARIANT.replace("init-in21k", "init-kinetics400")
    v = T.parse(variant)
    cfg = T.model_config(v, hparams(), CLASSES, WIDTH)
    torch.manual_seed(1)
    net = T.IMDNet(cfg)
    assert "kinetics400 run" in T.initialise(net, v, tmp_path / "run" / "model.pt")
    state = net.state_dict()
    assert all(torch.equal(state[k], pretrained[k]) for k in state
               if k.startswith(("streams.", "visual_fusion.")))
    assert not torch.equal(state["head.1.0.weight"], pretrained["head.1.0.weight"])


def test_audio_only_runs_need_no_frames_and_stores_must_hold_every_clip(tmp_path, fixtures_dir):
    make_set(tmp_path, fixtures_dir)
    s = spec(tmp_path, fixtures_dir, "imd_mod-audio_size-b_init-in21k", frames=[], flow=[],
             dictionary=None, audio_labels=None, hparams=hparams(epochs=1))
    assert T.run_imd(**s)["clips"]["test"] == CLASSES * TEST
    s = spec(tmp_path, fixtures_dir, flow=[str(tmp_path / "flow-0.npz")], out="half")
    with pytest.raises(ValueError, match="not in .*flow-0.npz"):
        T.run_imd(**s)
