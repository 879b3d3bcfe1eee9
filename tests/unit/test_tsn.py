"""TSN streams (Lee et al. §3.2 fine-tune TSN "identical to TSN"): the network, its
training recipe on stored clips, the run folder and per-frame features."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from avrepro.features.bninception import BNInception
from avrepro.features.store import read_windows
from avrepro.features.weights import WeightsMismatchError, read_state_dict
from avrepro.media.frame_store import write_frames
from avrepro.models.maivar import MLP
from avrepro.models.tsn import TSN, cross_modality
from avrepro.train import tsn as T
from avrepro.train.loop import Schedule, Split, fit
from avrepro.train.run_folder import read_probs

# --- the network ---------------------------------------------------------------------


@pytest.mark.parametrize(("modality", "new_length", "channels"), [("rgb", 1, 3), ("flow", 5, 10)])
def test_snippets_to_consensus_scores_and_frames_to_features(modality, new_length, channels):
    torch.manual_seed(0)
    model = TSN(7, modality, new_length).eval()
    x = torch.randn(2, 3, channels, 32, 32)  # 2 clips, 3 segments
    with torch.no_grad():
        scores = model(x)
        snippet_scores = model.snippet_scores(x.flatten(0, 1))
        features = model.features(x[:, 0])
    assert scores.shape == (2, 7) and features.shape == (2, 1024)
    # Segment consensus: the average of the snippets' scores.
    torch.testing.assert_close(scores, snippet_scores.view(2, 3, 7).mean(1))
    assert model.base_model.conv1_7x7_s2.weight.shape == (64, channels, 7, 7)
    with pytest.raises(ValueError, match="new_length must be 1"):
        TSN(7, "rgb", 5)


def test_new_classifier_starts_small_after_dropout():
    torch.manual_seed(0)
    model = TSN(200, "rgb", dropout=0.8)
    assert model.dropout.p == 0.8
    assert model.new_fc.weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert not model.new_fc.bias.any()


def test_flow_stream_starts_from_the_rgb_kernel_averaged_over_colours():
    torch.manual_seed(0)
    rgb = BNInception()
    torch.manual_seed(0)
    flow = TSN(5, "flow", new_length=5)  # the same draws build its RGB trunk first
    w = rgb.conv1_7x7_s2.weight
    expected = w.mean(dim=1, keepdim=True).repeat(1, 10, 1, 1)
    torch.testing.assert_close(flow.base_model.conv1_7x7_s2.weight, expected)
    torch.testing.assert_close(flow.base_model.conv1_7x7_s2.bias, rgb.conv1_7x7_s2.bias)
    torch.testing.assert_close(cross_modality(w, 4)[:, 3], w.mean(1))
    # Later layers are the RGB trunk's.
    torch.testing.assert_close(flow.base_model.inception_5b_3x3.weight, rgb.inception_5b_3x3.weight)


def _batchnorm_state(model: TSN) -> list[dict]:
    return [{k: v.clone() for k, v in bn.state_dict().items()} for bn in model.bns()]


def _one_sgd_step(model: TSN) -> None:
    nn.init.normal_(model.new_fc.weight)  # gradients large enough to move every weight
    model.train()
    optimizer = torch.optim.SGD([g for g in model.optim_policies() if g["params"]], lr=0.1)
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 3, 32, 32) * 50),
                                       torch.tensor([0, 1, 2, 0]))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def test_partial_bn_freezes_every_batchnorm_but_the_first():
    torch.manual_seed(0)
    model = TSN(3, "rgb", dropout=0.0)
    with torch.no_grad():  # statistics a frozen layer would visibly move away from
        for bn in model.bns():
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    before = _batchnorm_state(model)
    _one_sgd_step(model)
    after = _batchnorm_state(model)
    first = model.bns()[0]
    assert first.training and not any(bn.training for bn in model.bns()[1:])
    assert not torch.equal(before[0]["running_mean"], after[0]["running_mean"])
    assert not torch.equal(before[0]["weight"], after[0]["weight"])
    for old, new in zip(before[1:], after[1:], strict=True):
        for key in ("running_mean", "running_var", "weight", "bias"):
            assert torch.equal(old[key], new[key]), key
    assert model.bns()[1].weight.grad is None

    # Without partial BN every layer learns and keeps batch statistics.
    torch.manual_seed(0)
    plain = TSN(3, "rgb", dropout=0.0, partial_bn=False)
    before = _batchnorm_state(plain)
    _one_sgd_step(plain)
    assert not torch.equal(before[-1]["running_mean"], plain.bns()[-1].running_mean)


def test_optim_policies_follow_tsn_multipliers():
    torch.manual_seed(0)
    for modality, first_lr in (("rgb", (1, 2)), ("flow", (5, 10))):
        model = TSN(3, modality, 5 if modality == "flow" else 1)
        groups = {g["name"]: g for g in model.optim_policies()}
        assert (groups["first_conv_weight"]["lr_mult"],
                groups["first_conv_bias"]["lr_mult"]) == first_lr
        assert groups["normal_bias"]["lr_mult"] == 2 and groups["normal_bias"]["decay_mult"] == 0
        assert groups["bn"]["decay_mult"] == 0
        assert len(groups["bn"]["params"]) == 2  # the first BatchNorm's scale and shift
        ids = [id(p) for g in groups.values() for p in g["params"]]
        trainable = [id(p) for p in model.parameters() if p.requires_grad]
        assert sorted(ids) == sorted(trainable)  # every learnable parameter, once
        assert id(model.new_fc.bias) in {id(p) for p in groups["normal_bias"]["params"]}
    # Without partial BN every BatchNorm learns, without weight decay.
    groups = {g["name"]: g for g in TSN(3, "rgb", partial_bn=False).optim_policies()}
    assert len(groups["bn"]["params"]) == 2 * len(model.bns())


def _published(tmp_path) -> dict:
    """A tsn-pytorch-style file: our BN-Inception keys under `module.base_model.`, with a
    400-way `fc` head."""
    torch.manual_seed(1)
    source = BNInception(num_classes=400)
    with torch.no_grad():
        for bn in source.modules():
            if isinstance(bn, nn.BatchNorm2d):
                bn.running_mean.uniform_(-0.1, 0.1)
    state = {f"module.base_model.{k}": v for k, v in source.state_dict().items()}
    torch.save({"state_dict": state}, tmp_path / "tsn.pth")
    return source.eval()


def test_published_weights_load_into_both_streams(tmp_path):
    source = _published(tmp_path)
    published = read_state_dict(tmp_path / "tsn.pth")
    torch.manual_seed(2)
    rgb = TSN(9, "rgb")
    head = rgb.new_fc.weight.clone()
    rgb.load_pretrained(published, source="tsn.pth")
    rgb.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(rgb.features(x), source.forward_features(x))
    assert torch.equal(rgb.new_fc.weight, head)  # our classifier keeps its initialisation

    flow = TSN(9, "flow", new_length=5)
    flow.load_pretrained(published, source="tsn.pth")
    torch.testing.assert_close(flow.base_model.conv1_7x7_s2.weight,
                               cross_modality(source.conv1_7x7_s2.weight, 10))
    own = flow.base_model.state_dict()
    for key, value in source.state_dict().items():
        if not key.startswith(("fc.", "conv1_7x7_s2.weight")):
            assert torch.equal(own[key], value), key
    # A flow model of the same width loads as it is.
    again = TSN(9, "flow", new_length=5)
    again.load_pretrained({f"base_model.{k}": v for k, v in own.items()}, source="flow")
    assert torch.equal(again.base_model.conv1_7x7_s2.weight, own["conv1_7x7_s2.weight"])

    del published["module.base_model.inception_4d_3x3.weight"]
    with pytest.raises(WeightsMismatchError, match="inception_4d_3x3.weight"):
        TSN(9, "rgb").load_pretrained(published, source="tsn.pth")


# --- sampling, augmentation, normalisation ------------------------------------------


def test_training_snippets_fall_one_in_each_segment():
    g = torch.Generator().manual_seed(0)
    n = np.array([18, 17, 4, 2])
    starts = np.stack([T.train_starts(n, 3, 1, g) for _ in range(200)])  # (200, 4, 3)
    assert set(starts[:, 0, 0]) == set(range(6))  # segment 1 of 18 frames: 0..5
    assert set(starts[:, 0, 2]) == set(range(12, 18))
    assert starts[:, 1].max() == 14  # 17 frames: 5 per segment, the last two never drawn
    assert (np.diff(starts[:, 2], axis=1) >= 0).all() and starts[:, 2].max() <= 3  # sorted
    assert (starts[:, 3] == 0).all()  # shorter than the segments
    flow = T.train_starts(np.array([17]), 3, 5, torch.Generator().manual_seed(1))
    assert flow.max() <= 17 - 5  # a stack of 5 fits
    again = T.train_starts(n, 3, 1, torch.Generator().manual_seed(0))
    assert np.array_equal(again, starts[0])


def test_validation_snippets_are_segment_middles():
    assert T.val_starts(np.array([18]), 3, 1).tolist() == [[3, 9, 15]]
    assert T.val_starts(np.array([17]), 3, 5).tolist() == [[2, 6, 10]]
    assert T.val_starts(np.array([6, 2]), 3, 5).tolist() == [[0, 0, 0], [0, 0, 0]]


def _flow_store(tmp_path, n_items, length=6, size=8):
    """A flow shard whose field t of clip i holds the value 10 * i + t (x) and 100 + t (y)."""
    data = np.zeros((len(n_items), length, size, size, 2), np.uint8)
    for i, n in enumerate(n_items):
        for t in range(n):
            data[i, t] = 10 * i + t
            data[i, t, ..., 1] = 100 + t
    path = tmp_path / "flow.npz"
    np.savez(path, clip_id=np.array([f"c{i}" for i in range(len(n_items))]),
             n_valid=np.array(n_items), flow=data)
    return T.open_store([path], "flow")[1]


def test_flow_stacks_clamp_at_the_clips_end_and_interleave_x_and_y(tmp_path):
    store = _flow_store(tmp_path, [5, 2, 0])
    assert store.n_frames.tolist() == [6, 3, 1] and store.length == 7
    x = store.snippets(np.array([0, 1, 2]), np.array([[0, 3], [1, 0], [0, 0]]), 3)
    assert x.shape == (3, 2, 6, 8, 8) and x.dtype == torch.uint8
    values = x[:, :, :, 0, 0].tolist()
    assert values[0] == [[0, 100, 1, 101, 2, 102], [3, 103, 4, 104, 4, 104]]  # repeats field 4
    assert values[1] == [[11, 101, 11, 101, 11, 101], [10, 100, 11, 101, 11, 101]]
    assert values[2] == [[128] * 6] * 2  # a single frame: zero motion


def test_open_array_maps_stored_shards_and_reads_compressed_ones(tmp_path):
    data = np.arange(2 * 3 * 4 * 4 * 2, dtype=np.uint8).reshape(2, 3, 4, 4, 2)
    np.savez(tmp_path / "a.npz", clip_id=np.array(["a", "b"]), flow=data)
    np.savez_compressed(tmp_path / "b.npz", clip_id=np.array(["a", "b"]), flow=data)
    mapped = T.open_array(tmp_path / "a.npz", "flow")
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, data)
    assert np.array_equal(T.open_array(tmp_path / "b.npz", "flow"), data)
    with pytest.raises(ValueError, match="no array 'frames'"):
        T.open_array(tmp_path / "a.npz", "frames")


def test_rgb_snippets_decode_the_frames_of_an_fps_shard(tmp_path):
    frames = np.zeros((2, 4, 8, 8, 3), np.uint8)
    frames[:, :, :, :] = (10 * np.arange(2)[:, None] + 40 * np.arange(4))[..., None, None, None]
    write_frames(tmp_path / "f.npz", "fps", ["a", "b"], frames, np.array([4, 2]))
    ids, store = T.open_store([tmp_path / "f.npz"], "rgb")
    assert list(ids) == ["a", "b"] and store.length == 4 and store.frame_size == (8, 8)
    x = store.subset(np.array([1, 0])).snippets(np.array([0, 1]), np.array([[1], [2]]), 2)
    assert x.shape == (2, 1, 6, 8, 8)
    # Grey pictures survive JPEG; past clip b's 2 real frames its last one repeats.
    assert x[:, 0, ::3, 0, 0].tolist() == [[50, 50], [80, 120]]
    write_frames(tmp_path / "w.npz", "clips", ["a"], frames[:1, None])
    with pytest.raises(ValueError, match=r"expected \(T, H, W, 3\)"):
        T.open_store([tmp_path / "w.npz"], "rgb")


def test_multiscale_crops_follow_tsn():
    pairs, offsets = T.crop_candidates(224, 224, [1, 0.875, 0.75, 0.66], 224)
    sides = {side for pair in pairs for side in pair}
    assert sides == {224, 196, 168, 147}
    assert len(pairs) == 10  # the sides differ by at most one scale step
    assert all(len(o) == 13 for o in offsets)
    assert set(offsets[pairs.index((168, 168))]) >= {(0, 0), (56, 56), (28, 28), (14, 42)}


def test_augmentation_mirrors_half_the_clips_and_inverts_mirrored_x_flow():
    recipe = T.Recipe("flow", 3, 5, 0.7, [1, 0.875, 0.75], input_size=16)
    x = torch.zeros(64, 2, 10, 24, 24)
    x[:, :, 0::2], x[:, :, 1::2] = 138.0, 128.0  # motion to the right, none vertically
    out = T.augment(x, recipe, torch.Generator().manual_seed(0))
    assert out.shape == (64, 2, 10, 16, 16)
    x_values = out[:, :, 0::2].flatten(1)
    left = (x_values == 117.0).all(1)  # mirrored: 255 - 138
    assert ((x_values == 138.0).all(1) | left).all() and 16 < left.sum() < 48
    assert (out[:, :, 1::2] == 128.0).all()

    rgb = T.Recipe("rgb", 3, 1, 0.8, [1], input_size=24)
    ramp = torch.arange(24.0).expand(8, 1, 3, 24, 24)  # brighter to the right
    out = T.augment(ramp, rgb, torch.Generator().manual_seed(0))
    rising = out[:, 0, 0, 0, -1] > out[:, 0, 0, 0, 0]
    assert torch.equal(out[rising], ramp[rising]) and 0 < rising.sum() < 8
    assert torch.equal(out[~rising], ramp[~rising].flip(-1))


def test_normalisation_is_caffe_bgr_minus_means_and_flow_minus_128():
    rgb = torch.tensor([10.0, 20.0, 30.0]).view(1, 1, 3, 1, 1)
    assert T.normalise(rgb, "rgb").flatten().tolist() == [30 - 104, 20 - 117, 10 - 128]
    two_frames = torch.cat([rgb, rgb + 1], dim=2)
    assert T.normalise(two_frames, "rgb").flatten().tolist()[3:] == [31 - 104, 21 - 117,
                                                                     11 - 128]
    assert T.normalise(torch.full((1, 1, 2, 1, 1), 128.0), "flow").abs().sum() == 0


def test_schedule_steps_the_lr_by_tens():
    schedule = T.SGDSchedule(epochs=6, batch_size=8, lr=0.01, lr_steps=[2, 4], momentum=0.9,
                             weight_decay=5e-4)
    assert [schedule.lr_factor(e) for e in range(6)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01])
    hparams = {"segments": 3, "dropout": 0.5, "rgb": {"dropout": 0.8}, "flow": {"new_length": 5}}
    assert T.stream_hparams(hparams, "rgb") == {"segments": 3, "dropout": 0.8}
    assert T.stream_hparams(hparams, "flow") == {"segments": 3, "dropout": 0.5, "new_length": 5}


# --- loop.fit with another optimiser ---------------------------------------------------


def _toy(n, seed):
    x = torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))
    return Split((x,), (x[:, 0] > 0).long())


def test_fit_takes_an_optimiser_a_step_schedule_and_clipping(tmp_path):
    seen = []

    def step(model, inputs, labels, generator):
        seen.append([g["lr"] for g in optimizer.param_groups])
        logits = model(*inputs)
        return nn.functional.cross_entropy(logits, labels) * 1e4, logits  # huge gradients

    def make(model):
        nonlocal optimizer
        optimizer = torch.optim.SGD([{"params": model.hidden.parameters(), "lr": 0.1},
                                     {"params": model.head.parameters(), "lr": 0.2}])
        return optimizer

    optimizer = None
    torch.manual_seed(0)
    model = MLP(8, 2, hidden=4)
    before = [p.detach().clone() for p in model.parameters()]
    fit(model, _toy(16, 0), _toy(8, 1), _toy(8, 2), Schedule(epochs=3, batch_size=16, lr=1.0),
        seed=0, checkpoint=tmp_path / "c.pt", device=torch.device("cpu"), fingerprint="f",
        train_step=step, optimizer=make, lr_factor=lambda e: 0.1 ** (e >= 1),
        max_grad_norm=0.5)
    np.testing.assert_allclose(seen, [[0.1, 0.2], [0.01, 0.02], [0.01, 0.02]])
    moved = math.sqrt(sum(((p - b) ** 2).sum().item()
                          for p, b in zip(model.parameters(), before, strict=True)))
    # Plain SGD moves by lr * gradient; a clipped gradient's norm is 0.5 at most.
    assert 0 < moved <= (0.2 + 0.02 + 0.02) * 0.5 + 1e-6


# --- runs ----------------------------------------------------------------------------

CLASSES = 4
FRAMES = 4  # stored frames a clip
SIZE = 32


def _pattern(k: int, rng) -> np.ndarray:
    """Class k's picture: stripes of one orientation (and period) at a random phase."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    angle, period = np.pi * (k % 2) / 2, 6 + 6 * (k // 2)
    phase = rng.uniform(0, 2 * np.pi)
    return np.sin(2 * np.pi / period * (np.cos(angle) * xx + np.sin(angle) * yy) + phase)


TINTS = 40 * np.array([[1, 0, -1], [-1, 1, 0], [0, -1, 1], [1, 1, -1]])  # a colour per class
SPEEDS = (-36, -12, 12, 36)  # a vertical flow per class, in quantised steps


def make_clips(tmp_path, train=20, test=4, seed=0):
    """Manifest, frames index, frames and flow shards of a learnable set: the picture
    (stripes and tint) and the motion (its speed) tell the class. Clip c0_00 has 2 real frames
    (1 flow field), the frames of c1_00 did not decode, c2_00 has no flow."""
    rows = [{"clip_id": f"c{k}_{i:02d}", "path": f"v/{k}_{i}.mp4", "label": f"class{k}",
             "label_index": k, "split": "train" if i < train else "test", "duration": 3.0,
             "has_audio": i % 2 == 0, "status": "ok", "reason": ""}
            for k in range(CLASSES) for i in range(train + test)]
    m = pd.DataFrame(rows)
    m.to_csv(tmp_path / "manifest.csv", index=False)
    status = np.where(m.clip_id == "c1_00", "error", "ok")
    pd.DataFrame({"clip_id": m.clip_id, "frames_status": status}).to_csv(
        tmp_path / "frames.csv", index=False)
    rng = np.random.default_rng(seed)
    n_frames = np.where(m.clip_id == "c0_00", 2, FRAMES)
    frames = np.zeros((len(m), FRAMES, SIZE, SIZE, 3), np.uint8)
    flow = np.zeros((len(m), FRAMES - 1, SIZE, SIZE, 2), np.uint8)
    for i, k in enumerate(m.label_index):
        for t in range(n_frames[i]):
            picture = (128 + 60 * _pattern(k, rng)[..., None] + TINTS[k]
                       + rng.normal(0, 20, (SIZE, SIZE, 3)))
            frames[i, t] = np.clip(picture, 0, 255)
        for t in range(n_frames[i] - 1):
            # Vertical motion at a speed of the class's own: neither a mirror (which
            # inverts x) nor the cross-modality first layer (which starts by summing
            # x and y) hides it. Horizontal motion is noise.
            flow[i, t, ..., 0] = np.clip(rng.normal(128, 8, (SIZE, SIZE)), 0, 255)
            flow[i, t, ..., 1] = np.clip(rng.normal(128 + SPEEDS[k], 8, (SIZE, SIZE)), 0, 255)
    ids = m.clip_id.to_numpy(dtype=str)
    write_frames(tmp_path / "frames.npz", "fps", ids, frames, n_frames)
    has_flow = m.clip_id != "c2_00"
    np.savez(tmp_path / "flow.npz", clip_id=ids[has_flow], flow=flow[has_flow],
             n_valid=n_frames[has_flow] - 1)
    return m


def hparams(epochs=5):
    # The smoke tier's recipe: random weights, so no partial BN (its frozen statistics
    # would be those of an untrained network).
    return {"val_fraction": 0.2, "segments": 3, "new_length": 5, "input_size": SIZE,
            "partial_bn": False, "dropout": 0.5,
            "rgb": {"scales": [1, 0.875, 0.75, 0.66]}, "flow": {"scales": [1, 0.875, 0.75]},
            "schedule": {"epochs": epochs, "batch_size": 8, "lr": 0.01, "lr_steps": [3],
                         "momentum": 0.9, "weight_decay": 5e-4, "clip_grad": 20}}


def run(tmp_path, stream, out, **kwargs):
    data = tmp_path / ("frames.npz" if stream == "rgb" else "flow.npz")
    return T.run_tsn(f"tsn_mod-{stream}", tmp_path / "manifest.csv", [data],
                     [tmp_path / "frames.csv"], kwargs.pop("hp", hparams()), 0, out, **kwargs)


@pytest.mark.parametrize("stream", ["rgb", "flow"])
def test_run_learns_and_writes_every_file_and_every_clips_frame_features(tmp_path, stream):
    m = make_clips(tmp_path)
    out = tmp_path / stream
    metrics = run(tmp_path, stream, out)
    assert json.loads((out / "metrics.json").read_text()) == metrics
    for name in ("history.csv", "predictions.parquet", "model.pt", "config.yaml",
                 "frame_features.npz"):
        assert (out / name).is_file(), name
    used = len(m) - 1 - (stream == "flow")  # c1_00 never decoded; c2_00 has no flow
    assert metrics["clips"] == {"train": used - 16 - 16, "val": 16,
                                "test": 16, "listed": len(m), "unusable": len(m) - used}
    assert metrics["paper"] == "audiogen" and metrics["variant"] == f"tsn_mod-{stream}"
    assert metrics["accuracy"] > 50  # chance is 25
    assert metrics["top5"] == 100  # 4 classes
    assert set(metrics) >= {"per_class", "classes", "confusion", "best_epoch", "val_accuracy"}

    predicted = pd.read_parquet(out / "predictions.parquet")
    probs = read_probs(predicted)
    assert probs.shape == (16, CLASSES)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    assert 100 * (predicted.prediction == predicted.label_index).mean() == pytest.approx(
        metrics["accuracy"])

    ids, features, n_valid = read_windows([out / "frame_features.npz"])
    assert features.shape == (used, FRAMES, 1024) and features.dtype == np.float16
    assert set(ids) == set(m.clip_id) - {"c1_00"} - ({"c2_00"} if stream == "flow" else set())
    short = list(ids).index("c0_00")
    assert n_valid[short] == 2 and (n_valid[np.arange(len(ids)) != short] == FRAMES).all()
    assert not features[short, 2:].any() and features[short, :2].any()
    assert np.isfinite(features).all() and (features >= 0).all()  # pooled ReLU outputs

    # model.pt rebuilds the trained network: its frame features are the stored ones.
    saved = torch.load(out / "model.pt", weights_only=False)
    recipe = T.Recipe(**saved["recipe"])
    tsn = TSN(saved["n_classes"], recipe.modality, recipe.new_length, recipe.dropout,
              recipe.partial_bn)
    tsn.load_state_dict(saved["state"])
    tsn.eval()
    shard_ids, store = T.open_store([tmp_path / f"{'frames' if stream == 'rgb' else 'flow'}.npz"],
                                    stream)
    row = list(shard_ids).index("c3_05")
    x = T.StoredClipsTSN(tsn, store, recipe).inputs(np.array([row]), np.arange(FRAMES)[None])
    with torch.no_grad():
        expected = tsn.features(x[0]).numpy()  # (FRAMES, 1024)
    stored = features[list(ids).index("c3_05")].astype(np.float32)
    np.testing.assert_allclose(stored, expected, rtol=1e-2, atol=1e-3)  # float16 storage


def test_resumed_run_ends_as_an_uninterrupted_one(tmp_path, monkeypatch):
    make_clips(tmp_path, train=5, test=2)
    hp = hparams(epochs=3)
    full = run(tmp_path, "flow", tmp_path / "full", hp=hp, checkpoint_interval_s=0)

    real_step = torch.optim.SGD.step
    calls = {"n": 0}

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4:  # during epoch 2 (2 batches an epoch)
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, "flow", tmp_path / "killed", hp=hp, checkpoint_interval_s=0)
    monkeypatch.setattr(torch.optim.SGD, "step", real_step)
    assert not (tmp_path / "killed" / "metrics.json").exists()
    resumed = run(tmp_path, "flow", tmp_path / "killed", hp=hp, checkpoint_interval_s=0)

    assert resumed == full
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "killed" / "history.csv"),
                                  pd.read_csv(tmp_path / "full" / "history.csv"))
    a = read_windows([tmp_path / "full" / "frame_features.npz"])[1]
    b = read_windows([tmp_path / "killed" / "frame_features.npz"])[1]
    assert np.array_equal(a, b)


def test_run_refuses_other_variants_and_loads_weights(tmp_path):
    make_clips(tmp_path, train=5, test=2)
    with pytest.raises(ValueError, match="not a TSN stream"):
        T.run_tsn("svm_feat-aenet_gen-none", tmp_path / "manifest.csv", [], [], hparams(), 0,
                  tmp_path / "x")
    _published(tmp_path)
    metrics = run(tmp_path, "flow", tmp_path / "weighted", hp=hparams(epochs=1),
                  weights=tmp_path / "tsn.pth")
    assert metrics["clips"]["test"] == 8
    config = (tmp_path / "weighted" / "config.yaml").read_text()
    assert "tsn.pth" in config and "lr_steps" in config
