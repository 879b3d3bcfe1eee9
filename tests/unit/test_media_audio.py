from pathlib import Path

import numpy as np
import pytest
import soundfile
from clips import make_clip

from avrepro.media.audio import extract_audio, load_wav
from avrepro.media.probe import MediaError


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    with_audio = make_clip(folder / "av.mp4")
    truncated = folder / "truncated.mp4"
    # ffmpeg writes the MP4 index (moov atom) last, so the first half of the file has none.
    truncated.write_bytes(with_audio.read_bytes()[: with_audio.stat().st_size // 2])
    return {
        "av": with_audio,
        "silent": make_clip(folder / "silent.mp4", audio=False),
        "truncated": truncated,
    }


def dominant_frequency(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / sample_rate)[np.argmax(spectrum)])


def test_extracts_a_resampled_mono_wav(clips: dict[str, Path], tmp_path: Path) -> None:
    wav = tmp_path / "out" / "av.wav"
    assert extract_audio(clips["av"], wav, sample_rate=16000) is True

    assert soundfile.info(wav).subtype == "PCM_16"
    samples, rate = load_wav(wav)
    assert rate == 16000
    assert samples.dtype == np.float32 and samples.shape[0] == 1
    # AAC adds a frame or two of priming/padding around the 2 s of tone.
    assert samples.shape[1] == pytest.approx(2 * 16000, rel=0.05)
    assert dominant_frequency(samples[0], rate) == pytest.approx(440, abs=2)
    assert 0.1 < np.abs(samples).max() <= 1.0
    assert sorted(p.name for p in wav.parent.iterdir()) == ["av.wav"]  # no temporary left


def test_channels_are_first(clips: dict[str, Path], tmp_path: Path) -> None:
    wav = tmp_path / "stereo.wav"
    extract_audio(clips["av"], wav, sample_rate=8000, channels=2)
    samples, rate = load_wav(wav)
    assert rate == 8000 and samples.shape[0] == 2
    # The mono tone is copied into both channels.
    np.testing.assert_allclose(samples[0], samples[1])


def test_a_clip_without_audio_writes_nothing(clips: dict[str, Path], tmp_path: Path) -> None:
    assert extract_audio(clips["silent"], tmp_path / "silent.wav", sample_rate=16000) is False
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_clip_raises_and_writes_nothing(clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="truncated.mp4"):
        extract_audio(clips["truncated"], tmp_path / "truncated.wav", sample_rate=16000)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_decode_keeps_the_previous_wav(clips: dict[str, Path], tmp_path: Path) -> None:
    wav = tmp_path / "av.wav"
    extract_audio(clips["av"], wav, sample_rate=16000)
    before = wav.read_bytes()
    # An impossible sample rate makes ffmpeg itself fail after opening the clip.
    with pytest.raises(MediaError, match="audio decoding failed"):
        extract_audio(clips["av"], wav, sample_rate=-1)
    assert wav.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["av.wav"]


def test_extracts_the_real_fixture_avi(fixtures_dir: Path, tmp_path: Path) -> None:
    wav = tmp_path / "test.wav"
    assert extract_audio(fixtures_dir / "clips" / "test.avi", wav, sample_rate=22050)
    samples, rate = load_wav(wav)
    assert rate == 22050 and samples.shape[0] == 1  # stereo MP3 mixed down to mono
    assert samples.shape[1] == pytest.approx(6.56 * 22050, rel=0.02)
    assert samples.std() > 0.01  # real sound, not silence


def test_load_wav_reads_the_real_stereo_fixture(fixtures_dir: Path) -> None:
    samples, rate = load_wav(fixtures_dir / "clips" / "test.wav")
    assert rate == 16000
    assert samples.shape == (2, soundfile.info(fixtures_dir / "clips" / "test.wav").frames)
    assert samples.flags.c_contiguous
    assert np.abs(samples).max() <= 1.0


def test_load_wav_names_a_bad_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        load_wav(tmp_path / "missing.wav")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF but not really")
    with pytest.raises(MediaError, match="garbage.wav"):
        load_wav(garbage)


def test_extracts_a_separate_stereo_wav_keeping_its_channels(tmp_path: Path) -> None:
    # DCASE's sound is a 48 kHz 24-bit binaural WAV beside the video; two-phase reads it
    # as 2 channels at 32 kHz, MAiVAR as one.
    t = np.arange(48000) / 48000
    left, right = np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 1000 * t)
    source = tmp_path / "scene.wav"
    soundfile.write(source, 0.5 * np.stack([left, right], axis=1), 48000, subtype="PCM_24")

    assert extract_audio(source, tmp_path / "stereo.wav", sample_rate=32000, channels=2)
    samples, rate = load_wav(tmp_path / "stereo.wav")
    assert rate == 32000 and samples.shape == (2, 32000)
    assert dominant_frequency(samples[0], rate) == pytest.approx(440, abs=2)
    assert dominant_frequency(samples[1], rate) == pytest.approx(1000, abs=2)

    assert extract_audio(source, tmp_path / "mono.wav", sample_rate=16000)
    mono, _ = load_wav(tmp_path / "mono.wav")
    assert mono.shape == (1, 16000)


def test_channels_must_be_positive(clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="channels must be at least 1"):
        extract_audio(clips["av"], tmp_path / "none.wav", sample_rate=16000, channels=0)
    assert list(tmp_path.iterdir()) == []
