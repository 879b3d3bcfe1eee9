"""Synthetic smoke-tier datasets with a known answer, written in the real on-disk layouts.

Classes come in confusable pairs (DESIGN.md, "Tiers"): a pair that shares its picture
differs only in sound, a pair that shares its sound differs only in picture. So video
alone and audio alone each top out at a known accuracy (`ceiling`) and a working fusion
must beat both. A pair that shares its appearance looks the same in any single frame but
its stripes move the opposite ways (and it sounds different): a single RGB frame cannot
tell it apart, optical flow can (Lee et al., Table 4: RGB + Flow beats RGB).

- A sound signature is a tone of its own pitch class (so a chromagram sees it) pulsed at
  its own rate (so time-axis pictures such as a waveform plot differ too).
- A picture signature is a stripe pattern of its own colour, orientation, width,
  direction and speed.
- Every clip jitters its signature (phases, onset, amplitude, speed, brightness, noise),
  a fraction of clips has no audio track at all (the container holds video only), and
  another fraction has a track of digital silence (all samples zero).

`write_ucf101`, `write_kinetics`, `write_ave`, `write_dcase` and `write_mit` put the clips
where `read_ucf101`, `read_kinetics`, `read_ave`, `read_dcase` and `read_mit` look for the
real ones, so the same readers serve both tiers.

For IMD (relevance of a clip's audio to its class) the sounds can stand for AudioSet labels:
`write_audioset` writes an AudioSet-like sound set whose labels are sound signatures, on
which the smoke tier trains a small AST; a video spec's `audioset_sounds` gives each class
the mixture of its labels' signatures, so that AST hears those labels in the class's
clips, and `irrelevant_fraction` gives some clips a far class's sound instead, or with
`irrelevant_sounds` a background sound (AudioSet labels no class sounds like), as real
Kinetics clips often carry sound unrelated to their action: music, speech, traffic; with
`spurious_splits` a background sound that misleads (`_irrelevant_sounds`).
"""

import colorsys
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import ffmpeg
import numpy as np
import pandas as pd
import soundfile
from tqdm import tqdm

from avrepro.data import ave, dcase, faults, kinetics, mit, ucf101
from avrepro.media.ffmpeg import ffmpeg_binary
from avrepro.media.probe import stderr_tail

SPLITS = ("train", "test")  # what most datasets have; AVE adds val (AVE_SPLITS)
AVE_SPLITS = ("train", "val", "test")
SHARES = ("picture", "sound", "appearance")  # what the two classes of a pair have in common
# The columns of `signatures` that a modality sees: moving frames show the picture and the
# way it moves, a single frame only the picture, the sound track only the sound.
MODALITY_SIGNATURE = {
    "video": ["picture_id", "direction"],
    "appearance": ["picture_id"],
    "audio": ["sound_id"],
}
REQUIRED_KEYS = ("seed", "pairs", "clips_per_class", "duration", "fps", "size", "audio_rate")

# Independent random streams per purpose, so that e.g. adding Kinetics ids does not
# change the clips' content: default_rng([seed, stream, ...]). A new purpose takes a new
# number, so that the datasets written before it stay byte-identical.
_STREAM_NO_AUDIO, _STREAM_CLIP, _STREAM_YOUTUBE_IDS, _STREAM_EVENTS = 0, 1, 2, 3
_STREAM_SILENT = 4
_STREAM_IRRELEVANT = 5  # which clips carry an irrelevant sound, and which
_STREAM_AUDIOSET_LABELS = 6  # the synthetic AudioSet's label sets
_STREAM_AUDIOSET_CLIP = 7  # its clips' sound, one stream per clip as in render_clip

# Sound s is the note 7*s semitones above C4, folded into one octave per 12 sounds:
# stepping by fifths puts consecutive sounds far apart on the chroma circle, and 36
# sounds (three octaves, up to B6 = 1976 Hz) are more than any smoke config needs.
MAX_SOUNDS = 36
C4_MIDI = 60
PULSE_BASE_HZ = 2.0  # sound s pulses at 2 + s Hz: a few pulses even in a 1 s clip
PULSE_SHARPNESS = 4  # raising the raised cosine to this power makes distinct pulses
AUDIO_NOISE = 0.01  # std of white noise, full scale = 1

GOLDEN = (5**0.5 - 1) / 2  # stepping hue and angle by it spreads any number of pictures
BACKGROUND = 0.1  # grey level between the stripes
PICTURE_NOISE = 0.04  # std of per-pixel noise, full scale = 1
RENDER_CHUNK = 8  # frames rendered at once (render_picture)

YOUTUBE_ID_ALPHABET = np.array(
    list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
)
KINETICS_CLIP_SECONDS = 10  # the length Kinetics clips are cut to; names use it
KINETICS_SPLITS = {"train": "train", "test": "val"}  # papers test on Kinetics' val set
# DCASE: 10-s segments are cut from recordings of a few minutes at one location; every
# location lies wholly in fold1_train or fold1_evaluate.
DCASE_SEGMENTS_PER_LOCATION = 3
DCASE_FIRST_LOCATION, DCASE_FIRST_SEGMENT = 100, 1000  # real ids look like 1095-40158
# The recordings are 48 kHz 24-bit (Pham et al., Sec. IV-A), binaural, so stereo.
DCASE_WAV_SUBTYPE = "PCM_24"
# Moments in Time file names, as the lists name them ("yt-{YouTube id}_{start s}.mp4" for
# most, "getty-{title words}-video-id{9 digits}_{n}.mp4" for about a fifth; seen in
# github.com/mjoannou/audiovisual-moments-in-time, audiovisual_action_recognition/*.csv).
MIT_GETTY_SHARE = 0.2
# The lists' last two fields count the annotators who agreed and disagreed with the label;
# no reader uses them, so every row takes a common value.
MIT_ANNOTATORS = (3, 0)


# AudioSet as AST reads it: 16-kHz mono (Gong et al. resample every clip to 16 kHz).
AUDIOSET_RATE = 16_000
AUDIOSET_REQUIRED_KEYS = ("seed", "labels", "clips_per_label", "duration", "max_labels_per_clip")
AUDIOSET_AUDIO_DIR = "audio"
AUDIOSET_LABELS_FILE = "labels.csv"  # file,labels: "audio/{id}.wav","Dog;Bark"
AUDIOSET_SEPARATOR = ";"  # display names hold commas ("Male speech, man speaking"), no ";"
# Beside a video dataset whose spec sets audioset_sounds or irrelevant_fraction: what each
# clip's audio really carries, for the workflow's tests (`read_plan`).
PLAN_FILE = "synthetic_plan.csv"
PLAN_COLUMNS = [
    "clip_id",
    "label",
    "split",
    "has_audio",
    "silent",
    "irrelevant",
    "sound_from",
    "audio_labels",
]

# Marks a folder as synthetic, so that a rerun may replace it (and nothing else).
MARKER = "SYNTHETIC"


class SyntheticSpecError(ValueError):
    """A `synthetic:` config section that cannot be generated."""


class Codecs(NamedTuple):
    video: dict
    audio: dict


# UCF101's clips are XVID (tagged XVID, as the real files are) + MP3 in AVI.
UCF101_CODECS = Codecs(
    video={"vcodec": "libxvid", "vtag": "XVID", "qscale:v": 4},
    audio={"acodec": "libmp3lame", "audio_bitrate": "128k"},
)
# Kinetics clips from YouTube are H.264 + AAC in MP4; so are AVE's (YouTube too).
KINETICS_CODECS = Codecs(
    video={"vcodec": "libx264", "preset": "veryfast", "crf": 20},
    # ffmpeg's default AAC coder (twoloop) takes most of a clip's encoding time; the fast
    # coder is 2-3x quicker and the tones stay clean at this bitrate.
    audio={"acodec": "aac", "aac_coder": "fast", "audio_bitrate": "128k"},
)
AVE_CODECS = KINETICS_CODECS
# Moments in Time's clips were cut from YouTube and stock sites into H.264 + AAC MP4s.
MIT_CODECS = KINETICS_CODECS
# TAU's videos are H.264 in MP4, without an audio track (see avrepro.data.dcase).
DCASE_CODECS = Codecs(video=KINETICS_CODECS.video, audio={})


def _check(spec: dict) -> None:
    """Catch what the config schema does not: repeated classes, odd sizes, direct calls."""
    missing = [key for key in REQUIRED_KEYS if key not in spec]
    if missing:
        raise SyntheticSpecError(f"synthetic: missing keys {missing}")
    names = [label for pair in spec["pairs"] for label in pair["classes"]]
    names += spec.get("extra_classes", [])
    repeated = sorted({label for label in names if names.count(label) > 1})
    if repeated:
        raise SyntheticSpecError(f"synthetic.pairs/extra_classes: classes repeated: {repeated}")
    bad_shares = [pair["share"] for pair in spec["pairs"] if pair["share"] not in SHARES]
    if bad_shares:
        raise SyntheticSpecError(
            f"synthetic.pairs: share must be one of {list(SHARES)}, got {bad_shares}"
        )
    width, height = spec["size"]
    if width % 2 or height % 2:
        # H.264 and XVID store colour at half resolution (yuv420p).
        raise SyntheticSpecError(
            f"synthetic.size: width and height must be even, got {spec['size']}"
        )
    for key in ("no_audio_fraction", "silent_fraction", "irrelevant_fraction"):
        if not 0 <= spec.get(key, 0) <= 1:
            raise SyntheticSpecError(f"synthetic.{key}: must be within [0, 1]")
    if "audioset_sounds" in spec:
        _check_audioset_sounds(spec, names)
    if "irrelevant_sounds" in spec:
        _check_irrelevant_sounds(spec)
    if "spurious_splits" in spec:
        _check_spurious_splits(spec, names)


def _check_audioset_sounds(spec: dict, classes: list[str]) -> None:
    """Every class sounds like AudioSet labels of spec["audioset_labels"], and the pairs
    keep their design: a sound pair shares its labels, a picture or appearance pair does
    not (else one modality would confuse a pair it is meant to tell apart)."""
    sounds, known = spec["audioset_sounds"], spec.get("audioset_labels")
    if known is None:
        raise SyntheticSpecError(
            "synthetic.audioset_sounds needs synthetic.audioset_labels: the AudioSet label "
            "list whose order gives each label its sound (the synthetic AudioSet's labels)"
        )
    unmapped = [label for label in classes if not sounds.get(label)]
    if unmapped:
        # A class left on its own tone could share that tone with an AudioSet label.
        raise SyntheticSpecError(f"synthetic.audioset_sounds: no AudioSet labels for {unmapped}")
    unknown = sorted({name for names in sounds.values() for name in names} - set(known))
    if unknown:
        raise SyntheticSpecError(
            f"synthetic.audioset_sounds: {unknown} are not in synthetic.audioset_labels"
        )
    for pair in spec["pairs"]:
        first, second = (set(sounds[label]) for label in pair["classes"])
        if (first == second) != (pair["share"] == "sound"):
            raise SyntheticSpecError(
                f"synthetic.audioset_sounds: {pair['classes']} share their {pair['share']}, so "
                f"they must {'' if pair['share'] == 'sound' else 'not '}share AudioSet labels"
            )


def _check_irrelevant_sounds(spec: dict) -> None:
    """Background sounds are AudioSet labels of the list that no class sounds like."""
    background = spec["irrelevant_sounds"]
    if "audioset_sounds" not in spec:
        raise SyntheticSpecError(
            "synthetic.irrelevant_sounds needs synthetic.audioset_sounds: they are AudioSet "
            "labels, heard beside the classes' own"
        )
    unknown = sorted(set(background) - set(spec["audioset_labels"]))
    if unknown:
        raise SyntheticSpecError(
            f"synthetic.irrelevant_sounds: {unknown} are not in synthetic.audioset_labels"
        )
    used = sorted({name for names in spec["audioset_sounds"].values() for name in names}
                  & set(background))
    if used:
        raise SyntheticSpecError(
            f"synthetic.irrelevant_sounds: {used} are classes' sounds (audioset_sounds), so "
            "they would be relevant to those classes"
        )


def _check_spurious_splits(spec: dict, classes: list[str]) -> None:
    """Each class is tied to a background sound of its own (`_spurious_sounds`)."""
    if "irrelevant_sounds" not in spec:
        raise SyntheticSpecError(
            "synthetic.spurious_splits needs synthetic.irrelevant_sounds: the background "
            "sounds tied to the classes"
        )
    if len(spec["irrelevant_sounds"]) < len(classes):
        raise SyntheticSpecError(
            f"synthetic.spurious_splits: {len(classes)} classes need as many "
            f"irrelevant_sounds, one each, got {len(spec['irrelevant_sounds'])}"
        )
    unknown = sorted(set(spec["spurious_splits"]) - set(spec["clips_per_class"]))
    if unknown:
        raise SyntheticSpecError(
            f"synthetic.spurious_splits: {unknown} are not splits of clips_per_class"
        )


def paired_classes(spec: dict) -> list[str]:
    """The classes of the pairs, in config order: the paper's class list of the smoke tier."""
    return [label for pair in spec["pairs"] for label in pair["classes"]]


def picture_direction(picture_id: int) -> int:
    """The way a picture's stripes move (+1 or -1) unless an appearance pair sets it."""
    return 1 if picture_id % 2 == 0 else -1


def signatures(spec: dict) -> pd.DataFrame:
    """DataFrame(label, picture_id, direction, sound_id): paired classes first, then extras.

    An appearance pair shares its picture, and its classes' stripes move the opposite
    ways (+1 for the first class, -1 for the second); every other class moves its
    picture's own way (`picture_direction`).
    """
    _check(spec)
    pictures, sounds = itertools.count(), itertools.count()

    def row(label: str, picture: int, sound: int) -> tuple:
        return label, picture, picture_direction(picture), sound

    rows = []
    for pair in spec["pairs"]:
        first, second = pair["classes"]
        if pair["share"] == "picture":
            picture = next(pictures)
            rows += [row(first, picture, next(sounds)), row(second, picture, next(sounds))]
        elif pair["share"] == "sound":
            sound = next(sounds)
            rows += [row(first, next(pictures), sound), row(second, next(pictures), sound)]
        else:
            picture = next(pictures)
            rows += [(first, picture, 1, next(sounds)), (second, picture, -1, next(sounds))]
    rows += [row(label, next(pictures), next(sounds)) for label in spec.get("extra_classes", [])]
    table = pd.DataFrame(rows, columns=["label", "picture_id", "direction", "sound_id"])
    if table["sound_id"].max() >= MAX_SOUNDS:
        raise SyntheticSpecError(f"synthetic: at most {MAX_SOUNDS} distinct sounds are supported")
    if _mixes_sounds(spec):
        table["sound_ids"] = _class_sound_ids(spec, table)
    return table


def _mixes_sounds(spec: dict) -> bool:
    """Whether clips carry `sound_ids` (a mixture, maybe another class's): only with the
    keys that need it, so that older specs keep their plans and bytes."""
    return "audioset_sounds" in spec or "irrelevant_fraction" in spec


def _class_sound_ids(spec: dict, table: pd.DataFrame) -> list[tuple[int, ...]]:
    """Each class's sound as a tuple of sound ids: its AudioSet labels' signatures, or its
    own sound alone."""
    if "audioset_sounds" not in spec:
        return [(sound,) for sound in table["sound_id"]]
    ids = audioset_sound_ids(spec["audioset_labels"])
    sounds = spec["audioset_sounds"]
    return [tuple(sorted(ids[name] for name in sounds[label])) for label in table["label"]]


def audioset_sound_ids(labels: Sequence[str]) -> dict[str, int]:
    """The sound signature of each AudioSet label: its position in the configured list.

    The one assignment shared by `write_audioset` and a video spec's `audioset_sounds`
    (both name the same list), so an AST trained on the one hears the same labels in the
    other.
    """
    labels = list(labels)
    repeated = sorted({name for name in labels if labels.count(name) > 1})
    if repeated:
        raise SyntheticSpecError(f"AudioSet labels repeated: {repeated}")
    if len(labels) > MAX_SOUNDS:
        raise SyntheticSpecError(f"at most {MAX_SOUNDS} AudioSet labels (distinct sounds)")
    bad = [name for name in labels if AUDIOSET_SEPARATOR in name]
    if bad:
        raise SyntheticSpecError(f"AudioSet labels must not contain {AUDIOSET_SEPARATOR!r}: {bad}")
    return {name: sound for sound, name in enumerate(labels)}


def ceiling(spec: dict, modality: str, classes: Sequence[str] | None = None) -> float:
    """Best accuracy that `modality` alone can reach on `classes`.

    Modalities: "video" (moving frames: the picture and the way it moves, as optical flow
    or several frames see it), "appearance" (what any single frame shows: the picture
    only) and "audio". classes defaults to the paired classes (the smoke tier's paper
    class list). Every class has the same number of clips, so a signature shared by k
    classes is right 1/k of the time at best: the ceiling is (distinct signatures) /
    (classes). Clips without sound only lower what audio alone reaches, so this stays an
    upper bound.
    """
    if modality not in MODALITY_SIGNATURE:
        raise ValueError(f"modality must be one of {list(MODALITY_SIGNATURE)}, got {modality!r}")
    table = signatures(spec)
    classes = paired_classes(spec) if classes is None else list(classes)
    unknown = sorted(set(classes) - set(table["label"]))
    if unknown:
        raise ValueError(f"classes not in the synthetic spec: {unknown}")
    chosen = table[table["label"].isin(classes)]
    columns = MODALITY_SIGNATURE[modality]
    if modality == "audio" and "sound_ids" in table:
        columns = ["sound_ids"]  # what is rendered; irrelevant clips only lower the ceiling
    return len(chosen[columns].drop_duplicates()) / len(chosen)


def plan_clips(spec: dict, splits: Sequence[str] = SPLITS) -> pd.DataFrame:
    """One row per clip: DataFrame(label, split, number, picture_id, direction, sound_id,
    has_audio, silent), and sound_ids, irrelevant, sound_from with audioset_sounds or
    irrelevant_fraction in the spec (see `_irrelevant_sounds`).

    `splits` are the dataset's splits, in order; spec["clips_per_class"] must give a count
    for each and no other. `number` counts the class's clips within the split. Exactly
    round(no_audio_fraction * clips) clips, drawn at random, have no audio track, and
    round(silent_fraction * clips) others, drawn from a stream of their own, have a track
    of digital silence (`silent`).
    """
    counts = spec["clips_per_class"]
    if sorted(counts) != sorted(splits):
        raise SyntheticSpecError(
            f"synthetic.clips_per_class: this dataset's splits are {list(splits)}, "
            f"got {sorted(counts)}"
        )
    table = signatures(spec)
    rows = [
        (label, split, number, *signature)
        for label, *signature in table.itertuples(index=False)
        for split in splits
        for number in range(counts[split])
    ]
    plan = pd.DataFrame(rows, columns=["label", "split", "number", *table.columns[1:]])
    n_no_audio = round(spec.get("no_audio_fraction", 0) * len(plan))
    no_audio = np.random.default_rng([spec["seed"], _STREAM_NO_AUDIO]).choice(
        len(plan), size=n_no_audio, replace=False
    )
    plan["has_audio"] = ~np.isin(np.arange(len(plan)), no_audio)
    plan["silent"] = _silent_tracks(spec, plan["has_audio"].to_numpy())
    if _mixes_sounds(spec):
        plan = _irrelevant_sounds(spec, plan)
    return plan


def _irrelevant_sounds(spec: dict, plan: pd.DataFrame) -> pd.DataFrame:
    """Give round(irrelevant_fraction * n) of the n clips with sound of each class and
    split an irrelevant sound: with `irrelevant_sounds` one of those AudioSet labels (a
    background sound), else the sound of a far class (one of another pair sharing none of
    its sounds).

    With `spurious_splits` as well, in those splits (the training split) every irrelevant
    clip of a class carries the one background sound tied to that class
    (`_spurious_sounds`), while in the others any background sound, drawn at random. That
    is the paper's irrelevant audio at its most harmful (§1: music goes with dancing in a
    training set, and with driving or any edited video elsewhere): a sound that no class's
    dictionary names, so that the relevance target calls it irrelevant, yet that predicts
    the class in training. A fusion that keeps every clip's audio (late concatenation)
    learns the sound as a cue to the class and follows it on test clips, where the same
    sound comes with another class; IMD's relevance network, taught by the target to
    drop it, keeps the classifier from learning it. Without the tie (a background sound at
    random in every split) a fusion learns to set it aside as it does missing audio, and
    nothing favours IMD.

    Drawn from a stream of their own among the clips with sound (a clip without sound has
    no audio to be irrelevant), so every other draw stays as without the key; the tie
    changes which sound, not which clips. Adds sound_ids (what is rendered), irrelevant
    and sound_from (the class, or the background AudioSet label, whose sound it is).
    """
    table = signatures(spec).set_index("label")
    sources = _irrelevant_sources(spec, table)
    tied = _spurious_sounds(spec, table)
    spurious = set(spec.get("spurious_splits", []))
    rng = np.random.default_rng([spec["seed"], _STREAM_IRRELEVANT])
    fraction = spec.get("irrelevant_fraction", 0)
    sound_from = plan["label"].copy()
    sound_ids = table.loc[plan["label"], "sound_ids"].to_list()
    irrelevant = np.zeros(len(plan), bool)
    voiced = plan["has_audio"] & ~plan["silent"]
    for (label, split), clips in plan[voiced].groupby(["label", "split"], sort=False):
        count = round(fraction * len(clips))
        if count and not sources[label]:
            raise SyntheticSpecError(
                f"synthetic.irrelevant_fraction: no class of another pair sounds unlike {label!r}"
            )
        for position in rng.choice(clips.index, size=count, replace=False):
            # Drawn in every split, so that the stream, and the clips drawn after, are the
            # same with the tie or without it.
            drawn = sources[label][rng.integers(len(sources[label]))]
            name, ids = tied[label] if split in spurious else drawn
            sound_from.loc[position], sound_ids[position], irrelevant[position] = name, ids, True
    return plan.assign(sound_ids=sound_ids, irrelevant=irrelevant, sound_from=sound_from)


def _spurious_sounds(spec: dict, table: pd.DataFrame) -> dict[str, tuple]:
    """The (name, sound ids) of the background sound tied to each class with
    `spurious_splits`: the i-th class (`signatures` order) gets the i-th of
    `irrelevant_sounds`, so no two classes share one. Empty without the key."""
    if "spurious_splits" not in spec:
        return {}
    ids = audioset_sound_ids(spec["audioset_labels"])
    return {label: (name, (ids[name],))
            for label, name in zip(table.index, spec["irrelevant_sounds"], strict=False)}


def _irrelevant_sources(spec: dict, table: pd.DataFrame) -> dict[str, list[tuple]]:
    """Per class, the (name, sound ids) its irrelevant clips may carry: the background
    AudioSet labels of `irrelevant_sounds`, or the far classes' sounds."""
    if "irrelevant_sounds" in spec:
        ids = audioset_sound_ids(spec["audioset_labels"])
        background = [(name, (ids[name],)) for name in spec["irrelevant_sounds"]]
        return {label: background for label in table.index}
    group = _sound_groups(spec)
    return {
        label: [
            (other, table.at[other, "sound_ids"])
            for other in table.index
            if group[other] != group[label]
            and not set(table.at[other, "sound_ids"]) & set(table.at[label, "sound_ids"])
        ]
        for label in table.index
    }


def _sound_groups(spec: dict) -> dict[str, int]:
    """Pair number of each class; an extra class is a group of its own."""
    groups = {label: n for n, pair in enumerate(spec["pairs"]) for label in pair["classes"]}
    first_extra = len(spec["pairs"])
    groups.update({label: first_extra + n for n, label in enumerate(spec.get("extra_classes", []))})
    return groups


def _silent_tracks(spec: dict, has_audio: np.ndarray) -> np.ndarray:
    """(clips,) bool: round(silent_fraction * clips) clips with a track, drawn at random.

    Moments in Time holds both kinds of soundless clip: without an audio track, and with
    one that carries no sound. The second kind is drawn among the clips that keep a
    track, from its own stream, so the no-audio draw (and every older dataset) is
    unchanged.
    """
    voiced = np.flatnonzero(has_audio)
    n_silent = round(spec.get("silent_fraction", 0) * len(has_audio))
    if n_silent > len(voiced):
        raise SyntheticSpecError(
            f"synthetic.silent_fraction: {n_silent} silent tracks asked for, but only "
            f"{len(voiced)} clips keep an audio track after no_audio_fraction"
        )
    silent = np.random.default_rng([spec["seed"], _STREAM_SILENT]).choice(
        voiced, size=n_silent, replace=False
    )
    return np.isin(np.arange(len(has_audio)), silent)


def pitch_class(sound_id: int) -> int:
    """Pitch class of a sound's tone, 0 = C ... 11 = B (librosa's chroma order)."""
    return 7 * sound_id % 12


def tone_frequency(sound_id: int) -> float:
    """Frequency in Hz of a sound's tone."""
    midi = C4_MIDI + pitch_class(sound_id) + 12 * (sound_id // 12)
    return 440.0 * 2 ** ((midi - 69) / 12)


def render_sound(sound_id: int, rng: np.random.Generator, duration: float, rate: int) -> np.ndarray:
    """A jittered instance of sound `sound_id`: float32 (samples, 2 channels) in [-1, 1]."""
    t = np.arange(round(duration * rate)) / rate  # (samples,) seconds
    tone = np.sin(2 * np.pi * tone_frequency(sound_id) * t + rng.uniform(0, 2 * np.pi))
    onset = rng.uniform(0, 0.1 * duration)
    pulse_rate = PULSE_BASE_HZ + sound_id
    pulse_phase = 2 * np.pi * pulse_rate * (t - onset) + rng.uniform(0, 2 * np.pi)
    envelope = ((1 + np.cos(pulse_phase)) / 2) ** PULSE_SHARPNESS * (t >= onset)
    mono = rng.uniform(0.3, 0.7) * tone * envelope
    stereo = mono[:, None] + rng.normal(0, AUDIO_NOISE, (len(t), 2))  # (samples, 2)
    return np.clip(stereo, -1, 1).astype(np.float32)


def render_mixture(
    sound_ids: Sequence[int], rng: np.random.Generator, duration: float, rate: int
) -> np.ndarray:
    """Jittered instances of several sounds, averaged: float32 (samples, 2) in [-1, 1].

    Averaging (not summing) keeps a mixture within full scale without clipping, and one
    sound alone is exactly `render_sound`. Each sound keeps its own onset and pulse
    phase, as sounds that happen together do.
    """
    tracks = [render_sound(sound, rng, duration, rate) for sound in sound_ids]
    return tracks[0] if len(tracks) == 1 else np.mean(tracks, axis=0, dtype=np.float32)


def render_picture(
    picture_id: int,
    direction: int,
    rng: np.random.Generator,
    duration: float,
    fps: float,
    size: Sequence[int],
) -> np.ndarray:
    """A jittered instance of picture `picture_id` whose stripes move `direction` (+1 or
    -1, see `signatures`): uint8 RGB (frames, height, width, 3).

    Colour, orientation, stripe width and speed come from the picture alone, so the two
    directions of one picture differ in their motion only.
    """
    width, height = size
    colour = np.array(colorsys.hsv_to_rgb(picture_id * GOLDEN % 1, 0.85, 0.95))  # (3,)
    angle = np.deg2rad(picture_id * GOLDEN * 180 % 180 + rng.normal(0, 4))
    wavelength = width / (3 + picture_id % 3)  # pixels per stripe period
    speed = direction * (0.6 + 0.4 * (picture_id % 4)) * rng.uniform(0.85, 1.15)  # periods/s

    y, x = np.mgrid[0:height, 0:width]  # (height, width) pixels
    across = (x * np.cos(angle) + y * np.sin(angle)) / wavelength  # (height, width) periods
    offset, gain = rng.uniform(0, 2 * np.pi), rng.uniform(0.75, 1.0)
    n_frames = round(duration * fps)
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    # A few frames at a time: a whole clip in float64 at a real size (DCASE's 10 s of
    # 1280 x 720 at 30 fps) would take several GB per array. The noise is drawn in frame
    # order, so the frames are the same whatever the chunk.
    for start in range(0, n_frames, RENDER_CHUNK):
        t = np.arange(start, min(start + RENDER_CHUNK, n_frames))[:, None, None] / fps
        phase = 2 * np.pi * (across - speed * t) + offset  # (chunk, H, W)
        stripes = (1 + np.sin(phase)) / 2
        image = BACKGROUND + stripes[..., None] * (colour - BACKGROUND)  # (chunk, H, W, 3)
        image = image * gain + rng.normal(0, PICTURE_NOISE, image.shape)
        frames[start : start + len(t)] = (np.clip(image, 0, 1) * 255).round()
    return frames


def render_clip(
    spec: dict, plan: pd.DataFrame, position: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Frames and audio (None without an audio track, zeros for a silent one) of the clip
    at `position` of `plan`.

    Each clip has its own random stream, so clips can be rendered in any order and in
    parallel and still come out the same for a seed.
    """
    clip = plan.iloc[position]
    rng = np.random.default_rng([spec["seed"], _STREAM_CLIP, position])
    duration, rate = spec["duration"], spec["audio_rate"]
    frames = render_picture(
        clip.picture_id, clip.direction, rng, duration, spec["fps"], spec["size"]
    )
    if not clip.has_audio:
        return frames, None
    if clip.silent:
        return frames, np.zeros((round(duration * rate), 2), np.float32)  # (samples, 2)
    if "sound_ids" in plan:
        return frames, render_mixture(clip.sound_ids, rng, duration, rate)
    return frames, render_sound(clip.sound_id, rng, duration, rate)


def _encode(
    path: Path, frames: np.ndarray, audio: np.ndarray | None, spec: dict, codecs: Codecs
) -> None:
    """Encode frames (frames, H, W, 3) and audio (samples, 2) with one ffmpeg run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _, height, width, _ = frames.shape
    video = ffmpeg.input(
        "pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", framerate=spec["fps"]
    )
    streams, options = [video], {**codecs.video, "pix_fmt": "yuv420p"}
    pcm = path.with_name(f".{path.name}.pcm")
    if audio is not None:
        (audio * 32767).round().astype("<i2").tofile(pcm)
        streams.append(ffmpeg.input(str(pcm), format="s16le", ar=spec["audio_rate"], ac=2))
        options.update(codecs.audio, ar=spec["audio_rate"], ac=2)
    # One encoder thread per file: clips are tiny, so files run in parallel instead.
    output = ffmpeg.output(*streams, str(path), threads=1, **options)
    try:
        output.run(cmd=ffmpeg_binary(), input=frames.tobytes(), quiet=True, overwrite_output=True)
    except ffmpeg.Error as error:
        raise RuntimeError(
            f"{path}: ffmpeg could not encode it: {stderr_tail(error.stderr)}"
        ) from error
    finally:
        pcm.unlink(missing_ok=True)


@contextmanager
def _staged(root: Path) -> Iterator[Path]:
    """A staging folder beside `root` that becomes `root` in one rename once the body is done.

    Renaming at the end means an interrupted run leaves no half dataset at `root`. A
    previous synthetic dataset at `root` (it carries the MARKER file) is replaced, as a
    rerun asks for; anything else there (real data) is never touched.
    """
    previous = None
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise FileExistsError(
                f"{root}: already exists, is not empty and was not written by this generator; "
                "remove it to regenerate"
            )
        previous = root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".partial", dir=root.parent))
    try:
        yield staging
        (staging / MARKER).write_text("written by avrepro.data.synthetic\n")
        if previous is not None:
            shutil.rmtree(previous)
        os.replace(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _run_parallel(task: Callable[[int], None], count: int, workers: int | None, what: str) -> None:
    """task(0) ... task(count - 1) on `workers` threads (default: all cores)."""
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        futures = [pool.submit(task, position) for position in range(count)]
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"write {what}"):
            future.result()


def _write_dataset(
    root: str | Path,
    spec: dict,
    plan: pd.DataFrame,
    clip_ids: list[str],
    relative_paths: list[Path],
    codecs: Codecs,
    write_lists: Callable[[Path], None],
    workers: int | None,
    audio_paths: list[Path] | None = None,
) -> pd.DataFrame:
    """Render and encode every clip of `plan` into a staging folder, then rename it to root
    (`_staged`).

    `relative_paths` are the videos; with `audio_paths` the sound goes to WAV files of its
    own there instead of into the video (DCASE). Returns DataFrame(clip_id, path, label,
    split, picture_id, direction, sound_id, has_audio, silent), audio_path after path
    with `audio_paths`, and the columns `plan_clips` adds for mixed sounds; these also go
    to PLAN_FILE (`read_plan`).
    """
    root = Path(root)

    def write_clip(position: int) -> None:
        frames, audio = render_clip(spec, plan, position)
        if audio_paths is None:
            _encode(staging / relative_paths[position], frames, audio, spec, codecs)
            return
        _encode(staging / relative_paths[position], frames, None, spec, codecs)
        if audio is not None:
            wav = staging / audio_paths[position]
            wav.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(wav, audio, spec["audio_rate"], subtype=DCASE_WAV_SUBTYPE)

    with _staged(root) as staging:
        _run_parallel(write_clip, len(plan), workers, str(root))
        write_lists(staging)
        if "sound_ids" in plan:
            _plan_table(spec, plan, clip_ids).to_csv(staging / PLAN_FILE, index=False)
        if spec.get("faults"):
            # Damaged before the rename, so that the dataset appears with its faults at once.
            staged = plan.assign(
                clip_id=clip_ids, path=[str(staging / path) for path in relative_paths]
            )
            faults.inject_faults(staging, staged, spec["faults"], seed=spec["seed"])

    clips = plan.drop(columns="number")
    clips.insert(0, "clip_id", clip_ids)
    clips.insert(1, "path", [str(root / path) for path in relative_paths])
    if audio_paths is not None:
        clips.insert(2, "audio_path", [str(root / path) for path in audio_paths])
    return clips


def _plan_table(spec: dict, plan: pd.DataFrame, clip_ids: list[str]) -> pd.DataFrame:
    """PLAN_FILE's rows: what each clip's audio carries. audio_labels: the AudioSet labels
    heard (";"-joined, in list order), empty without sound or without audioset_sounds."""
    names = spec.get("audioset_labels", [])
    voiced = plan["has_audio"] & ~plan["silent"]
    heard = [
        AUDIOSET_SEPARATOR.join(names[sound] for sound in sounds) if names and has_sound else ""
        for sounds, has_sound in zip(plan["sound_ids"], voiced, strict=True)
    ]
    return plan.assign(clip_id=clip_ids, audio_labels=heard)[PLAN_COLUMNS]


def read_plan(root: str | Path) -> pd.DataFrame:
    """PLAN_FILE of a synthetic dataset: DataFrame(PLAN_COLUMNS), audio_labels "" when none."""
    plan = pd.read_csv(Path(root) / PLAN_FILE, dtype={"clip_id": str, "audio_labels": str})
    return plan.fillna({"audio_labels": ""})


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The official UCF101 lists end lines with CRLF; so do ours, so readers meet the real format.
    path.write_text("".join(f"{line}\r\n" for line in lines), newline="")


def _spread(count: int, first: int, last: int) -> list[int]:
    """`count` group numbers spread evenly over first..last."""
    return [first + index * (last - first + 1) // count for index in range(count)]


def _youtube_ids(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct 11-character YouTube-like video ids."""
    ids: list[str] = []
    while len(ids) < count:
        candidate = "".join(rng.choice(YOUTUBE_ID_ALPHABET, size=11))
        if candidate not in ids:
            ids.append(candidate)
    return ids


def _check_classes(spec: dict, known: Sequence[str], dataset: str) -> None:
    """Refuse class names the real dataset does not have: the readers and the paper's
    class lists in config use the real names."""
    unknown = [label for label in signatures(spec)["label"] if label not in known]
    if unknown:
        raise SyntheticSpecError(
            f"synthetic.pairs/extra_classes: {unknown} are not {dataset} classes; "
            f"known: {list(known)}"
        )


def write_ucf101(root: str | Path, spec: dict, workers: int | None = None) -> pd.DataFrame:
    """Write a synthetic UCF101: UCF-101/{Class}/v_{Class}_gGG_cCC.avi and ucfTrainTestlist/.

    Returns DataFrame(clip_id, path, label, split, picture_id, direction, sound_id,
    has_audio, silent), split being the clip's role in split 1. Test clips of split 1 get
    groups 1-7 and train clips groups 8-25, spread evenly, so that splits 2 and 3 (test
    groups 8-14 and 15-21) also have train and test clips once there are at least two
    train clips per class.
    `workers` defaults to all cores.
    """
    plan = plan_clips(spec)
    groups = pd.Series(0, index=plan.index)
    for (_, split), clips in plan.groupby(["label", "split"]):
        first, last = (1, 7) if split == "test" else (8, 25)
        groups[clips.index] = _spread(len(clips), first, last)
    clip_in_group = plan.assign(group=groups).groupby(["label", "group"]).cumcount() + 1
    relative_paths = [
        Path(ucf101.VIDEO_DIR, label, f"v_{label}_g{group:02d}_c{clip:02d}.avi")
        for label, group, clip in zip(plan["label"], groups, clip_in_group, strict=True)
    ]

    class_index = {label: index for index, label in enumerate(sorted(set(plan["label"])), 1)}
    listed = pd.DataFrame(
        {
            "entry": [path.relative_to(ucf101.VIDEO_DIR).as_posix() for path in relative_paths],
            "index": plan["label"].map(class_index),
            "group": groups,
        }
    ).sort_values(["index", "entry"])

    def write_lists(staging: Path) -> None:
        lists = staging / ucf101.LISTS_DIR
        _write_lines(
            lists / "classInd.txt", [f"{index} {label}" for label, index in class_index.items()]
        )
        for split in ucf101.SPLIT_NUMBERS:
            is_test = listed["group"].between(7 * (split - 1) + 1, 7 * split)
            train, test = listed[~is_test], listed[is_test]
            _write_lines(
                lists / f"trainlist{split:02d}.txt",
                [
                    f"{entry} {index}"
                    for entry, index in zip(train["entry"], train["index"], strict=True)
                ],
            )
            _write_lines(lists / f"testlist{split:02d}.txt", list(test["entry"]))

    clip_ids = [path.stem for path in relative_paths]
    return _write_dataset(
        root, spec, plan, clip_ids, relative_paths, UCF101_CODECS, write_lists, workers
    )


def write_kinetics(root: str | Path, spec: dict, workers: int | None = None) -> pd.DataFrame:
    """Write a synthetic Kinetics: annotations/{train,validate}.csv and {split}/{label}/*.mp4.

    Our train clips go to Kinetics' train split, our test clips to val (KINETICS_SPLITS).
    Clip times are random whole seconds, KINETICS_CLIP_SECONDS apart as in the real
    names; the files themselves last spec["duration"]. Returns the same table as
    `write_ucf101`. `workers` defaults to all cores.

    IMD's keys (see `plan_clips`): with `audioset_sounds` a class sounds like its AudioSet
    labels, the signatures `write_audioset` gives them; with `irrelevant_fraction` some
    clips carry a far class's sound or a background one (`irrelevant_sounds`). Either
    writes PLAN_FILE (`read_plan`): per clip
    whether its audio is irrelevant, whose sound it is and the AudioSet labels heard.
    """
    plan = plan_clips(spec)
    rng = np.random.default_rng([spec["seed"], _STREAM_YOUTUBE_IDS])
    youtube_ids = _youtube_ids(rng, len(plan))
    starts = rng.integers(0, 300, size=len(plan))
    annotations = pd.DataFrame(
        {
            "label": plan["label"],
            "youtube_id": youtube_ids,
            "time_start": starts,
            "time_end": starts + KINETICS_CLIP_SECONDS,
            "split": plan["split"].map(KINETICS_SPLITS),
        }
    )
    relative_paths = [kinetics.video_path("", row) for row in annotations.to_dict("records")]

    def write_lists(staging: Path) -> None:
        (staging / "annotations").mkdir()
        for kinetics_split, rows in annotations.groupby("split"):
            rows.to_csv(
                staging / "annotations" / kinetics.ANNOTATION_FILES[kinetics_split], index=False
            )

    clip_ids = [path.stem for path in relative_paths]
    return _write_dataset(
        root, spec, plan, clip_ids, relative_paths, KINETICS_CODECS, write_lists, workers
    )


def _event_windows(rng: np.random.Generator, count: int, duration: float) -> np.ndarray:
    """(start, end) whole seconds of an event within each clip: (count, 2) int.

    Real AVE events mostly span the whole 10 s video (2750 of 4143 rows are 0-10); the
    others start or end inside it. Here a third span the clip and the rest start in its
    first half and end after their start, as far as whole seconds allow.
    """
    seconds = max(1, int(duration))
    starts = rng.integers(0, (seconds + 1) // 2, size=count)
    ends = np.array([rng.integers(start + 1, seconds + 1) for start in starts])
    whole = rng.random(count) < 1 / 3
    return np.stack([np.where(whole, 0, starts), np.where(whole, seconds, ends)], axis=1)


def write_ave(root: str | Path, spec: dict, workers: int | None = None) -> pd.DataFrame:
    """Write a synthetic AVE: AVE/{VideoID}.mp4, Annotations.txt and {train,val,test}Set.txt.

    Classes must be AVE categories (`ave.CATEGORIES`), and spec["clips_per_class"] gives
    train, val and test counts. Each video carries one event: its annotation row
    `Category&VideoID&good&Start&End` has a random event window within the clip (the
    clip's picture and sound still span all of it; MAFnet classifies the whole video).
    The real videos last 10 s; these last spec["duration"]. Returns the table of
    `write_ucf101`, with AVE's clip ids (`ave.clip_id`).
    """
    _check_classes(spec, ave.CATEGORIES, "AVE")
    plan = plan_clips(spec, AVE_SPLITS)
    video_ids = _youtube_ids(np.random.default_rng([spec["seed"], _STREAM_YOUTUBE_IDS]), len(plan))
    events = _event_windows(
        np.random.default_rng([spec["seed"], _STREAM_EVENTS]), len(plan), spec["duration"]
    )
    lines = [
        f"{label}&{video}&good&{start}&{end}"
        for label, video, (start, end) in zip(plan["label"], video_ids, events, strict=True)
    ]

    def write_lists(staging: Path) -> None:
        # The archive's copies start with the header line and end lines with LF.
        def write(name: str, rows: list[str]) -> None:
            (staging / name).write_text("".join(f"{row}\n" for row in [ave.HEADER, *rows]))

        write(ave.ANNOTATIONS_FILE, lines)
        for split, name in ave.SPLIT_FILES.items():
            write(name, [line for line, s in zip(lines, plan["split"], strict=True) if s == split])

    clip_ids = [
        ave.clip_id(label, video) for label, video in zip(plan["label"], video_ids, strict=True)
    ]
    relative_paths = [Path(ave.VIDEO_DIR, f"{video}.mp4") for video in video_ids]
    return _write_dataset(
        root, spec, plan, clip_ids, relative_paths, AVE_CODECS, write_lists, workers
    )


def write_dcase(root: str | Path, spec: dict, workers: int | None = None) -> pd.DataFrame:
    """Write a synthetic TAU Urban Audio-Visual Scenes 2021 (DCASE 2021 Task 1B) dev set.

        audio/{scene}-{city}-{location}-{segment}.wav   spec["audio_rate"], stereo, 24-bit
        video/{scene}-{city}-{location}-{segment}.mp4   H.264, no audio track
        evaluation_setup/fold1_{train,evaluate}.csv

    Classes must be scenes (`dcase.SCENES`); our train clips go to fold1_train, our test
    clips to fold1_evaluate. Each scene's clips are cut DCASE_SEGMENTS_PER_LOCATION to a
    location; locations take the real cities in turn and never span both folds, as in
    the real setup. A clip without sound (`no_audio_fraction`) is listed but has no WAV;
    the real set has every WAV, so the smoke tier leaves that fraction at 0. Faults
    damage the videos; `bad_audio` is refused, the videos having no audio track. Returns
    the table of `write_ucf101` with audio_path after path.
    """
    _check_classes(spec, dcase.SCENES, "DCASE 2021 Task 1B")
    if spec.get("faults", {}).get("bad_audio"):
        raise SyntheticSpecError(
            "synthetic.faults.bad_audio: DCASE's videos carry no audio track to damage"
        )
    plan = plan_clips(spec, SPLITS)
    # Clips of one scene and split, in order, fill one location after another.
    within = plan.groupby(["label", "split"], sort=False).cumcount()
    group = plan[["label", "split"]].assign(place=within // DCASE_SEGMENTS_PER_LOCATION)
    locations = group.groupby(["label", "split", "place"], sort=False).ngroup()
    cities = [dcase.CITIES[location % len(dcase.CITIES)] for location in locations]
    stems = [
        f"{label}-{city}-{DCASE_FIRST_LOCATION + location}-{DCASE_FIRST_SEGMENT + position}"
        for position, (label, city, location) in enumerate(
            zip(plan["label"], cities, locations, strict=True)
        )
    ]
    relative_paths = [Path("video", f"{stem}.mp4") for stem in stems]
    audio_paths = [Path("audio", f"{stem}.wav") for stem in stems]
    lists = pd.DataFrame(
        {
            "filename_audio": [path.as_posix() for path in audio_paths],
            "filename_video": [path.as_posix() for path in relative_paths],
            "scene_label": plan["label"],
            "split": plan["split"],
        }
    )

    def write_lists(staging: Path) -> None:
        (staging / dcase.SETUP_DIR).mkdir()
        for split, name in dcase.SPLIT_FILES.items():
            rows = lists.loc[lists["split"] == split, dcase.LIST_COLUMNS]
            rows.to_csv(staging / dcase.SETUP_DIR / name, sep="\t", index=False)

    return _write_dataset(
        root,
        spec,
        plan,
        stems,
        relative_paths,
        DCASE_CODECS,
        write_lists,
        workers,
        audio_paths=audio_paths,
    )


def _mit_file_names(rng: np.random.Generator, labels: Sequence[str]) -> list[str]:
    """A Moments-in-Time-like file name per clip (see MIT_GETTY_SHARE), all distinct.

    Stock clips are titled by what they show; here the class name stands in for the title.
    """
    count = len(labels)
    youtube_ids = _youtube_ids(rng, count)
    is_getty = rng.random(count) < MIT_GETTY_SHARE
    getty_ids = 10**8 + rng.choice(9 * 10**8, size=count, replace=False)  # 9 digits
    youtube_starts = rng.integers(0, 600, size=count)  # seconds into the YouTube video
    getty_parts = rng.integers(1, 25, size=count)
    return [
        f"getty-{label.replace(' ', '-')}-video-id{getty_id}_{part}.mp4"
        if getty
        else f"yt-{youtube_id}_{start}.mp4"
        for label, getty, getty_id, part, youtube_id, start in zip(
            labels, is_getty, getty_ids, getty_parts, youtube_ids, youtube_starts, strict=True
        )
    ]


def write_mit(root: str | Path, spec: dict, workers: int | None = None) -> pd.DataFrame:
    """Write a synthetic Moments in Time mini, in the layout of `avrepro.data.mit`:

        training/{label}/{file}.mp4, validation/{label}/{file}.mp4   H.264 + AAC
        trainingSet.csv, validationSet.csv    "label/file.mp4,label,agree,disagree"
        moments_categories.txt                "label,index", alphabetical, 0-based

    Our train clips go to training, our test clips to validation (`mit.SPLITS`). Class
    names are not checked against a category list, unlike the other writers: the real
    one ships only inside the dataset's archive, and the category file written here
    lists every class of the spec. The real clips last 3 s; these last spec["duration"].
    Clips without an audio track (`no_audio_fraction`) and with a silent one
    (`silent_fraction`) stand for the 44% of soundless clips (Lee et al., Table 1).
    Returns the table of `write_ucf101`, with MiT's clip ids (`mit.clip_id`).
    """
    plan = plan_clips(spec, tuple(mit.SPLITS))
    names = _mit_file_names(
        np.random.default_rng([spec["seed"], _STREAM_YOUTUBE_IDS]), list(plan["label"])
    )
    entries = [f"{label}/{name}" for label, name in zip(plan["label"], names, strict=True)]
    categories = sorted(set(plan["label"]))

    def write_lists(staging: Path) -> None:
        (staging / mit.CATEGORIES_FILE).write_text(
            "".join(f"{label},{index}\n" for index, label in enumerate(categories))
        )
        agree, disagree = MIT_ANNOTATORS
        for split, (list_name, _) in mit.SPLITS.items():
            rows = [
                f"{entry},{label},{agree},{disagree}\n"
                for entry, label, s in zip(entries, plan["label"], plan["split"], strict=True)
                if s == split
            ]
            (staging / list_name).write_text("".join(rows))

    clip_ids = [mit.clip_id(label, name) for label, name in zip(plan["label"], names, strict=True)]
    relative_paths = [
        Path(mit.SPLITS[split][1], entry)
        for split, entry in zip(plan["split"], entries, strict=True)
    ]
    return _write_dataset(
        root, spec, plan, clip_ids, relative_paths, MIT_CODECS, write_lists, workers
    )


def plan_audioset(spec: dict) -> pd.DataFrame:
    """One row per clip of the synthetic AudioSet: DataFrame(clip_id, labels, sound_ids).

    Each label leads spec["clips_per_label"] clips; a clip adds 0 to max_labels_per_clip - 1
    other labels, drawn at random, as AudioSet clips carry several labels. labels is the
    ";"-joined display names in list order, sound_ids the matching signatures.
    """
    missing = [key for key in AUDIOSET_REQUIRED_KEYS if key not in spec]
    if missing:
        raise SyntheticSpecError(f"synthetic AudioSet: missing keys {missing}")
    labels = list(spec["labels"])
    ids = audioset_sound_ids(labels)
    most = spec["max_labels_per_clip"]
    if not 1 <= most <= len(labels):
        raise SyntheticSpecError(
            f"synthetic AudioSet: max_labels_per_clip must be within [1, {len(labels)}]"
        )
    rng = np.random.default_rng([spec["seed"], _STREAM_AUDIOSET_LABELS])
    rows = []
    for lead in labels:
        others = [label for label in labels if label != lead]
        for _ in range(spec["clips_per_label"]):
            extra = rng.choice(others, size=rng.integers(most), replace=False)
            sounds = sorted(ids[label] for label in [lead, *extra])
            rows.append((AUDIOSET_SEPARATOR.join(labels[s] for s in sounds), tuple(sounds)))
    clip_ids = _youtube_ids(np.random.default_rng([spec["seed"], _STREAM_YOUTUBE_IDS]), len(rows))
    return pd.DataFrame(
        [(clip_id, *row) for clip_id, row in zip(clip_ids, rows, strict=True)],
        columns=["clip_id", "labels", "sound_ids"],
    )


def write_audioset(root: str | Path, spec: dict, workers: int | None = None) -> pd.DataFrame:
    """Write a synthetic AudioSet for training a small AST in the smoke tier:

        audio/{clip_id}.wav   16-kHz mono, 16-bit, spec["duration"] seconds
        labels.csv            file,labels   ("audio/{clip_id}.wav", "Dog;Bark")

    spec: {labels: [AudioSet display names], clips_per_label, duration, seed,
    max_labels_per_clip}. A label sounds like its signature (`audioset_sound_ids`), a
    clip of several labels like their mixture (`render_mixture`), so a video spec's
    `audioset_sounds` naming the same list sounds the same. Returns DataFrame(clip_id,
    path, labels, sound_ids). `workers` defaults to all cores.
    """
    root = Path(root)
    plan = plan_audioset(spec)
    files = [Path(AUDIOSET_AUDIO_DIR, f"{clip_id}.wav") for clip_id in plan["clip_id"]]

    def write_clip(position: int) -> None:
        rng = np.random.default_rng([spec["seed"], _STREAM_AUDIOSET_CLIP, position])
        sounds = plan.at[position, "sound_ids"]
        mono = render_mixture(sounds, rng, spec["duration"], AUDIOSET_RATE).mean(axis=1)
        soundfile.write(staging / files[position], mono, AUDIOSET_RATE, subtype="PCM_16")

    with _staged(root) as staging:
        (staging / AUDIOSET_AUDIO_DIR).mkdir()
        _run_parallel(write_clip, len(plan), workers, str(root))
        listing = pd.DataFrame({"file": [f.as_posix() for f in files], "labels": plan["labels"]})
        listing.to_csv(staging / AUDIOSET_LABELS_FILE, index=False)
    return plan.assign(path=[str(root / f) for f in files])[
        ["clip_id", "path", "labels", "sound_ids"]
    ]


def read_audioset(root: str | Path) -> pd.DataFrame:
    """A synthetic AudioSet's labels.csv: DataFrame(path, labels), labels a list of names."""
    root = Path(root)
    listing = pd.read_csv(root / AUDIOSET_LABELS_FILE, dtype=str)
    return pd.DataFrame(
        {
            "path": [str(root / file) for file in listing["file"]],
            "labels": [names.split(AUDIOSET_SEPARATOR) for names in listing["labels"]],
        }
    )
