"""Synthetic smoke datasets: known signatures and ceilings, real layouts, decodable files."""

import hashlib
import re
import subprocess
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile

from avrepro.data import ave, dcase, faults, mit, synthetic
from avrepro.data.ave import read_annotations, read_ave
from avrepro.data.dcase import read_dcase
from avrepro.data.kinetics import read_kinetics
from avrepro.data.manifest import build_manifest, read_manifest, write_manifest
from avrepro.data.mit import read_categories, read_mit
from avrepro.data.synthetic import SyntheticSpecError
from avrepro.data.ucf101 import read_ucf101
from avrepro.media.audio import load_wav
from avrepro.media.ffmpeg import ffmpeg_binary
from avrepro.media.probe import probe
from avrepro.media.shards import extract_audio_shard

RATE = 44100
SPEC = {
    "seed": 3,
    "pairs": [
        {"classes": ["BoxingPunchingBag", "BoxingSpeedBag"], "share": "picture"},
        {"classes": ["CricketBowling", "CricketShot"], "share": "sound"},
    ],
    "extra_classes": ["Biking"],
    "clips_per_class": {"train": 2, "test": 1},
    "duration": 1.0,
    "fps": 10,
    "size": [32, 24],
    "audio_rate": RATE,
    "no_audio_fraction": 0.2,  # 3 of the 15 clips
}
PAIRED = ["BoxingPunchingBag", "BoxingSpeedBag", "CricketBowling", "CricketShot"]


def decode(path: Path, *output_format: str) -> bytes:
    command = [ffmpeg_binary(), "-v", "error", "-i", str(path), *output_format, "-"]
    return subprocess.run(command, capture_output=True, check=True).stdout


def decode_frames(path: Path) -> np.ndarray:
    width, height = SPEC["size"]
    # passthrough: by default ffmpeg pads AVI video with a repeated frame to the audio length.
    raw = decode(path, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24")
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)  # (frames, H, W, 3)


def decode_audio(path: Path) -> np.ndarray:
    return np.frombuffer(decode(path, "-f", "f32le", "-ac", "1", "-ar", str(RATE)), np.float32)


def stream_summary(path: Path) -> str:
    command = [ffmpeg_binary(), "-hide_banner", "-i", str(path)]
    return subprocess.run(command, capture_output=True, text=True).stderr


def chroma_peak(mono: np.ndarray) -> int:
    return int(librosa.feature.chroma_stft(y=mono, sr=RATE).mean(axis=1).argmax())


@pytest.fixture(scope="module")
def ucf(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synthetic") / "ucf101"
    return root, synthetic.write_ucf101(root, SPEC, workers=2)


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synthetic") / "kinetics400"
    return root, synthetic.write_kinetics(root, SPEC, workers=2)


def test_pairs_share_exactly_one_signature() -> None:
    table = synthetic.signatures(SPEC).set_index("label")
    assert table.index.tolist() == [*PAIRED, "Biking"]
    boxing, cricket = table.loc[PAIRED[:2]], table.loc[PAIRED[2:]]
    assert boxing["picture_id"].nunique() == 1 and boxing["sound_id"].nunique() == 2
    assert cricket["sound_id"].nunique() == 1 and cricket["picture_id"].nunique() == 2
    assert table["picture_id"].nunique() == 4 and table["sound_id"].nunique() == 4


def test_ceilings_follow_the_shared_signatures() -> None:
    # One pair of each kind: each modality confuses one pair of four classes.
    assert synthetic.ceiling(SPEC, "video") == 0.75
    assert synthetic.ceiling(SPEC, "audio") == 0.75
    assert synthetic.ceiling(SPEC, "video", classes=[*PAIRED, "Biking"]) == 0.8
    only_pictures = {**SPEC, "pairs": [{**SPEC["pairs"][1], "share": "picture"}]}
    assert synthetic.ceiling(only_pictures, "video") == 0.5
    assert synthetic.ceiling(only_pictures, "audio") == 1.0
    with pytest.raises(ValueError, match="modality must be one of"):
        synthetic.ceiling(SPEC, "text")


def test_no_audio_fraction_is_exact() -> None:
    spec = {**SPEC, "clips_per_class": {"train": 30, "test": 10}, "no_audio_fraction": 0.05}
    plan = synthetic.plan_clips(spec)
    assert len(plan) == 5 * 40
    assert (~plan["has_audio"]).sum() == 10
    assert plan.groupby(["label", "split"]).size().to_dict()[("Biking", "train")] == 30


def test_silent_tracks_are_exact_disjoint_and_leave_the_no_audio_draw() -> None:
    spec = {**SPEC, "clips_per_class": {"train": 30, "test": 10}, "no_audio_fraction": 0.05}
    plan = synthetic.plan_clips({**spec, "silent_fraction": 0.1})
    assert plan["silent"].sum() == 20
    assert not (plan["silent"] & ~plan["has_audio"]).any()  # a silent clip has a track
    # Its own stream: the no-audio clips and everything else stay as without the key.
    without = synthetic.plan_clips(spec)
    assert not without["silent"].any()
    assert plan.drop(columns="silent").equals(without.drop(columns="silent"))
    again = synthetic.plan_clips({**spec, "silent_fraction": 0.1, "seed": 4})
    assert not again["silent"].equals(plan["silent"])


def test_a_silent_clip_renders_a_track_of_zeros() -> None:
    spec = {**SPEC, "no_audio_fraction": 0, "silent_fraction": 0.2}
    plan = synthetic.plan_clips(spec)
    silent, voiced = np.flatnonzero(plan["silent"]), np.flatnonzero(~plan["silent"])
    assert len(silent) == 3
    frames, audio = synthetic.render_clip(spec, plan, silent[0])
    assert audio.shape == (RATE, 2) and audio.dtype == np.float32 and not audio.any()
    assert np.array_equal(frames, synthetic.render_clip(SPEC, plan, silent[0])[0])
    assert np.abs(synthetic.render_clip(spec, plan, voiced[0])[1]).max() > 0.1


# Digest of every clip of SPEC's frames and audio bytes, taken before appearance pairs and
# silent tracks existed: the datasets written then must stay byte-identical.
SPEC_CLIPS_SHA256 = "b28e2cb24afe4b7dd007276608532965a015d9d6b4f788f262056245cb4c21d5"


def test_datasets_without_the_new_keys_are_unchanged() -> None:
    plan = synthetic.plan_clips(SPEC)
    assert np.flatnonzero(~plan["has_audio"]).tolist() == [1, 2, 10]
    assert not plan["silent"].any()
    assert (plan["direction"] == np.where(plan["picture_id"] % 2 == 0, 1, -1)).all()
    digest = hashlib.sha256()
    for position in range(len(plan)):
        frames, audio = synthetic.render_clip(SPEC, plan, position)
        digest.update(frames.tobytes())
        digest.update(b"" if audio is None else audio.tobytes())
    assert digest.hexdigest() == SPEC_CLIPS_SHA256


APPEARANCE_SPEC = {
    **SPEC,
    "pairs": [SPEC["pairs"][0], {"classes": ["swimming", "wrapping"], "share": "appearance"}],
    "extra_classes": [],
}


def test_an_appearance_pair_shares_the_picture_not_the_motion_or_sound() -> None:
    table = synthetic.signatures(APPEARANCE_SPEC).set_index("label")
    pair = table.loc[["swimming", "wrapping"]]
    assert pair["picture_id"].nunique() == 1 and pair["sound_id"].nunique() == 2
    assert pair["direction"].tolist() == [1, -1]
    # A single frame confuses both pairs, moving frames only the picture pair, sound none.
    assert synthetic.ceiling(APPEARANCE_SPEC, "appearance") == 0.5
    assert synthetic.ceiling(APPEARANCE_SPEC, "video") == 0.75
    assert synthetic.ceiling(APPEARANCE_SPEC, "audio") == 1.0
    assert synthetic.ceiling(APPEARANCE_SPEC, "video", classes=["swimming", "wrapping"]) == 1.0
    assert synthetic.ceiling(SPEC, "appearance") == synthetic.ceiling(SPEC, "video")


def stripe_drift(frames: np.ndarray) -> np.ndarray:
    """Phase step (radians) between consecutive frames of the strongest spatial frequency
    of the first frame: (frames - 1,). Stripes moving the other way step the other way."""
    grey = frames.mean(axis=-1)  # (frames, H, W)
    spectra = np.fft.fft2(grey - grey.mean(axis=(1, 2), keepdims=True))
    peak = np.unravel_index(np.abs(spectra[0]).argmax(), spectra[0].shape)
    at_peak = spectra[:, peak[0], peak[1]]  # (frames,)
    return np.angle(at_peak[1:] * np.conj(at_peak[:-1]))


@pytest.mark.parametrize("seed", [0, 1])
def test_directions_differ_in_motion_only(seed: int) -> None:
    picture = synthetic.signatures(APPEARANCE_SPEC).set_index("label").loc["swimming"].picture_id

    def render(direction: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return synthetic.render_picture(picture, direction, rng, 1.0, 10, (32, 24))

    forward, backward = render(1), render(-1)
    assert np.array_equal(forward[0], backward[0])  # the same jitter: one frame is all alike
    assert np.abs(forward[2].astype(int) - backward[2]).mean() > 20  # 0.4 periods apart
    drift, back = stripe_drift(forward), stripe_drift(backward)
    assert (np.abs(drift) > 0.2).all() and (np.sign(drift) == np.sign(drift[0])).all()
    assert (np.sign(back) == -np.sign(drift)).all()
    np.testing.assert_allclose(np.abs(back), np.abs(drift), atol=0.15)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra_classes": ["CricketShot"]}, r"classes repeated: \['CricketShot'\]"),
        ({"size": [33, 24]}, r"synthetic\.size: width and height must be even"),
        ({"pairs": [{"classes": ["a", "b"], "share": "both"}]}, r"share must be one of \['pic"),
        ({"silent_fraction": 1.5}, r"synthetic\.silent_fraction: must be within \[0, 1\]"),
        ({"no_audio_fraction": 0.6, "silent_fraction": 0.6}, r"9 silent tracks asked for, but"),
        ({"fps": None}, r"synthetic: missing keys \['fps'\]"),
    ],
)
def test_bad_spec_names_the_key(change, message) -> None:
    spec = {key: value for key, value in {**SPEC, **change}.items() if value is not None}
    with pytest.raises(SyntheticSpecError, match=message):
        synthetic.plan_clips(spec)


def test_sounds_peak_at_their_own_pitch_class() -> None:
    rng = np.random.default_rng(0)
    peaks = [chroma_peak(synthetic.render_sound(s, rng, 1.0, RATE)[:, 0]) for s in range(4)]
    assert peaks == [synthetic.pitch_class(s) for s in range(4)]
    assert len(set(peaks)) == 4


@pytest.mark.parametrize("sound_id", [0, 3])
def test_sounds_pulse_at_their_own_rate(sound_id: int) -> None:
    duration = 4.0
    sound = synthetic.render_sound(sound_id, np.random.default_rng(1), duration, RATE)[:, 0]
    envelope_spectrum = np.abs(np.fft.rfft(np.abs(sound) - np.abs(sound).mean()))
    frequencies = np.fft.rfftfreq(len(sound), 1 / RATE)
    slow = frequencies < 40
    peak = frequencies[slow][envelope_spectrum[slow].argmax()]
    assert peak == pytest.approx(synthetic.PULSE_BASE_HZ + sound_id, abs=0.3)


def test_pictures_differ_more_than_their_jitter() -> None:
    def hue(picture_id: int, seed: int) -> np.ndarray:
        """Mean colour, normalised: brightness is jittered per clip, the hue is not."""
        rng = np.random.default_rng(seed)
        frames = synthetic.render_picture(picture_id, 1, rng, 1.0, 10, (32, 24))
        colour = frames.mean(axis=(0, 1, 2))  # (3,)
        return colour / np.linalg.norm(colour)

    same = np.abs(hue(0, 1) - hue(0, 2)).max()
    different = min(np.abs(hue(0, 1) - hue(p, 2)).max() for p in (1, 2, 3))
    assert different > 10 * same
    frames = synthetic.render_picture(2, 1, np.random.default_rng(0), 1.0, 10, (32, 24))
    assert frames.shape == (10, 24, 32, 3) and frames.dtype == np.uint8
    assert np.abs(frames[0].astype(int) - frames[5]).mean() > 20  # the stripes move


def test_rendering_is_deterministic_per_seed() -> None:
    plan = synthetic.plan_clips(SPEC)
    first, again = synthetic.render_clip(SPEC, plan, 0), synthetic.render_clip(SPEC, plan, 0)
    other = synthetic.render_clip({**SPEC, "seed": 4}, plan, 0)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert synthetic.signatures(SPEC).equals(synthetic.signatures(dict(SPEC)))


def test_ucf101_layout_is_read_by_the_reader(ucf) -> None:
    root, clips = ucf
    for split in (1, 2, 3):
        listed = read_ucf101(root, split)
        assert sorted(listed["clip_id"]) == sorted(clips["clip_id"])
        assert set(listed["split"]) == {"train", "test"}
    listed = read_ucf101(root, 1)
    merged = listed.merge(clips, on="clip_id", suffixes=("", "_written"))
    assert (merged["split"] == merged["split_written"]).all()
    assert (merged["label"] == merged["label_written"]).all()
    sizes = merged.groupby(["split", "label"]).size()
    assert sizes["train"].eq(2).all() and sizes["test"].eq(1).all() and len(sizes) == 10


def test_ucf101_splits_1_to_3_list_every_clip_once(ucf) -> None:
    root, clips = ucf
    for split in (1, 2, 3):  # a dataset view on another split reuses the same clips' media
        listed = read_ucf101(root, split)
        assert sorted(listed["clip_id"]) == sorted(clips["clip_id"])
        assert listed.groupby("label")["split"].nunique().eq(2).all()  # train and test


def test_ucf101_manifest_keeps_paired_classes_and_sees_missing_audio(ucf) -> None:
    root, clips = ucf
    manifest = build_manifest(read_ucf101(root, 1), PAIRED, probe_workers=2)
    assert set(manifest["label"]) == set(PAIRED)  # Biking filtered out
    assert set(manifest["status"]) == {"ok"}
    written = clips.set_index("clip_id")["has_audio"]
    assert (manifest["has_audio"] == manifest["clip_id"].map(written)).all()
    assert (~clips["has_audio"]).sum() == 3
    assert manifest["duration"].between(0.9, 1.2).all()


def test_ucf101_clips_are_xvid_mp3_and_decode(ucf) -> None:
    _, clips = ucf
    for clip in clips.itertuples():
        info = probe(clip.path)
        assert (info.width, info.height, info.fps) == (32, 24, 10)
        assert info.has_audio == clip.has_audio
    voiced = clips[clips["has_audio"]].iloc[0]
    summary = stream_summary(Path(voiced.path))
    assert "(XVID / 0x44495658)" in summary
    assert "Audio: mp3" in summary and "44100 Hz, stereo" in summary
    assert decode_frames(Path(voiced.path)).shape == (10, 24, 32, 3)
    audio = decode_audio(Path(voiced.path))
    assert len(audio) >= RATE * 0.95
    assert chroma_peak(audio) == synthetic.pitch_class(voiced.sound_id)


def test_kinetics_layout_is_read_by_the_reader(kinetics) -> None:
    root, clips = kinetics
    listed = read_kinetics(root, {"train": "train", "test": "val"})
    merged = listed.merge(clips, on=["clip_id", "path", "label", "split"], how="outer")
    assert len(merged) == len(listed) == len(clips) == 15
    youtube_ids = listed["clip_id"].str[:11]
    assert youtube_ids.str.fullmatch(r"[A-Za-z0-9_-]{11}").all() and youtube_ids.is_unique
    assert listed["clip_id"].str.fullmatch(r".{11}_\d{6}_\d{6}").all()
    assert all(Path(path).is_file() for path in listed["path"])


def test_kinetics_clips_are_h264_aac_and_decode(kinetics) -> None:
    _, clips = kinetics
    for clip in clips.itertuples():
        assert probe(clip.path).has_audio == clip.has_audio
    voiced = Path(clips[clips["has_audio"]].iloc[0].path)
    summary = stream_summary(voiced)
    assert "Video: h264" in summary and "Audio: aac" in summary
    assert decode_frames(voiced).shape == (10, 24, 32, 3)


def test_same_seed_writes_identical_files(tmp_path: Path) -> None:
    tiny = {**SPEC, "pairs": SPEC["pairs"][:1], "extra_classes": [], "duration": 0.5}
    tiny["clips_per_class"] = {"train": 1, "test": 1}

    def contents(root: Path) -> dict[Path, bytes]:
        return {path.relative_to(root): path.read_bytes() for path in root.rglob("*.*")}

    synthetic.write_ucf101(tmp_path / "a", tiny, workers=2)
    synthetic.write_ucf101(tmp_path / "b", tiny, workers=2)
    synthetic.write_ucf101(tmp_path / "c", {**tiny, "seed": 4}, workers=2)
    a, b = contents(tmp_path / "a"), contents(tmp_path / "b")
    assert len(a) == 4 + 7  # clips, then classInd and 3 train and 3 test lists
    assert a == b
    first_clip = sorted(path for path in a if path.suffix == ".avi")[0]
    assert not np.array_equal(
        decode_audio(tmp_path / "a" / first_clip), decode_audio(tmp_path / "c" / first_clip)
    )


def test_existing_data_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "ucf101").mkdir()
    (tmp_path / "ucf101" / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="ucf101: already exists"):
        synthetic.write_ucf101(tmp_path / "ucf101", SPEC)
    assert (tmp_path / "ucf101" / "mine.txt").read_text() == "keep"


def test_a_previous_synthetic_dataset_is_replaced(tmp_path: Path) -> None:
    tiny = {**SPEC, "clips_per_class": {"train": 1, "test": 1}, "pairs": SPEC["pairs"][:1]}
    synthetic.write_ucf101(tmp_path / "ucf101", tiny, workers=2)
    (tmp_path / "ucf101" / "stale.txt").write_text("from an older run")
    synthetic.write_ucf101(tmp_path / "ucf101", tiny, workers=2)
    assert not (tmp_path / "ucf101" / "stale.txt").exists()
    assert (tmp_path / "ucf101" / synthetic.MARKER).is_file()


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    def broken_encode(path, *args):
        raise RuntimeError(f"{path}: ffmpeg could not encode it")

    monkeypatch.setattr(synthetic, "_encode", broken_encode)
    with pytest.raises(RuntimeError, match="could not encode"):
        synthetic.write_kinetics(tmp_path / "kinetics400", SPEC, workers=2)
    assert list(tmp_path.iterdir()) == []


def test_a_dataset_refuses_counts_for_splits_it_lacks() -> None:
    with_val = {**SPEC, "clips_per_class": {"train": 2, "val": 1, "test": 1}}
    with pytest.raises(SyntheticSpecError, match=r"splits are \['train', 'test'\], got"):
        synthetic.plan_clips(with_val)
    plan = synthetic.plan_clips(with_val, synthetic.AVE_SPLITS)
    assert plan["split"].value_counts().to_dict() == {"train": 10, "val": 5, "test": 5}
    with pytest.raises(SyntheticSpecError, match=r"clips_per_class"):
        synthetic.plan_clips(SPEC, synthetic.AVE_SPLITS)  # no val count


# --- AVE ---

AVE_SPEC = {
    **SPEC,
    "pairs": [
        {"classes": ["Church bell", "Clock"], "share": "picture"},
        {"classes": ["Banjo", "Baby cry, infant cry"], "share": "sound"},
    ],
    "extra_classes": [],
    "clips_per_class": {"train": 1, "val": 1, "test": 1},
    "duration": 2.0,
    "no_audio_fraction": 0.1,  # 1 of the 12 clips
}


@pytest.fixture(scope="module")
def ave_written(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synthetic") / "ave"
    return root, synthetic.write_ave(root, AVE_SPEC, workers=2)


def test_ave_layout_is_read_by_the_reader(ave_written) -> None:
    root, clips = ave_written
    listed = read_ave(root)
    merged = listed.merge(clips, on=["clip_id", "path", "label", "split"], how="outer")
    assert len(merged) == len(listed) == len(clips) == 12
    assert listed["split"].value_counts().to_dict() == {"train": 4, "val": 4, "test": 4}
    assert all(Path(path).is_file() for path in listed["path"])
    video_ids = [Path(path).stem for path in listed["path"]]
    assert pd.Series(video_ids).str.fullmatch(r"[A-Za-z0-9_-]{11}").all()
    assert len(set(video_ids)) == 12
    for name in ("Annotations.txt", "trainSet.txt", "valSet.txt", "testSet.txt"):
        assert (root / name).read_text().splitlines()[0] == ave.HEADER
    assert (root / synthetic.MARKER).is_file()


def test_ave_annotations_hold_every_event_in_the_clip(ave_written) -> None:
    root, clips = ave_written
    rows = read_annotations(root / "Annotations.txt")
    assert len(rows) == 12 and set(rows["quality"]) == {"good"}
    # Grouped by category, as the real file is.
    order = synthetic.paired_classes(AVE_SPEC)
    assert rows["category"].tolist() == sorted(rows["category"], key=order.index)
    assert ((0 <= rows["start"]) & (rows["start"] < rows["end"]) & (rows["end"] <= 2)).all()
    ids = [ave.clip_id(c, v) for c, v in zip(rows["category"], rows["video_id"], strict=True)]
    assert sorted(ids) == sorted(clips["clip_id"])


def test_ave_clips_are_h264_aac_with_some_silent(ave_written) -> None:
    root, clips = ave_written
    for clip in clips.itertuples():
        assert probe(clip.path).has_audio == clip.has_audio
    assert (~clips["has_audio"]).sum() == 1
    voiced = clips[clips["has_audio"]].iloc[0]
    summary = stream_summary(Path(voiced.path))
    assert "Video: h264" in summary and "Audio: aac" in summary
    assert chroma_peak(decode_audio(Path(voiced.path))) == synthetic.pitch_class(voiced.sound_id)


@pytest.mark.parametrize(
    ("writer", "change", "message"),
    [
        (synthetic.write_ave, {"extra_classes": ["Dog"]}, r"\['Dog'\] are not AVE classes"),
        (synthetic.write_ave, {"clips_per_class": {"train": 1, "test": 1}}, r"clips_per_class"),
        (synthetic.write_dcase, {"extra_classes": ["beach"]}, r"\['beach'\] are not DCASE"),
        (synthetic.write_dcase, {"faults": {"bad_audio": 1}}, r"no audio track to damage"),
    ],
)
def test_writers_refuse_what_the_real_dataset_lacks(tmp_path, writer, change, message) -> None:
    base = AVE_SPEC if writer is synthetic.write_ave else DCASE_SPEC
    with pytest.raises(SyntheticSpecError, match=message):
        writer(tmp_path / "dataset", {**base, **change}, workers=2)
    assert list(tmp_path.iterdir()) == []


def test_ave_faults_name_ave_clip_ids(tmp_path: Path) -> None:
    tiny = {**AVE_SPEC, "pairs": AVE_SPEC["pairs"][:1], "no_audio_fraction": 0}
    tiny["faults"] = {"missing": 1}
    clips = synthetic.write_ave(tmp_path / "ave", tiny, workers=2)
    recorded = pd.read_csv(tmp_path / "ave" / faults.FAULTS_FILE)
    assert recorded["fault"].tolist() == ["missing"]
    gone = clips.set_index("clip_id").loc[recorded["clip_id"][0], "path"]
    assert not Path(gone).exists()
    assert recorded["path"][0] == Path(gone).relative_to(tmp_path / "ave").as_posix()


# --- DCASE 2021 Task 1B ---

DCASE_SPEC = {
    **SPEC,
    "pairs": [
        {"classes": ["park", "street_traffic"], "share": "picture"},
        {"classes": ["metro", "tram"], "share": "sound"},
    ],
    "extra_classes": [],
    "clips_per_class": {"train": 3, "test": 2},
    "audio_rate": 48000,
    "no_audio_fraction": 0.1,  # 2 of the 20 clips have no WAV
}


@pytest.fixture(scope="module")
def dcase_written(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synthetic") / "dcase2021"
    return root, synthetic.write_dcase(root, DCASE_SPEC, workers=2)


def test_dcase_layout_is_read_by_the_reader(dcase_written) -> None:
    root, clips = dcase_written
    listed = read_dcase(root)
    merged = listed.merge(clips, on=["clip_id", "path", "audio_path", "label", "split"])
    assert len(merged) == len(listed) == len(clips) == 20
    header = (root / "evaluation_setup" / "fold1_train.csv").read_text().splitlines()[0]
    assert header == "filename_audio\tfilename_video\tscene_label"
    parts = listed["clip_id"].str.split("-", expand=True)  # scene, city, location, segment
    assert (parts[0] == listed["label"]).all() and parts[1].isin(dcase.CITIES).all()
    assert parts[2].str.isdigit().all() and parts[3].str.isdigit().all()
    locations = parts.groupby(listed["split"])[2].apply(set)
    assert not locations["train"] & locations["test"]  # no location in both folds
    assert parts[1].nunique() > 1


def test_dcase_sound_is_a_wav_and_the_video_has_none(dcase_written) -> None:
    _, clips = dcase_written
    for clip in clips.itertuples():
        assert probe(clip.path).has_video and not probe(clip.path).has_audio
        assert Path(clip.audio_path).is_file() == clip.has_audio
    assert (~clips["has_audio"]).sum() == 2
    voiced = clips[clips["has_audio"]].iloc[0]
    info = soundfile.info(voiced.audio_path)
    assert (info.samplerate, info.channels, info.subtype) == (48000, 2, "PCM_24")
    samples, _ = soundfile.read(voiced.audio_path)
    assert chroma_peak(librosa.resample(samples[:, 0], orig_sr=48000, target_sr=RATE)) == (
        synthetic.pitch_class(voiced.sound_id)
    )


def test_dcase_manifest_and_audio_come_from_the_wav(dcase_written, tmp_path) -> None:
    root, clips = dcase_written
    built = build_manifest(read_dcase(root), ["park", "street_traffic", "metro", "tram"])
    assert set(built["status"]) == {"ok"}
    written = clips.set_index("clip_id")["has_audio"]
    assert (built["has_audio"] == built["clip_id"].map(written)).all()
    write_manifest(built, tmp_path / "dcase.csv")
    rows = read_manifest(tmp_path / "dcase.csv")
    assert (
        rows["audio_path"].tolist()
        == clips.set_index("clip_id").loc[rows["clip_id"], "audio_path"].tolist()
    )
    # The two-phase system keeps both binaural channels at 32 kHz.
    index = extract_audio_shard(rows.iloc[:4], tmp_path / "audio", 32000, channels=2)
    for clip in index.itertuples():
        assert clip.audio_status == ("ok" if written[clip.clip_id] else "no_audio")
    ok = index[index["audio_status"] == "ok"].iloc[0]
    samples, rate = load_wav(tmp_path / "audio" / f"{ok.clip_id}.wav")
    assert rate == 32000 and samples.shape == (2, 32000)
    assert not np.allclose(samples[0], samples[1])  # two channels kept, not one copied


# --- Moments in Time mini ---

MIT_SPEC = {
    **APPEARANCE_SPEC,
    "pairs": [
        {"classes": ["barking", "howling"], "share": "picture"},
        {"classes": ["swimming", "wrapping"], "share": "appearance"},
    ],
    "no_audio_fraction": 0.25,  # 3 of the 12 clips
    "silent_fraction": 0.25,  # 3 others
}
MIT_FILE_NAME = r"(yt-[A-Za-z0-9_-]{11}_\d+|getty-[a-z]+-video-id\d{9}_\d+)\.mp4"


@pytest.fixture(scope="module")
def mit_written(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synthetic") / "moments_mini"
    return root, synthetic.write_mit(root, MIT_SPEC, workers=2)


def test_mit_layout_is_read_by_the_reader(mit_written) -> None:
    root, clips = mit_written
    listed = read_mit(root)
    merged = listed.merge(clips, on=["clip_id", "path", "label", "split"], how="outer")
    assert len(merged) == len(listed) == len(clips) == 12
    assert listed["split"].value_counts().to_dict() == {"train": 8, "test": 4}
    assert read_categories(root / mit.CATEGORIES_FILE) == {
        "barking": 0,
        "howling": 1,
        "swimming": 2,
        "wrapping": 3,
    }
    for split, (list_name, folder) in mit.SPLITS.items():
        rows = (root / list_name).read_text().splitlines()
        assert len(rows) == (clips["split"] == split).sum()
        # No header; "label/file.mp4,label,agree,disagree" as the real lists.
        assert all(re.fullmatch(r"([a-z]+)/[^,/]+\.mp4,\1,3,0", row) for row in rows)
        paths = listed.loc[listed["split"] == split, "path"].map(Path)
        assert all(path.parent.parent == root / folder and path.is_file() for path in paths)
    names = listed["path"].map(lambda path: Path(path).name)
    assert names.str.fullmatch(MIT_FILE_NAME).all() and names.is_unique
    assert names.str.startswith("yt-").any() and names.str.startswith("getty-").any()


def test_mit_clips_without_sound_have_no_track_or_a_silent_one(mit_written, tmp_path) -> None:
    root, clips = mit_written
    assert (~clips["has_audio"]).sum() == 3 and clips["silent"].sum() == 3
    assert not (clips["silent"] & ~clips["has_audio"]).any()
    for clip in clips.itertuples():
        assert probe(clip.path).has_audio == clip.has_audio
        if clip.has_audio:
            audio = decode_audio(Path(clip.path))
            assert len(audio) >= 0.95 * RATE
            assert (not audio.any()) == clip.silent
    voiced = clips[clips["has_audio"] & ~clips["silent"]].iloc[0]
    summary = stream_summary(Path(voiced.path))
    assert "Video: h264" in summary and "Audio: aac" in summary
    assert chroma_peak(decode_audio(Path(voiced.path))) == synthetic.pitch_class(voiced.sound_id)
    # The media stage tells a silent track from a sounding one by its decoded samples.
    manifest = build_manifest(read_mit(root), synthetic.paired_classes(MIT_SPEC))
    index = extract_audio_shard(manifest, tmp_path / "audio", 16000).set_index("clip_id")
    written = clips.set_index("clip_id").loc[index.index]
    assert index["audio_status"].tolist() == written["has_audio"].map(
        {True: "ok", False: "no_audio"}
    ).tolist()
    assert index["silent"].tolist() == written["silent"].tolist()
