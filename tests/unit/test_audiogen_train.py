"""Lee et al.'s sound runs and late fusions (§2.3, §3.2-3.3) on a tiny synthetic problem
whose sound feature is a known function of the visual features."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from avrepro.features.store import read_store, write_shard
from avrepro.train import audiogen as ag
from avrepro.train import late_fusion as late
from avrepro.train.metrics import top_k_accuracy
from avrepro.train.run_folder import predictions, read_probs
from avrepro.variants.audiogen import Generator

CLASSES = ["barking", "howling", "parading", "whistling"]
TRAIN, TEST, T, DIM, SOUND_DIM = 30, 10, 5, 6, 8
RUN_FILES = ("model.pt", "predictions.parquet", "history.csv", "config.yaml", "metrics.json",
             "generated.npz")


def hparams(epochs=40):
    return {
        "val_fraction": 0.2,
        "generator": {
            "schedule": {"epochs": epochs, "batch_size": 16, "lr": 1e-2},
            "lstm": {"hidden": 32, "dropout": 0.0},
            "ae": {"hidden": 32, "latent": 16, "dropout": 0.0},
        },
        "svm": {"calibration_folds": 3},
    }


def make_problem(tmp_path, seed=0):
    """Clips of 4 classes; a clip's frames are its class centre plus a clip offset (and a
    little frame noise), padded past n_valid with large values no model may use. Its
    sound feature is softplus(M [rgb ⊕ flow] latent) + 0.1: non-negative, a known function
    of what every valid frame shows. 40% of the clips have no sound: no audio track
    (absent from the store), or a silent one (in the store, silent in the audio index)."""
    rng = np.random.default_rng(seed)
    n_per_class = TRAIN + TEST
    labels = np.repeat(np.arange(len(CLASSES)), n_per_class)
    split = np.tile(["train"] * TRAIN + ["test"] * TEST, len(CLASSES))
    ids = [f"{CLASSES[k]}/clip{i:03d}" for i, k in enumerate(labels)]
    n = len(ids)
    manifest = pd.DataFrame({
        "clip_id": ids, "path": [f"videos/{c}.mp4" for c in ids],
        "label": [CLASSES[k] for k in labels], "label_index": labels, "split": split,
        "duration": 3.0, "has_audio": True, "status": "ok", "reason": ""})
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    pd.DataFrame({"clip_id": ids, "frames_status": "ok"}).to_csv(tmp_path / "frames.csv",
                                                                  index=False)

    centres = rng.normal(0, 2.0, (len(CLASSES), 2 * DIM))
    latent = centres[labels] + rng.normal(0, 0.7, (n, 2 * DIM))  # (N, 12)
    frames = latent[:, None, :] + rng.normal(0, 0.05, (n, T, 2 * DIM))  # (N, T, 12)
    n_valid = rng.integers(2, T + 1, n)
    frames[np.arange(T)[None, :] >= n_valid[:, None]] = 50.0
    mixing = rng.normal(0, 0.5, (2 * DIM, SOUND_DIM))
    sound = (np.log1p(np.exp(latent @ mixing)) + 0.1).astype(np.float32)  # (N, 8)

    soundless = rng.permutation(n) < round(0.4 * n)
    silent = soundless & (rng.random(n) < 0.3)  # a track of zeros: in the store, silent
    in_store = ~soundless | silent
    write_shard(tmp_path / "sound.npz", np.array(ids)[in_store].tolist(),
                np.where(silent[:, None], 0, sound)[in_store])
    pd.DataFrame({"clip_id": ids, "audio_status": np.where(in_store, "ok", "no_audio"),
                  "silent": silent}).to_csv(tmp_path / "audio.csv", index=False)
    for stream, part in (("rgb", slice(0, DIM)), ("flow", slice(DIM, 2 * DIM))):
        write_shard(tmp_path / f"{stream}.npz", ids, frames[..., part].astype(np.float16),
                    n_valid)
    return {"ids": np.array(ids), "labels": labels, "split": split, "sound": sound,
            "soundless": soundless}


def run(tmp_path, variant, seed=0, epochs=40, out=None):
    generator = ag.parse(variant).generator
    return ag.run_sound(
        variant, tmp_path / "manifest.csv", [tmp_path / "frames.csv"], [tmp_path / "audio.csv"],
        [tmp_path / "sound.npz"],
        {"rgb": tmp_path / "rgb.npz", "flow": tmp_path / "flow.npz"} if generator else None,
        hparams(epochs), seed, out or tmp_path / variant, checkpoint_interval_s=0.0)


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("audiogen")
    truth = make_problem(tmp_path)
    baseline = run(tmp_path, "svm_feat-aenet_gen-none")
    return tmp_path, truth, baseline


def check_run_folder(out, metrics, n_test):
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text()) == metrics
    for key in ("accuracy", "top5", "per_class", "classes", "confusion", "clips", "paper",
                "variant", "seed", "generator"):
        assert key in metrics, key
    assert metrics["paper"] == "audiogen" and metrics["classes"] == CLASSES
    assert set(metrics["clips"]) == {"train", "generator_val", "test", "with_sound_train",
                                     "with_sound_test", "generated"}
    table = pd.read_parquet(out / "predictions.parquet")
    assert len(table) == metrics["clips"]["test"] == n_test
    probs = read_probs(table)
    assert probs.shape == (n_test, len(CLASSES))  # every class's probability
    assert metrics["accuracy"] == pytest.approx(top_k_accuracy(table.label_index, probs, 1))
    assert isinstance(pd.read_csv(out / "history.csv"), pd.DataFrame)  # a table, maybe empty
    assert yaml.safe_load((out / "config.yaml").read_text())["variant"] == metrics["variant"]
    return table, probs


# --- the baseline -------------------------------------------------------------------------

def test_baseline_counts_soundless_test_clips_wrong(problem):
    tmp_path, truth, metrics = problem
    out = tmp_path / "svm_feat-aenet_gen-none"
    table, probs = check_run_folder(out, metrics, len(CLASSES) * TEST)
    test = truth["split"] == "test"
    soundless = dict(zip(truth["ids"], truth["soundless"], strict=True))
    silent_or_none = table.clip_id.map(soundless).to_numpy()
    assert (probs[silent_or_none] == 0).all()  # no sound: no prediction (§3.3)
    np.testing.assert_allclose(probs[~silent_or_none].sum(1), 1, rtol=1e-5)
    with_sound = table[~silent_or_none]
    with_sound_acc = 100 * (with_sound.prediction == with_sound.label_index).mean()
    fraction = (~truth["soundless"][test]).mean()
    assert with_sound_acc > 90  # the sound separates the classes
    assert metrics["accuracy"] == pytest.approx(with_sound_acc * fraction)
    assert metrics["clips"] == {
        "train": int((~truth["soundless"] & ~test).sum()), "generator_val": 0,
        "test": int(test.sum()),
        "with_sound_train": int((~truth["soundless"] & ~test).sum()),
        "with_sound_test": int((~truth["soundless"] & test).sum()), "generated": 0}
    assert metrics["generator"] is None
    assert len(pd.read_csv(out / "history.csv")) == 0
    ids, generated = read_store([out / "generated.npz"])
    assert len(ids) == 0 and generated.shape == (0, SOUND_DIM)
    saved = torch.load(out / "model.pt", weights_only=False)
    assert saved["generator"] is None
    assert ag.svm_probs(saved["svm"], truth["sound"][:2], 4).shape == (2, 4)


# --- generators -------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["svm_feat-aenet_gen-lstm.l2.cls",
                                     "svm_feat-aenet_gen-ae.l2.nocls",
                                     "svm_feat-vggish_gen-lstm.kl.nocls",
                                     "svm_feat-vggish_gen-ae.kl.cls"])
def test_generator_learns_the_sound_and_beats_the_baseline(problem, variant):
    tmp_path, truth, baseline = problem
    metrics = run(tmp_path, variant)
    out = tmp_path / variant
    check_run_folder(out, metrics, len(CLASSES) * TEST)
    test = truth["split"] == "test"
    assert metrics["clips"]["train"] == int((~test).sum())  # every training clip
    assert metrics["clips"]["generated"] == int(truth["soundless"].sum())
    assert 0 < metrics["clips"]["generator_val"] < metrics["clips"]["with_sound_train"]

    # The generated features of the soundless clips are close to their true sound: in
    # the feature's own scale (l2), or as distributions (kl, which keeps only the mean
    # total of the features, not each clip's).
    ids, generated = read_store([out / "generated.npz"])
    assert sorted(ids) == sorted(truth["ids"][truth["soundless"]])
    # model.pt rebuilds the generator that wrote them.
    saved = torch.load(out / "model.pt", weights_only=False)["generator"]
    model = ag.build_generator(ag.parse(variant).generator, len(CLASSES), SOUND_DIM,
                               saved["in_dim"], saved["sizes"])
    model.load_state_dict(saved["state"])
    visual = ag.visual_features({"rgb": tmp_path / "rgb.npz", "flow": tmp_path / "flow.npz"},
                                pd.Series(ids))
    np.testing.assert_allclose(ag.generate(model, *visual, 16, torch.device("cpu")), generated,
                               rtol=1e-5, atol=1e-6)
    true = pd.DataFrame(truth["sound"], index=truth["ids"]).loc[ids].to_numpy()
    if ag.parse(variant).generator.loss == "kl":
        generated = generated / generated.sum(1, keepdims=True)
        true = true / true.sum(1, keepdims=True)
    error = ((generated - true) ** 2).mean()
    assert error < 0.25 * true.var(0).mean(), (error, true.var(0).mean())
    if ag.parse(variant).generator.loss == "l2":  # standardised units: the mean scores 1
        assert metrics["generator"]["test_loss"] < 0.4

    assert metrics["accuracy"] > baseline["accuracy"] + 15
    assert metrics["accuracy"] > 80
    history = pd.read_csv(out / "history.csv")
    assert metrics["generator"]["best_epoch"] == history.val_loss.idxmin()
    assert history.train_acc.isna().all() == (not ag.parse(variant).generator.classifier)


def test_generator_runs_are_deterministic_per_seed(problem):
    tmp_path, _, _ = problem
    variant = "svm_feat-aenet_gen-ae.l2.cls"
    a = run(tmp_path, variant, seed=3, epochs=3, out=tmp_path / "a")
    b = run(tmp_path, variant, seed=3, epochs=3, out=tmp_path / "b")
    assert a == b
    pa, pb = (read_probs(pd.read_parquet(d / "predictions.parquet")) for d in
              (tmp_path / "a", tmp_path / "b"))
    np.testing.assert_array_equal(pa, pb)


def test_train_generator_selects_the_lowest_validation_reconstruction_loss(problem):
    tmp_path, truth, _ = problem
    rows = pd.read_csv(tmp_path / "manifest.csv").sort_values("clip_id").reset_index(drop=True)
    visual = ag.visual_features({"rgb": tmp_path / "rgb.npz", "flow": tmp_path / "flow.npz"},
                                rows.clip_id)
    sound = pd.DataFrame(truth["sound"], index=truth["ids"]).loc[rows.clip_id].to_numpy()
    has_sound = ~pd.Series(truth["soundless"], index=truth["ids"]).loc[rows.clip_id].to_numpy()
    model, result, masks, _ = ag.train_generator(
        Generator("lstm", "l2", False), rows, has_sound, sound.astype(np.float32), visual, 4,
        hparams(8), 0, tmp_path, torch.device("cpu"), 0.0, "fp")
    losses = [h["val_loss"] for h in result.history]
    assert result.best_epoch == losses.index(min(losses))
    assert not (masks["train"] & ~has_sound).any() and not (masks["val"] & ~has_sound).any()
    assert not (masks["train"] & masks["val"]).any()


def test_visual_features_need_every_clip(problem):
    tmp_path, _, _ = problem
    with pytest.raises(ValueError, match=r"rgb\.npz lacks 1 of the run's clips"):
        ag.visual_features({"rgb": tmp_path / "rgb.npz", "flow": tmp_path / "flow.npz"},
                           pd.Series(["barking/clip000", "nobody/clip999"]))


def test_a_generator_needs_frame_features_and_the_baseline_none(problem):
    tmp_path, _, _ = problem
    with pytest.raises(ValueError, match="read by a generator and only by one"):
        ag.run_sound("svm_feat-aenet_gen-lstm.l2.cls", tmp_path / "manifest.csv",
                     [tmp_path / "frames.csv"], [tmp_path / "audio.csv"],
                     [tmp_path / "sound.npz"], None, hparams(), 0, tmp_path / "x")


# --- late fusion ------------------------------------------------------------------------

def write_predictions(folder, ids, labels, probs):
    folder.mkdir(parents=True)
    predictions(ids, labels, probs).to_parquet(folder / "predictions.parquet", index=False)


def late_problem(tmp_path, sound_ids=None):
    rng = np.random.default_rng(0)
    pd.DataFrame({"clip_id": ["a", "b", "c", "d"], "path": "v.mp4", "label": CLASSES,
                  "label_index": range(4), "split": "test", "duration": 3.0,
                  "has_audio": True, "status": "ok", "reason": ""}).to_csv(
        tmp_path / "manifest.csv", index=False)
    ids, labels = np.array(["c", "a", "d", "b"]), np.array([2, 0, 3, 1])
    probs = {run: rng.dirichlet(np.ones(4), 4) for run in ("rgb", "flow", "sound")}
    probs["sound"][0] = 0  # a soundless clip of the baseline
    dirs = {"tsn_mod-rgb": tmp_path / "rgb", "tsn_mod-flow": tmp_path / "flow",
            "svm_feat-aenet_gen-none": tmp_path / "sound"}
    write_predictions(dirs["tsn_mod-rgb"], ids, labels, probs["rgb"])
    order = np.array([1, 3, 0, 2])  # the flow run lists its clips in another order
    write_predictions(dirs["tsn_mod-flow"], ids[order], labels[order], probs["flow"][order])
    write_predictions(dirs["svm_feat-aenet_gen-none"],
                      ids if sound_ids is None else sound_ids, labels, probs["sound"])
    return dirs, ids, probs


def test_late_fusion_adds_the_runs_probabilities(tmp_path):
    dirs, ids, probs = late_problem(tmp_path)
    out = tmp_path / "late"
    metrics = late.run_late("late_vis-both_snd-aenet.none", tmp_path / "manifest.csv", dirs,
                            late.TSN_WEIGHTS, 0, out)
    for name in ("predictions.parquet", "history.csv", "config.yaml", "metrics.json"):
        assert (out / name).is_file(), name
    assert not (out / "model.pt").exists()  # a late fusion trains nothing
    table = pd.read_parquet(out / "predictions.parquet")
    fused = read_probs(table)
    expected = (1.0 * probs["rgb"] + 1.5 * probs["flow"]) / 2.5 + probs["sound"]
    order = np.argsort(ids)  # the fusion lists clips sorted
    assert table.clip_id.tolist() == sorted(ids)
    np.testing.assert_allclose(fused, expected[order], rtol=1e-6)
    assert metrics["accuracy"] == pytest.approx(top_k_accuracy(table.label_index, fused, 1))
    assert metrics["weights"] == {"tsn_mod-rgb": 0.4, "tsn_mod-flow": 0.6,
                                  "svm_feat-aenet_gen-none": 1.0}
    assert metrics["clips"] == {"test": 4}
    assert len(pd.read_csv(out / "history.csv")) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["weights"] == metrics["weights"]


def test_late_fusion_imports_no_deep_learning_stack():
    code = "import sys, avrepro.train.late_fusion; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_late_fusion_of_one_stream_is_that_stream(tmp_path):
    dirs, ids, probs = late_problem(tmp_path)
    late.run_late("late_vis-rgb_snd-none", tmp_path / "manifest.csv", dirs, late.TSN_WEIGHTS, 0,
                  tmp_path / "late")
    fused = read_probs(pd.read_parquet(tmp_path / "late" / "predictions.parquet"))
    np.testing.assert_allclose(fused, probs["rgb"][np.argsort(ids)], rtol=1e-6)


def test_late_fusion_refuses_runs_of_other_clips(tmp_path):
    dirs, _, _ = late_problem(tmp_path, sound_ids=np.array(["c", "a", "d", "e"]))
    with pytest.raises(ValueError, match="predict different test clips"):
        late.run_late("late_vis-both_snd-aenet.none", tmp_path / "manifest.csv", dirs,
                      late.TSN_WEIGHTS, 0, tmp_path / "late")
    with pytest.raises(ValueError, match="no run folder"):
        late.run_late("late_vis-both_snd-vggish.none", tmp_path / "manifest.csv", dirs,
                      late.TSN_WEIGHTS, 0, tmp_path / "late2")
