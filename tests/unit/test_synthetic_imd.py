"""Synthetic data for IMD: an AudioSet-like sound set, and video classes that sound like
AudioSet labels, some clips carrying a far class's sound (irrelevant audio)."""

import subprocess
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile

from avrepro.data import synthetic
from avrepro.data.synthetic import SyntheticSpecError
from avrepro.media.ffmpeg import ffmpeg_binary

LABELS = ["Dog", "Bark", "Cat", "Meow", "Violin, fiddle", "Piano", "Speech"]
AUDIOSET_SPEC = {
    "seed": 5,
    "labels": LABELS,
    "clips_per_label": 3,
    "duration": 1.0,
    "max_labels_per_clip": 2,
}
SOUNDS = {
    "playing violin": ["Violin, fiddle"],
    "playing cello": ["Piano"],
    "barking": ["Dog", "Bark"],
    "howling": ["Bark", "Dog"],
    "petting cat": ["Cat", "Meow"],
}
BASE = {
    "seed": 3,
    "pairs": [
        {"classes": ["playing violin", "playing cello"], "share": "picture"},
        {"classes": ["barking", "howling"], "share": "sound"},
    ],
    "extra_classes": ["petting cat"],
    "clips_per_class": {"train": 10, "test": 5},
    "duration": 1.0,
    "fps": 10,
    "size": [32, 24],
    "audio_rate": 16000,
    "no_audio_fraction": 0.1,
    "silent_fraction": 0.1,
}
SPEC = {**BASE, "audioset_labels": LABELS, "audioset_sounds": SOUNDS, "irrelevant_fraction": 0.4}


def chroma_peak(mono: np.ndarray, rate: int) -> int:
    return int(librosa.feature.chroma_stft(y=mono, sr=rate).mean(axis=1).argmax())


def decode_mono(path: Path, rate: int) -> np.ndarray:
    command = [ffmpeg_binary(), "-v", "error", "-i", str(path)]
    command += ["-f", "f32le", "-ac", "1", "-ar", str(rate), "-"]
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32)


def test_a_label_has_one_signature_in_both_writers() -> None:
    ids = synthetic.audioset_sound_ids(LABELS)
    assert ids == {label: position for position, label in enumerate(LABELS)}
    table = synthetic.signatures(SPEC).set_index("label")
    assert table.at["playing violin", "sound_ids"] == (ids["Violin, fiddle"],)
    assert table.at["barking", "sound_ids"] == table.at["howling", "sound_ids"] == (0, 1)
    clips = synthetic.plan_audioset(AUDIOSET_SPEC)
    violin = clips[clips["labels"] == "Violin, fiddle"]
    assert violin["sound_ids"].tolist() == [(ids["Violin, fiddle"],)] * len(violin)


def test_one_sound_mixes_to_itself() -> None:
    def rng() -> np.random.Generator:
        return np.random.default_rng(0)

    alone = synthetic.render_sound(4, rng(), 0.5, 16000)
    assert np.array_equal(synthetic.render_mixture([4], rng(), 0.5, 16000), alone)
    mixed = synthetic.render_mixture([0, 4], rng(), 0.5, 16000)
    assert mixed.shape == alone.shape and mixed.dtype == np.float32
    assert np.abs(mixed).max() <= 1


def test_without_the_new_keys_the_plan_has_no_new_columns() -> None:
    plan = synthetic.plan_clips(BASE)
    assert "sound_ids" not in plan and "irrelevant" not in plan
    with_keys = synthetic.plan_clips(SPEC)
    # Pictures, missing and silent tracks are drawn as before the keys.
    assert with_keys[plan.columns].equals(plan)


def test_irrelevant_clips_are_exact_far_and_seeded() -> None:
    plan = synthetic.plan_clips(SPEC)
    voiced = plan["has_audio"] & ~plan["silent"]
    assert not plan.loc[~voiced, "irrelevant"].any()  # only clips with sound
    counts = plan[voiced].groupby(["label", "split"])["irrelevant"].agg(["sum", "size"])
    assert (counts["sum"] == (0.4 * counts["size"]).round()).all()
    assert counts["sum"].sum() > 0

    table = synthetic.signatures(SPEC).set_index("label")
    pair_of = {label: n for n, p in enumerate(SPEC["pairs"]) for label in p["classes"]}
    for clip in plan[plan["irrelevant"]].itertuples():
        assert pair_of.get(clip.sound_from) != pair_of.get(clip.label)
        assert clip.sound_ids == table.at[clip.sound_from, "sound_ids"]
        assert not set(clip.sound_ids) & set(table.at[clip.label, "sound_ids"])
    relevant = plan[~plan["irrelevant"]]
    assert (relevant["sound_from"] == relevant["label"]).all()
    assert plan.equals(synthetic.plan_clips(SPEC))
    assert not plan["irrelevant"].equals(synthetic.plan_clips({**SPEC, "seed": 4})["irrelevant"])


def test_irrelevant_fraction_alone_uses_the_classes_own_sounds() -> None:
    plan = synthetic.plan_clips({**BASE, "irrelevant_fraction": 0.5})
    table = synthetic.signatures(BASE).set_index("label")
    moved = plan[plan["irrelevant"]]
    assert len(moved) > 0
    assert [ids[0] for ids in moved["sound_ids"]] == table.loc[
        moved["sound_from"], "sound_id"
    ].tolist()


def test_ceilings_follow_the_audioset_labels() -> None:
    # The violin pair shares its picture, the barking pair its labels: each modality
    # confuses one pair of four, as without audioset_sounds.
    assert synthetic.ceiling(SPEC, "audio") == synthetic.ceiling(BASE, "audio") == 0.75
    assert synthetic.ceiling(SPEC, "video") == synthetic.ceiling(BASE, "video") == 0.75
    everything = [*synthetic.paired_classes(SPEC), "petting cat"]
    assert synthetic.ceiling(SPEC, "audio", classes=everything) == 0.8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"audioset_labels": None}, r"needs synthetic\.audioset_labels"),
        ({"audioset_sounds": {**SOUNDS, "petting cat": []}}, r"no AudioSet labels for \['pett"),
        ({"audioset_sounds": {**SOUNDS, "petting cat": ["Purr"]}}, r"\['Purr'\] are not in"),
        ({"audioset_sounds": {**SOUNDS, "howling": ["Dog"]}}, r"share their sound, so they must"),
        ({"audioset_sounds": {**SOUNDS, "playing cello": ["Violin, fiddle"]}}, r"must not share"),
        ({"audioset_labels": [*LABELS, "Dog"]}, r"AudioSet labels repeated: \['Dog'\]"),
        ({"irrelevant_fraction": 2}, r"irrelevant_fraction: must be within"),
        ({"irrelevant_sounds": ["Purr"]}, r"irrelevant_sounds: \['Purr'\] are not in"),
        ({"irrelevant_sounds": ["Speech", "Piano"]}, r"\['Piano'\] are classes' sounds"),
        ({"irrelevant_sounds": ["Speech"], "audioset_sounds": None},
         r"irrelevant_sounds needs synthetic\.audioset_sounds"),
        ({"spurious_splits": ["train"]}, r"spurious_splits needs synthetic\.irrelevant_sounds"),
        ({"irrelevant_sounds": ["Speech"], "spurious_splits": ["train"]},
         r"5 classes need as many irrelevant_sounds, one each, got 1"),
    ],
)
def test_bad_audioset_keys_are_named(change, message) -> None:
    spec = {key: value for key, value in {**SPEC, **change}.items() if value is not None}
    with pytest.raises(SyntheticSpecError, match=message):
        synthetic.plan_clips(spec)


def test_background_sounds_replace_the_far_classes() -> None:
    """With irrelevant_sounds as many clips of each class are irrelevant, each carrying one
    background label's signature, drawn from the seed; the other clips keep their sound."""
    background = {**SPEC, "irrelevant_sounds": ["Speech"]}
    ids = synthetic.audioset_sound_ids(LABELS)
    far, plan = synthetic.plan_clips(SPEC), synthetic.plan_clips(background)
    def counts(p):
        return p.groupby(["label", "split"])["irrelevant"].sum()

    assert counts(plan).equals(counts(far))
    moved = plan[plan["irrelevant"]]
    assert set(moved["sound_from"]) == {"Speech"}
    assert moved["sound_ids"].tolist() == [(ids[name],) for name in moved["sound_from"]]
    kept = plan[~plan["irrelevant"]]
    assert (kept["sound_from"] == kept["label"]).all()
    own = synthetic.signatures(SPEC).set_index("label").loc[kept["label"], "sound_ids"]
    assert kept["sound_ids"].tolist() == own.tolist()
    assert plan.equals(synthetic.plan_clips(background))


# Five background labels, one for each of SPEC's five classes.
BACKGROUND = ["Speech", "Rain", "Car", "Siren", "Thunder"]
SPURIOUS = {**SPEC, "audioset_labels": [*LABELS, *BACKGROUND[1:]], "irrelevant_sounds": BACKGROUND,
            "spurious_splits": ["train"]}


def test_spurious_splits_tie_each_class_to_its_own_background_sound() -> None:
    """In training every irrelevant clip of a class carries the background sound tied to
    it (the i-th class the i-th sound), a cue to the class; at test the sounds are drawn
    as without the tie, so the cue is gone. The same clips are irrelevant either way."""
    untied = {key: value for key, value in SPURIOUS.items() if key != "spurious_splits"}
    plan, free = synthetic.plan_clips(SPURIOUS), synthetic.plan_clips(untied)
    assert plan.drop(columns=["sound_from", "sound_ids"]).equals(
        free.drop(columns=["sound_from", "sound_ids"]))
    classes = synthetic.signatures(SPURIOUS)["label"].tolist()
    train = plan[plan["irrelevant"] & (plan["split"] == "train")]
    assert set(train["label"]) == set(classes)
    own = dict(zip(classes, BACKGROUND, strict=True))
    assert train.groupby("label")["sound_from"].agg(set).to_dict() == {
        label: {sound} for label, sound in own.items()}
    ids = synthetic.audioset_sound_ids(SPURIOUS["audioset_labels"])
    assert train["sound_ids"].tolist() == [(ids[name],) for name in train["sound_from"]]
    # At test: as drawn without the tie, so a sound mostly comes with another class.
    assert plan[plan["split"] == "test"].equals(free[free["split"] == "test"])
    test = plan[plan["irrelevant"] & (plan["split"] == "test")]
    assert (test["sound_from"] != test["label"].map(own)).any()
    assert plan.equals(synthetic.plan_clips(SPURIOUS))


def test_spurious_splits_must_be_the_datasets_splits() -> None:
    with pytest.raises(SyntheticSpecError, match=r"\['val'\] are not splits of clips_per"):
        synthetic.plan_clips({**SPURIOUS, "spurious_splits": ["val"]})


def test_irrelevant_needs_a_far_class() -> None:
    one_pair = {**SPEC, "pairs": SPEC["pairs"][:1], "extra_classes": []}
    with pytest.raises(SyntheticSpecError, match="no class of another pair sounds unlike"):
        synthetic.plan_clips(one_pair)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_labels_per_clip": 0}, r"max_labels_per_clip must be within \[1, 7\]"),
        ({"labels": ["Dog;Bark"]}, r"must not contain ';'"),
        ({"seed": None}, r"missing keys \['seed'\]"),
    ],
)
def test_bad_audioset_spec_is_named(change, message) -> None:
    spec = {key: value for key, value in {**AUDIOSET_SPEC, **change}.items() if value is not None}
    with pytest.raises(SyntheticSpecError, match=message):
        synthetic.plan_audioset(spec)


@pytest.fixture(scope="module")
def audioset(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synthetic") / "audioset"
    return root, synthetic.write_audioset(root, AUDIOSET_SPEC, workers=2)


def test_audioset_layout_labels_and_wavs(audioset) -> None:
    root, clips = audioset
    listing = pd.read_csv(root / synthetic.AUDIOSET_LABELS_FILE)
    assert listing.columns.tolist() == ["file", "labels"]
    assert len(listing) == len(LABELS) * 3
    assert listing["file"].tolist() == [f"audio/{c}.wav" for c in clips["clip_id"]]
    read = synthetic.read_audioset(root)
    assert read["path"].tolist() == clips["path"].tolist()
    sizes = read["labels"].map(len)
    assert sizes.between(1, 2).all() and (sizes == 2).any() and (sizes == 1).any()
    assert ["Violin, fiddle"] in read["labels"].tolist()  # a comma survives the CSV
    for label in LABELS:  # each label leads its clips_per_label clips, at least
        assert sum(label in names for names in read["labels"]) >= 3
    info = soundfile.info(read["path"][0])
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.frames == 16000
    assert (root / synthetic.MARKER).is_file()


def test_audioset_sound_is_the_labels_signature(audioset) -> None:
    _, clips = audioset
    ids = synthetic.audioset_sound_ids(LABELS)
    for label in ("Violin, fiddle", "Speech"):
        clip = clips[clips["labels"] == label].iloc[0]
        mono, rate = soundfile.read(clip.path)
        assert chroma_peak(mono, rate) == synthetic.pitch_class(ids[label])


def test_audioset_rerun_is_identical(audioset, tmp_path) -> None:
    root, _ = audioset
    synthetic.write_audioset(tmp_path / "again", AUDIOSET_SPEC, workers=2)
    for path in root.rglob("*.*"):
        assert (tmp_path / "again" / path.relative_to(root)).read_bytes() == path.read_bytes()


def test_audioset_never_overwrites_other_data(tmp_path) -> None:
    (tmp_path / "audioset").mkdir()
    (tmp_path / "audioset" / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="already exists"):
        synthetic.write_audioset(tmp_path / "audioset", AUDIOSET_SPEC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audioset"]


def test_kinetics_records_irrelevant_audio_and_sounds_like_the_far_class(tmp_path) -> None:
    spec = {**SPEC, "clips_per_class": {"train": 3, "test": 2}, "irrelevant_fraction": 0.5}
    spec.update(no_audio_fraction=0, silent_fraction=0)
    clips = synthetic.write_kinetics(tmp_path / "kinetics400", spec, workers=2)
    plan = synthetic.read_plan(tmp_path / "kinetics400")
    assert plan.columns.tolist() == synthetic.PLAN_COLUMNS
    assert plan["clip_id"].tolist() == clips["clip_id"].tolist()
    assert plan["irrelevant"].tolist() == clips["irrelevant"].tolist()
    assert plan["irrelevant"].any() and not plan["irrelevant"].all()
    barking = plan[(plan["sound_from"] == "barking")]
    assert (barking["audio_labels"] == "Dog;Bark").all()
    # A violin clip sounds like the violin label, unless its sound is a far class's.
    ids = synthetic.audioset_sound_ids(LABELS)
    expected = {"playing violin": ids["Violin, fiddle"], "playing cello": ids["Piano"]}
    for clip in clips.itertuples():
        if clip.sound_from in expected:
            heard = chroma_peak(decode_mono(Path(clip.path), 16000), 16000)
            assert heard == synthetic.pitch_class(expected[clip.sound_from]), clip
    assert not (tmp_path / "plain").exists()
    synthetic.write_kinetics(
        tmp_path / "plain", {**BASE, "clips_per_class": {"train": 1, "test": 1}}, workers=2
    )
    assert not (tmp_path / "plain" / synthetic.PLAN_FILE).exists()
