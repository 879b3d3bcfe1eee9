"""Benchmark MAiVAR's audio-image renderers: matplotlib reference vs the fast numpy path.

For the same clips, times `audio_images_reference.render` (one figure per clip and
representation) against `audio_images.render` / `render_all` (shared STFT, no figures)
and prints seconds per clip for each representation, the totals, and last a line
`speed_ratio=<reference total / fast render_all total>`.

    .venv/bin/python scripts/bench_audio_images.py [--clips a.avi b.wav] [--size 299]

Each timing is the best of `--repeats` runs (the least disturbed by other load on a
shared machine); the first call of each renderer is a warm-up and not timed, since it
pays librosa's one-off numba compilation.
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import ffmpeg
import librosa
import numpy as np
import soundfile
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from avrepro.features import audio_images, audio_images_reference
from avrepro.media.ffmpeg import ffmpeg_binary

SAMPLE_RATE = 22050  # MAiVAR's librosa default
FIXTURE_CLIPS = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "clips"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clips",
        nargs="*",
        type=Path,
        help="audio or video files (default: the fixture clips, else synthetic tones)",
    )
    parser.add_argument("--size", type=int, default=299, help="image side in pixels")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing; best is kept")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads (default 1: the workflow renders clips in parallel processes, and "
        "multi-threaded BLAS on these small matrices stalls when cores are shared)",
    )
    args = parser.parse_args()
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        _benchmark(args.clips, args.size, args.repeats)


def _benchmark(clips: list[Path] | None, size: int, repeats: int) -> None:
    """Time both renderers on the clips and print the table and the speed ratio."""
    signals = _load_clips(clips)
    names = audio_images.REPRESENTATIONS
    reference = {name: [] for name in names}
    fast = {name: [] for name in names}
    fast_all = []
    for label, y in tqdm(signals.items(), desc="clips", unit="clip"):
        for name in names:
            reference[name].append(
                _best_time(repeats, audio_images_reference.render, y, SAMPLE_RATE, name, size)
            )
            fast[name].append(_best_time(repeats, audio_images.render, y, SAMPLE_RATE, name, size))
        fast_all.append(_best_time(repeats, audio_images.render_all, y, SAMPLE_RATE, size))
        tqdm.write(f"{label}: {len(y) / SAMPLE_RATE:.2f} s of audio")

    print(f"\n{len(signals)} clip(s), {size}x{size}, seconds per clip (mean over clips)")
    print(f"{'representation':<20}{'reference':>12}{'fast':>12}{'ratio':>9}")
    for name in names:
        ref, fst = statistics.mean(reference[name]), statistics.mean(fast[name])
        print(f"{name:<20}{ref:>12.4f}{fst:>12.4f}{ref / fst:>9.1f}")
    reference_total = sum(statistics.mean(times) for times in reference.values())
    fast_total = statistics.mean(fast_all)
    print(f"{'all six (render_all)':<20}{reference_total:>12.4f}{fast_total:>12.4f}")
    print(f"speed_ratio={reference_total / fast_total:.1f}")


def _best_time(repeats: int, function: Callable, *args: object) -> float:
    """The shortest of `repeats` wall-clock times of function(*args), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - start)
    return best


def _load_clips(paths: list[Path] | None) -> dict[str, np.ndarray]:
    if not paths:
        paths = sorted(
            path for pattern in ("*.avi", "*.mp4", "*.wav") for path in FIXTURE_CLIPS.glob(pattern)
        )
    signals = {path.name: _load_audio(path) for path in paths}
    if not signals:
        signals = {"synthetic tones": _synthetic_tones(seconds=6.0)}
    # Warm-up: librosa compiles some kernels with numba on first use.
    warm_up = next(iter(signals.values()))
    audio_images.render_all(warm_up, SAMPLE_RATE, size=32)
    for name in audio_images.REPRESENTATIONS:
        audio_images_reference.render(warm_up, SAMPLE_RATE, name, size=32)
    return signals


def _load_audio(path: Path) -> np.ndarray:
    """Mono float32 samples at SAMPLE_RATE; containers libsndfile cannot read go via ffmpeg."""
    if not path.is_file():
        raise FileNotFoundError(f"no such clip: {path}")
    if path.suffix.lstrip(".").upper() in soundfile.available_formats():
        return librosa.load(path, sr=SAMPLE_RATE, mono=True)[0]
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "audio.wav"
        try:
            (
                ffmpeg.input(str(path))
                .output(str(wav), vn=None, ac=1, ar=SAMPLE_RATE)
                .run(cmd=ffmpeg_binary(), quiet=True)
            )
        except ffmpeg.Error as error:
            stderr = error.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"ffmpeg could not decode audio from {path}: {stderr}") from error
        return librosa.load(wav, sr=SAMPLE_RATE, mono=True)[0]


def _synthetic_tones(seconds: float) -> np.ndarray:
    """A deterministic stand-in clip: a few decaying notes over soft noise."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    y = 0.01 * np.random.default_rng(0).standard_normal(t.size)
    for start, frequency in enumerate((440.0, 523.25, 659.25, 392.0, 293.66, 880.0)):
        onset = t >= start
        y += onset * 0.3 * np.sin(2 * np.pi * frequency * t) * np.exp(-2 * (t - start) * onset)
    return y.astype(np.float32)


if __name__ == "__main__":
    main()
