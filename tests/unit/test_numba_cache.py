"""No two jobs write one numba cache: set-up compiles librosa's kernels once, and each job
works on its own copy (avrepro.numba_cache)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from avrepro import numba_cache

# Prints the cache a fresh process gets and what that cache holds after `body` ran.
PROBE = """
import json, os, sys
from pathlib import Path
from avrepro import numba_cache
warm = Path(sys.argv[1]) if len(sys.argv) > 1 else None
with numba_cache.private_cache(warm) as cache:
    {body}
    files = {{str(p.relative_to(cache)): p.stat().st_mtime_ns
             for p in cache.rglob("*") if p.is_file()}}
    print(json.dumps({{"cache": str(cache), "env": os.environ["NUMBA_CACHE_DIR"],
                      "files": files}}))
"""


# What the audio-image and spectrogram jobs call, on the full tier's sizes and a real clip's
# audio (a real stereo WAV, at another rate and length than the warm-up's).
JOBS_LIBROSA_CALLS = """from avrepro.features import audio_images, spectrograms
    from avrepro.media.audio import load_wav
    samples, rate = load_wav(sys.argv[2])
    audio_images.render_all(samples.mean(axis=0), rate, size=299)
    # The full tier's band scaled to this rate: its CQT ends just under 32 kHz's Nyquist.
    spec = spectrograms.SpectrogramSpec(sample_rate=rate, cqt_fmin=9.5 * rate / 32000)
    for kind in spectrograms.KINDS:
        spectrograms.spectrogram(samples, rate, kind, spec)"""


def probe(body: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE.format(body=body), *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_each_process_gets_its_own_copy_of_the_warm_cache(tmp_path):
    warm = tmp_path / "warm"
    (warm / "core_abc").mkdir(parents=True)
    (warm / "core_abc" / "pitch.kernel.nbi").write_bytes(b"index")
    first, second = (probe("pass", str(warm)) for _ in range(2))
    assert first["cache"] != second["cache"]
    for seen in (first, second):
        assert seen["env"] == seen["cache"]
        assert list(seen["files"]) == ["core_abc/pitch.kernel.nbi"]
        assert not Path(seen["cache"]).exists()  # removed with the job
    assert (warm / "core_abc" / "pitch.kernel.nbi").read_bytes() == b"index"


def test_a_late_call_is_refused_rather_than_silently_sharing_a_cache():
    import numba  # noqa: F401  (numba has read NUMBA_CACHE_DIR)

    with pytest.raises(RuntimeError, match="before the first use of librosa"):
        with numba_cache.private_cache():
            pass


def test_set_up_compiled_every_kernel_the_workflow_uses(fixtures_dir):
    """After `make` (scripts/setup.sh), a job that renders audio images and spectrograms
    loads every kernel from its copy of the warm cache and compiles nothing: numba would
    have written each compiled kernel into that copy."""
    warm = numba_cache.warm_cache_dir()
    assert any(warm.rglob("*.nbi")), f"no compiled kernels in {warm}: run make (scripts/setup.sh)"
    compiled = {str(p.relative_to(warm)): p.stat().st_mtime_ns
                for p in warm.rglob("*") if p.is_file()}
    # The copy keeps each file's mtime: a kernel compiled in the job adds or rewrites one.
    seen = probe(JOBS_LIBROSA_CALLS, str(warm), str(fixtures_dir / "clips" / "test.wav"))
    assert seen["files"] == compiled
