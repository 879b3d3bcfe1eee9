"""Audio out of clips: decode once to 16-bit PCM WAV at the rate and channel count a
consumer needs. The source is the video's audio track, or a separate audio file where a
dataset has one (DCASE's WAVs; `avrepro.data.manifest.audio_file` says which)."""

import errno
import os
from pathlib import Path

import ffmpeg
import numpy as np
import soundfile

from avrepro.media.ffmpeg import ffmpeg_binary
from avrepro.media.probe import MediaError, stderr_tail

# What ffmpeg says when the file has no audio stream for `-map 0:a:0` to take.
_NO_AUDIO_STREAM = "matches no streams"


def extract_audio(
    media_path: str | Path, wav_path: str | Path, sample_rate: int, channels: int = 1
) -> bool:
    """Decode the first audio stream of `media_path` (a video or an audio file) into
    `wav_path`: 16-bit PCM, `sample_rate` Hz, `channels` channels.

    Resampling and down-mixing are ffmpeg's (swresample defaults), so every consumer
    gets the same samples for a given rate; channels=1 mixes stereo down (MAiVAR),
    channels=2 keeps a stereo source's two channels (the two-phase system's binaural
    input). Returns False, writing nothing, when the file has no audio stream. Raises
    MediaError with ffmpeg's last words when decoding fails or yields no samples;
    `wav_path` is written atomically, so it is either complete or absent.
    """
    if channels < 1:
        raise ValueError(f"channels must be at least 1, got {channels}")
    media_path, wav_path = Path(media_path), Path(wav_path)
    # No probe first: the manifest has probed every clip already, and an ffmpeg start per
    # clip counted for a third of the media stage. A file without sound is told apart
    # by ffmpeg's own complaint that the audio stream mapped matches none.
    if not media_path.is_file():
        raise FileNotFoundError(errno.ENOENT, "media file not found", str(media_path))
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target, so that os.replace is an atomic rename; the process id
    # keeps concurrent writers of the same file apart.
    tmp_path = wav_path.with_name(f".{wav_path.name}.{os.getpid()}.tmp")
    try:
        stream = ffmpeg.input(str(media_path)).output(
            str(tmp_path),
            map="0:a:0",
            format="wav",
            acodec="pcm_s16le",
            ar=sample_rate,
            ac=channels,
        )
        stream.global_args("-nostdin", "-hide_banner").run(
            cmd=ffmpeg_binary(), capture_stdout=True, capture_stderr=True, overwrite_output=True
        )
        if soundfile.info(tmp_path).frames == 0:
            raise MediaError(media_path, "the audio stream decoded to no samples")
        os.replace(tmp_path, wav_path)
    except ffmpeg.Error as error:
        stderr = error.stderr.decode(errors="replace")
        if _NO_AUDIO_STREAM in stderr:
            return False
        raise MediaError(media_path, f"audio decoding failed: {stderr_tail(stderr)}") from None
    finally:
        tmp_path.unlink(missing_ok=True)
    return True


def load_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a WAV file as float32 samples in [-1, 1]: ((channels, samples) array, sample rate)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"WAV file not found: {path}")
    try:
        samples, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except soundfile.LibsndfileError as error:
        raise MediaError(path, f"cannot read WAV: {error}") from None
    # soundfile gives (samples, channels); the package uses channels first.
    return np.ascontiguousarray(samples.T), sample_rate
