"""Benchmark the media stage's video decoding: every frame of a clip, resized to a short side.

    .venv/bin/python scripts/bench_decode.py [--clips a.avi b.mp4] [--repeats 5] [--short-side 256]

Decodes each clip (by default the real fixture clips: UCF101's test.avi, 6.56 s at 25 fps,
and v_GGSY1Qvo990.mp4, 18.16 s at 19.62 fps, both 320 x 240) `--repeats` times with
`avrepro.media.frames.read_frames`, the decode every sampler starts from, and prints for
each clip the best time (the run least disturbed by other load), frames per second and
the real-time factor, then `decode_fps=<all frames / all best times>`.
"""

import argparse
import time
from pathlib import Path

from avrepro.media.frames import read_frames

FIXTURE_CLIPS = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "clips"
DEFAULT_CLIPS = [FIXTURE_CLIPS / "test.avi", FIXTURE_CLIPS / "v_GGSY1Qvo990.mp4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", type=Path, default=DEFAULT_CLIPS)
    parser.add_argument("--repeats", type=int, default=5, help="decodes per clip; best is kept")
    parser.add_argument("--short-side", type=int, default=256, help="frames' short side")
    args = parser.parse_args()
    total_frames, total_seconds = 0, 0.0
    print(f"{'clip':<24}{'frames':>8}{'best s':>9}{'frames/s':>10}")
    for clip in args.clips:
        n_frames, best = _best_decode(clip, args.short_side, args.repeats)
        total_frames += n_frames
        total_seconds += best
        print(f"{clip.name:<24}{n_frames:>8}{best:>9.3f}{n_frames / best:>10.0f}")
    print(f"decode_fps={total_frames / total_seconds:.0f}")


def _best_decode(clip: Path, short_side: int, repeats: int) -> tuple[int, float]:
    """(frames decoded, best wall-clock seconds of `repeats` decodes of `clip`)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        n_frames = len(read_frames(clip, short_side))
        times.append(time.perf_counter() - start)
    return n_frames, min(times)


if __name__ == "__main__":
    main()
