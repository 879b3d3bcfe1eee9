"""Train Lee et al.'s sound runs (§2.3, §3.2-3.3) and write their run folders.

Variant names: avrepro.variants.audiogen. Every run uses the clips whose frames decoded,
with sound or without (train.clips.with_frames); a clip has sound when its audio track
decoded to samples not all zero (train.clips.sounding) and the sound feature store has
it. Test is Moments in Time's validation set (avrepro.data.mit).

  svm_feat-F_gen-none   the baseline: linear SVMs on the real feature F of the training
                        clips with sound; a test clip without sound is counted wrong
                        (§3.3), its probabilities all zero (metrics.top_k_accuracy).
  svm_feat-F_gen-G      generator G (models.audiogen) learns F from TSN's per-frame RGB
                        and flow features on the training clips with sound (§2.3) and
                        fills in F for every soundless clip, train and test. The SVMs then
                        train on every training clip (real F where there is sound,
                        generated where not) and score every test clip.

Late fusions (late_vis-V_snd-S) are avrepro.train.late_fusion's.

Why the SVMs train on generated features too: at test time about 37% of the clips
(Table 1) carry a generated feature, which regression pulls towards the mean of the real
ones; SVMs that saw only real features would meet a distribution they never fitted.
Generated training features come from clips the generator never trained on, so they
are as good (or as bad) as the test clips' ones.
"""

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC
from torch import nn

from avrepro.data.manifest import read_manifest
from avrepro.features.store import read_store, read_windows, write_shard
from avrepro.models.audiogen import AEGenerator, LSTMGenerator, SoundGenerator
from avrepro.train.clips import class_names, holdout, sounding, with_frames
from avrepro.train.loop import Schedule, Split, fit
from avrepro.train.metrics import classification_metrics
from avrepro.train.run_folder import fingerprint, predictions, write_run
from avrepro.variants.audiogen import STREAMS, Generator, parse

PAPER = "audiogen"
GENERATED_FILE = "generated.npz"
HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc"]
# The SVMs (§3.2, "200 linear SVM binary classifiers for each class" with probabilities):
# scikit-learn's LinearSVC, one-vs-rest (liblinear; primal Newton when clips outnumber
# dimensions), each class's score Platt-scaled (a sigmoid, as libsvm's probability=True)
# by CalibratedClassifierCV on held-out folds, then normalised over the classes. A
# kernel SVC(kernel="linear", probability=True) is libsvm, quadratic in the clips and
# with a 5-fold Platt fit inside: days at 100,000 clips x 1024 dimensions, where the
# linear solver takes minutes a class per fold.
SVM_DEFAULTS = {"C": 1.0, "max_iter": 1000, "calibration_folds": 3, "n_jobs": 1}


# ---------------------------------------------------------------------------------------
# Inputs.


def sound_features(shards: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """A sound feature store as (clip_id (N,), features (N, d_r) float32): AENet's rows
    (N, 1024) as they are, VGGish's (N, 3, 128) flattened to 384 (§3.2)."""
    ids, features = read_store(shards)
    return ids, features.reshape(len(features), -1).astype(np.float32)


def sound_clips(manifest: pd.DataFrame, frames_indexes: list[Path], audio_indexes: list[Path],
                sound_store: list[Path]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A sound run's clips: (rows: every clip with frames, sorted by clip_id; has_sound
    (N,): the clip sounds (train.clips.sounding) and the store has its feature;
    features (N, d_r): the real sound feature where has_sound, zeros elsewhere)."""
    rows = with_frames(manifest, frames_indexes)
    sound_ids, sound = sound_features(sound_store)
    has_sound = rows.clip_id.isin(sounding(audio_indexes) & set(sound_ids)).to_numpy()
    features = np.zeros((len(rows), sound.shape[1]), np.float32)  # (N, d_r)
    features[has_sound] = sound[_positions(sound_ids, rows.clip_id[has_sound], "sound store")]
    return rows, has_sound, features


def _positions(ids: np.ndarray, wanted: pd.Series, what: str) -> np.ndarray:
    """Row of each `wanted` clip in `ids`; a clear error naming `what` if any is absent."""
    position = pd.Series(np.arange(len(ids)), index=ids)
    missing = wanted[~wanted.isin(position.index)]
    if len(missing):
        raise ValueError(f"{what} lacks {len(missing)} of the run's clips, e.g. "
                         f"{missing.tolist()[:3]}")
    return position.loc[wanted].to_numpy()


def visual_features(visual: dict[str, Path], clip_ids: pd.Series):
    """TSN's per-frame features of `clip_ids`, in their order: rgb, flow (N, T, 1024)
    float16, n_valid (N,).

    A frame is fused only where both streams have it: T is the shorter store's and a
    clip's count is the smaller of its two (a flow stack may cover fewer frames).
    """
    missing = [s for s in STREAMS if s not in visual]
    if missing:
        raise ValueError(f"no frame features for stream(s) {missing}")
    streams, counts = [], []
    for stream in STREAMS:
        ids, features, n_valid = read_windows([visual[stream]])
        rows = _positions(ids, clip_ids, str(visual[stream]))
        streams.append(features[rows])
        counts.append(n_valid[rows])
    length = min(s.shape[1] for s in streams)
    n_valid = np.minimum(*counts).clip(max=length)
    if (n_valid < 1).any():
        raise ValueError(f"{int((n_valid < 1).sum())} clips have no frame with both RGB and "
                         f"flow features in {visual['rgb']} and {visual['flow']}")
    return streams[0][:, :length], streams[1][:, :length], n_valid


# ---------------------------------------------------------------------------------------
# The generator: model, multi-task step, validation, generation.


def build_generator(generator: Generator, n_classes: int, sound_dim: int, in_dim: int = 2048,
                    sizes: dict | None = None) -> SoundGenerator:
    """The randomly initialised generator of a variant (seed torch first). `sizes`: the
    architecture's keyword arguments (hidden, layers, latent, dropout)."""
    cls = {"lstm": LSTMGenerator, "ae": AEGenerator}[generator.architecture]
    return cls(in_dim, sound_dim, n_classes if generator.classifier else None,
               generator.loss, **(sizes or {}))


def multitask_step(model, inputs, labels, generator):
    """A loop.fit train_step: L = L_cls + L_recon (§2.1), L_cls only with the
    classification branch. inputs: rgb, flow, n_valid, the real sound feature."""
    *visual, target = inputs
    logits, r = model(*visual, generator=generator)
    loss = model.target.loss(r, target)
    if logits is not None:
        loss = loss + nn.functional.cross_entropy(logits, labels)
    return loss, logits


@torch.no_grad()
def validate_generator(model: SoundGenerator, split: Split, batch_size: int,
                       device: torch.device) -> tuple[float, float, None]:
    """A loop.fit validate: the mean L_recon of the test-time generation (the feature is
    what a generator is for, so this selects the epoch) and the classifier's accuracy
    (nan without one)."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for inputs, labels in split.batches(batch_size):
        *visual, target = (x.to(device) for x in inputs)
        logits, r = model(*visual)
        loss_sum += model.target.loss(r, target).item() * len(labels)
        if logits is not None:
            correct += (logits.argmax(1).cpu() == labels).sum().item()
    n = max(len(split), 1)
    return loss_sum / n, (correct / n if model.classifier is not None else float("nan")), None


@torch.no_grad()
def generate(model: SoundGenerator, rgb: np.ndarray, flow: np.ndarray, n_valid: np.ndarray,
             batch_size: int, device: torch.device) -> np.ndarray:
    """The generated sound feature (N, d_r) float32 of clips, in the real feature's scale."""
    model.to(device)
    out = [model.sound(*(torch.from_numpy(a[i:i + batch_size]).to(device)
                         for a in (rgb, flow, n_valid))).cpu()
           for i in range(0, len(rgb), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.target.mean.numel()), np.float32)


def _generator_split(visual, features, labels, mask) -> Split:
    rgb, flow, n_valid = visual
    inputs = (torch.from_numpy(rgb[mask]), torch.from_numpy(flow[mask]),
              torch.from_numpy(n_valid[mask]), torch.from_numpy(features[mask]))
    return Split(inputs=inputs, labels=torch.from_numpy(labels[mask]).long())


def train_generator(generator: Generator, rows: pd.DataFrame, has_sound: np.ndarray,
                    features: np.ndarray, visual, n_classes: int, hparams: dict, seed: int,
                    out_dir: Path, device: torch.device, checkpoint_interval_s: float,
                    fingerprint: str):
    """Fit the generator on the training clips with sound (§2.3), the epoch of lowest
    validation L_recon kept; validation is a stratified `val_fraction` of those clips
    (train.clips.holdout). Returns the model at its best epoch, loop.fit's FitResult, the
    train / val / test masks over `rows` and the test clips' L_recon."""
    labels = rows.label_index.to_numpy()
    train = (rows.split == "train").to_numpy() & has_sound
    val = np.zeros(len(rows), dtype=bool)
    val[np.flatnonzero(train)] = holdout(rows[train], hparams["val_fraction"])
    masks = {"train": train & ~val, "val": val,
             "test": (rows.split == "test").to_numpy() & has_sound}
    splits = [_generator_split(visual, features, labels, masks[s]) for s in masks]

    settings = hparams["generator"]
    torch.manual_seed(seed)
    in_dim = visual[0].shape[2] + visual[1].shape[2]  # 2048: TSN's RGB ⊕ flow features
    model = build_generator(generator, n_classes, features.shape[1], in_dim,
                            settings.get(generator.architecture))
    model.target.fit(torch.from_numpy(features[masks["train"]]))
    schedule = Schedule(**settings["schedule"])
    result = fit(model, *splits, schedule=schedule, seed=seed,
                 checkpoint=out_dir / "checkpoint.pt", device=device, fingerprint=fingerprint,
                 train_step=multitask_step, checkpoint_interval_s=checkpoint_interval_s,
                 validate=validate_generator, select="val_loss")
    model.load_state_dict(result.best_state)
    test_loss = validate_generator(model, splits[2], schedule.batch_size, device)[0]
    return model, result, masks, test_loss


# ---------------------------------------------------------------------------------------
# The SVMs.


def fit_svm(features: np.ndarray, labels: np.ndarray, settings: dict, seed: int):
    """One-vs-rest linear SVMs with Platt-scaled probabilities (see SVM_DEFAULTS), on the
    features as they are (§3.2: no preprocessing)."""
    settings = {**SVM_DEFAULTS, **settings}
    classes, counts = np.unique(labels, return_counts=True)
    if counts.min() < settings["calibration_folds"]:
        raise ValueError(f"class {classes[counts.argmin()]} has {counts.min()} training clips, "
                         f"fewer than the {settings['calibration_folds']} calibration folds")
    svm = LinearSVC(C=settings["C"], max_iter=settings["max_iter"], random_state=seed)
    calibrated = CalibratedClassifierCV(svm, method="sigmoid", cv=settings["calibration_folds"],
                                        n_jobs=settings["n_jobs"])
    return calibrated.fit(features, labels)


def svm_probs(svm, features: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, n_classes) probabilities; a class the SVMs never saw in training gets 0."""
    probs = np.zeros((len(features), n_classes), np.float32)
    if len(features):
        probs[:, svm.classes_] = svm.predict_proba(features)
    return probs


# ---------------------------------------------------------------------------------------
# Runs.


def run_sound(
    variant: str,
    manifest_path: Path,
    frames_indexes: list[Path],
    audio_indexes: list[Path],
    sound_store: list[Path],
    visual: dict[str, Path] | None,
    hparams: dict,
    seed: int,
    out_dir: Path,
    device: str = "cpu",
    checkpoint_interval_s: float = 300.0,
) -> dict:
    """A sound run (svm_feat-F_gen-G): the generator if any, then the SVMs; writes model.pt
    (generator state and the fitted SVMs), predictions.parquet (every test clip),
    history.csv (the generator's; no rows for the baseline), config.yaml, generated.npz
    (the soundless clips' generated features, a feature store) and metrics.json.

    frames_indexes, audio_indexes: the media stage's frames shard indexes and audio
    index.csv files; sound_store: the feature F's store shards; visual: the TSN runs'
    frame_features.npz, {"rgb": ..., "flow": ...} (same seed), None for the baseline.
    hparams: val_fraction (the generator's holdout), generator (schedule: loop.Schedule's
    fields; lstm, ae: the architectures' sizes, models.audiogen), svm (SVM_DEFAULTS' keys).
    """
    v = parse(variant)
    if v.model != "svm":
        raise ValueError(f"{variant!r} is not a sound run (svm_feat-F_gen-G)")
    if (visual is None) != (v.generator is None):
        raise ValueError(f"{variant}: TSN frame features are read by a generator and only by "
                         f"one; got {'none' if visual is None else sorted(visual)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(manifest_path)
    classes = class_names(manifest)
    rows, has_sound, features = sound_clips(manifest, frames_indexes, audio_indexes,
                                            sound_store)
    sound_dim = features.shape[1]
    labels = rows.label_index.to_numpy()
    train, test = (rows.split == "train").to_numpy(), (rows.split == "test").to_numpy()
    svm_settings = {**SVM_DEFAULTS, **hparams.get("svm", {})}
    generator_settings = None
    if v.generator:
        settings = hparams["generator"]
        generator_settings = {"val_fraction": hparams["val_fraction"],
                              "schedule": asdict(Schedule(**settings["schedule"])),
                              "sizes": settings.get(v.generator.architecture)}
    run_config = {"variant": variant, "seed": seed, "classes": classes,
                  "generator": generator_settings, "svm": svm_settings,
                  "sound_store": [str(p) for p in sound_store],
                  "visual": {k: str(p) for k, p in (visual or {}).items()}}

    record = {"variant": variant, "n_classes": len(classes), "sound_dim": sound_dim,
              "generator": None}
    history, summary = pd.DataFrame(columns=HISTORY_COLUMNS), None
    generated = np.zeros((0, sound_dim), np.float32)  # (N soundless, d_r)
    fit_mask, scored, n_val = train & has_sound, test & has_sound, 0
    if v.generator:
        files = [manifest_path, *frames_indexes, *audio_indexes, *sound_store, *visual.values()]
        clips = visual_features(visual, rows.clip_id)
        dev = torch.device(device)
        model, result, masks, test_loss = train_generator(
            v.generator, rows, has_sound, features, clips, len(classes), hparams, seed,
            out_dir, dev, checkpoint_interval_s, fingerprint(run_config, files))
        batch = generator_settings["schedule"]["batch_size"]
        generated = generate(model, *(a[~has_sound] for a in clips), batch, dev)
        features[~has_sound] = generated
        history, n_val, fit_mask, scored = result.history, int(masks["val"].sum()), train, test
        record["generator"] = {"code": v.generator.code,
                               "in_dim": clips[0].shape[2] + clips[1].shape[2],
                               "sizes": generator_settings["sizes"],
                               "state": result.best_state, "best_epoch": result.best_epoch}
        summary = {"best_epoch": result.best_epoch,
                   "val_loss": result.history[result.best_epoch]["val_loss"],
                   "test_loss": test_loss, "loss": v.generator.loss}
    generated_ids = rows.clip_id[~has_sound].tolist() if v.generator else []
    write_shard(out_dir / GENERATED_FILE, generated_ids, generated)

    svm = fit_svm(features[fit_mask], labels[fit_mask], svm_settings, seed)
    probs = np.zeros((len(rows), len(classes)), np.float32)
    probs[scored] = svm_probs(svm, features[scored], len(classes))
    record["svm"] = svm
    metrics = {
        "paper": PAPER, "variant": variant, "seed": seed,
        **classification_metrics(labels[test], probs[test], classes),
        # The generator's holdout lies within the SVMs' training clips: not a split of its own.
        "clips": {"train": int(fit_mask.sum()), "generator_val": n_val, "test": int(test.sum()),
                  "with_sound_train": int((train & has_sound).sum()),
                  "with_sound_test": int((test & has_sound).sum()),
                  "generated": len(generated_ids)},
        "generator": summary,
    }
    tested = predictions(rows.clip_id.to_numpy()[test], labels[test], probs[test])
    return write_run(out_dir, record, tested, history, run_config, metrics)
