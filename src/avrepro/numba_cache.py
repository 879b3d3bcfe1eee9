"""librosa's numba kernels: compiled once at set-up, and every job works on its own copy of
that cache, so that no two jobs ever write one cache.

librosa compiles its kernels on first use (chroma_stft -> estimate_tuning -> piptrack, the
CQT, zero crossings, ...) and caches them, by default beside its sources in site-packages.
Two processes compiling there at once can leave a broken cache that crashes every later
process that loads it (SIGSEGV, an empty log); `make smoke` runs two jobs at once, and a
cluster hundreds on one shared file system. Hence:

- set-up (`scripts/setup.sh`) runs `python -m avrepro.numba_cache` once, under its lock,
  with NUMBA_CACHE_DIR at `warm_cache_dir()`: it calls every librosa path the workflow
  uses, which compiles each kernel there;
- every job enters `private_cache()` before it first uses librosa: NUMBA_CACHE_DIR points at
  a fresh temporary copy of that warm cache. A kernel found there loads in milliseconds; one
  that is not (an environment without a warm cache, a signature the warm-up did not meet)
  is compiled into the job's own copy, which goes with the job.

Measured on 2 cores: compiling the audio-image kernels from nothing costs a job 12-25 s;
copying the warm cache (about 3 MB, 54 files) takes milliseconds.
"""

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def warm_cache_dir() -> Path:
    """Where set-up compiles the kernels: inside the environment that runs the jobs."""
    return Path(sys.prefix) / "numba-cache"


@contextmanager
def private_cache(warm: Path | None = None) -> Iterator[Path]:
    """Point numba's cache at a temporary copy of `warm` (default: `warm_cache_dir()`) for
    the rest of this process, and remove the copy afterwards.

    Must run before numba is imported: numba reads NUMBA_CACHE_DIR once, on import.
    """
    if "numba" in sys.modules:
        raise RuntimeError("numba is already imported, so NUMBA_CACHE_DIR would be ignored: "
                           "enter private_cache() before the first use of librosa")
    warm = warm_cache_dir() if warm is None else warm
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as private:
        if warm.is_dir():
            shutil.copytree(warm, private, dirs_exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = private
        yield Path(private)


def compile_kernels() -> None:
    """Run every librosa path of the workflow once, through the jobs' own entry points on
    WAVs read by the media stage's reader (float32, as the jobs feed librosa), so that each
    kernel gets compiled for the argument types the jobs give it."""
    import pandas as pd
    import soundfile

    from avrepro.features import audio_images, spectrograms
    from avrepro.media.audio import load_wav

    rng = np.random.default_rng(0)
    spec = spectrograms.SpectrogramSpec(duration_s=3.0)
    with tempfile.TemporaryDirectory() as shard:
        shard = Path(shard)
        noise = 0.1 * rng.standard_normal((spec.n_samples, 2))
        soundfile.write(shard / "clip.wav", noise, spec.sample_rate, subtype="PCM_16")
        pd.DataFrame({"clip_id": ["clip"], "audio_status": ["ok"]}).to_csv(
            shard / "index.csv", index=False)
        samples, rate = load_wav(shard / "clip.wav")
        audio_images.render_all(samples.mean(axis=0), rate, size=32)  # as extract.py calls it
        for kind in spectrograms.KINDS:
            spectrograms.spectrogram_shard(shard, kind, spec)


if __name__ == "__main__":
    if "NUMBA_CACHE_DIR" not in os.environ:
        sys.exit("set NUMBA_CACHE_DIR to the cache to fill (scripts/setup.sh does)")
    compile_kernels()
    print(f"numba kernels compiled into {os.environ['NUMBA_CACHE_DIR']}")
