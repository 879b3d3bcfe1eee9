"""AST's audio features (IMD §3.3): the input front end of AST's release, and the feature
store of one audio shard.

Front end, as AST's dataloader builds its input (YuanGongND/ast, src/dataloader.py,
_wav2fbank and __getitem__ at evaluation):
  fbank = torchaudio.compliance.kaldi.fbank(waveform - waveform.mean(), htk_compat=True,
          sample_frequency=16000, use_energy=False, window_type='hanning',
          num_mel_bins=128, dither=0.0, frame_shift=10)
  zero-padded or cut to target_length frames (1024 for AudioSet's 10-s clips)
  (fbank - mean) / (2 * std) with AudioSet's statistics (egs/audioset/run.sh)
torchaudio has no build for this project's torch (its newest, 2.11, pins torch 2.11), so
`kaldi_fbank` is Kaldi's compute-fbank-feats with those options, written here in torch:
per 25-ms frame every 10 ms (only frames that fit: snip_edges), the frame's DC offset
removed, pre-emphasis 0.97, a symmetric Hann window, zero-padded to a 512-point FFT, the
power spectrum through 128 triangular filters equally spaced on the HTK mel scale from
20 Hz (Kaldi's low-freq) to Nyquist, then log with float32's epsilon as floor.
tests/unit/test_ast_features.py checks it against torchaudio's own numbers.

Store (one per shard, results/features/{dataset}/ast-{tag}/shard-{i}.npz): clip_id (N,),
embedding (N, D) float32 (the mean of the final-norm CLS and DIST tokens, which AST's
mlp_head reads), probs (N, 527) float32 (sigmoid of the head: AudioSet is multi-label),
has_audio (N,) bool. Every clip of the shard's audio index gets a row; a clip without
usable audio (none, silent, undecodable, shorter than one frame) gets zeros and
has_audio False, which IMD reads as "no audio" (relevance target 0).
"""

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from avrepro.features.weights import load_state_dict_strict, read_state_dict
from avrepro.media.audio import load_wav
from avrepro.media.probe import MediaError
from avrepro.media.shards import save_npz_atomically
from avrepro.models.ast import AST, ASTConfig, is_released_layout, released_to_ours

SAMPLE_RATE = 16000
FRAME_LENGTH_MS = 25.0  # Kaldi's default frame length, which AST keeps
FRAME_SHIFT_MS = 10.0
PREEMPHASIS = 0.97  # Kaldi's default preemphasis-coefficient
LOW_FREQ = 20.0  # Kaldi's default low-freq; high-freq 0 means Nyquist
# AudioSet's fbank statistics, AST's normalisation for every AudioSet model.
AUDIOSET_MEAN, AUDIOSET_STD = -4.2677393, 4.5689974
STORE_KEYS = ("clip_id", "embedding", "probs", "has_audio")
MODEL_SEED = 0


def mel_scale(hz: torch.Tensor) -> torch.Tensor:
    return 1127.0 * torch.log1p(hz / 700.0)  # HTK's mel scale, as Kaldi's MelScale


def mel_banks(n_mels: int, n_fft: int, sample_rate: float, low_freq: float = LOW_FREQ):
    """Kaldi's triangular filters: (n_mels, n_fft // 2 + 1), triangles with equal width in
    mel over [low_freq, Nyquist]; the Nyquist bin gets no weight (Kaldi's banks span the
    n_fft / 2 bins below it)."""
    mel_low = mel_scale(torch.tensor(low_freq, dtype=torch.float64))
    mel_high = mel_scale(torch.tensor(sample_rate / 2, dtype=torch.float64))
    delta = (mel_high - mel_low) / (n_mels + 1)
    left = mel_low + torch.arange(n_mels, dtype=torch.float64)[:, None] * delta  # (n_mels, 1)
    centre, right = left + delta, left + 2 * delta
    bin_mel = mel_scale(torch.arange(n_fft // 2, dtype=torch.float64) * sample_rate / n_fft)
    up = (bin_mel - left) / (centre - left)
    down = (right - bin_mel) / (right - centre)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)  # (n_mels, n_fft // 2)
    return torch.nn.functional.pad(banks, (0, 1)).float()


def kaldi_fbank(waveform: torch.Tensor, n_mels: int = 128, sample_rate: int = SAMPLE_RATE):
    """Log mel filterbank energies of a mono waveform (n,) as AST computes them:
    (frames, n_mels), frames = 1 + (n - 400) // 160 at 16 kHz."""
    frame_length = int(sample_rate * FRAME_LENGTH_MS / 1000)  # 400
    shift = int(sample_rate * FRAME_SHIFT_MS / 1000)  # 160
    if len(waveform) < frame_length:
        raise ValueError(f"{len(waveform)} samples hold no {frame_length}-sample frame")
    n_fft = 2 ** math.ceil(math.log2(frame_length))  # Kaldi's round_to_power_of_two: 512
    frames = waveform.float().unfold(0, frame_length, shift)  # (m, 400)
    frames = frames - frames.mean(dim=1, keepdim=True)  # remove_dc_offset
    # Pre-emphasis within each frame; its first sample uses itself as predecessor, as Kaldi.
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - PREEMPHASIS * previous
    frames = frames * torch.hann_window(frame_length, periodic=False)  # Kaldi's "hanning"
    power = torch.fft.rfft(frames, n=n_fft).abs().pow(2)  # (m, 257)
    energies = power @ mel_banks(n_mels, n_fft, sample_rate).T  # (m, n_mels)
    return torch.clamp(energies, min=torch.finfo(torch.float32).eps).log()


def ast_input(samples: np.ndarray, frames: int, n_mels: int = 128) -> torch.Tensor:
    """AST's normalised input of a mono 16-kHz waveform in [-1, 1]: (frames, n_mels).
    As AST, the log fbank is cut or zero-padded to `frames` before normalising, so the
    padding reads (0 - mean) / (2 std), what the released model saw on short clips."""
    waveform = torch.from_numpy(np.asarray(samples, np.float32))
    fbank = kaldi_fbank(waveform - waveform.mean(), n_mels)  # (m, n_mels)
    fbank = torch.nn.functional.pad(fbank[:frames], (0, 0, 0, max(0, frames - len(fbank))))
    return (fbank - AUDIOSET_MEAN) / (2 * AUDIOSET_STD)


def build_ast(cfg: ASTConfig, weights: Path | None, seed: int = MODEL_SEED) -> AST:
    """A frozen AST in eval mode, filled from a local weights file (never the network):
    the authors' release (audioset_10_10_0.4593.pth) or a state dict in our layout (the
    smoke tier's trained AST). Every weight must be in the file and every key of the file
    used (WeightsError otherwise). weights None: `seed`'s random weights (a tier without
    pretrained weights, as the full-shape tier)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AST(cfg)
    if weights is not None:
        state_dict = read_state_dict(Path(weights))
        if is_released_layout(state_dict):
            state_dict = released_to_ours(state_dict)
        load_state_dict_strict(model, state_dict, source=f"weights file {weights}")
    model.requires_grad_(False)
    return model.eval()


def read_clip(audio_dir: Path, row) -> tuple[np.ndarray | None, str]:
    """A row of the audio index -> (mono samples, "ok") or (None, why the clip counts as
    having no audio: its audio_status, "silent", "undecodable: ...", "too short")."""
    if row.audio_status != "ok":
        return None, row.audio_status
    if row.silent:  # all-zero samples, found by the media stage
        return None, "silent"
    path = Path(audio_dir) / f"{row.clip_id}.wav"
    try:
        samples, rate = load_wav(path)
    except (MediaError, OSError) as error:
        return None, f"undecodable: {error}"
    if rate != SAMPLE_RATE:  # the media stage's rate is a configuration, not a clip, matter
        raise ValueError(f"{path}: AST needs {SAMPLE_RATE} Hz audio, the file has {rate}")
    mono = samples.mean(axis=0)
    if len(mono) < SAMPLE_RATE * FRAME_LENGTH_MS / 1000:
        return None, "too short"  # less than one 25-ms frame
    if not mono.any():
        return None, "silent"
    return mono, "ok"


def embed(model: AST, inputs: torch.Tensor, device: str | torch.device):
    """(embedding (B, D), probs (B, C)) float32 numpy arrays of AST inputs (B, T, F)."""
    with torch.inference_mode():
        embedding, logits = model.to(device)(inputs.to(device))
    return embedding.float().cpu().numpy(), torch.sigmoid(logits).float().cpu().numpy()


def extract_shard(
    audio_dir: Path, model: AST, out_path: Path, batch_size: int, device: str | torch.device
) -> dict[str, int]:
    """Write the AST store of one audio shard (the media stage's 16-kHz WAVs + index.csv,
    one row per clip of the shard) to `out_path`, `batch_size` clips through AST at a
    time; return the count of clips per read_clip reason ("ok": the clips with audio)."""
    index = pd.read_csv(Path(audio_dir) / "index.csv", dtype={"clip_id": str})
    index["silent"] = index.silent.astype(bool)
    cfg = model.cfg
    n = len(index)
    embedding = np.zeros((n, cfg.dim), np.float32)
    probs = np.zeros((n, cfg.num_classes), np.float32)
    has_audio = np.zeros(n, bool)
    reasons: dict[str, int] = {}
    pending: list[tuple[int, torch.Tensor]] = []

    def flush() -> None:
        rows = [i for i, _ in pending]
        embedding[rows], probs[rows] = embed(model, torch.stack([x for _, x in pending]), device)
        has_audio[rows] = True
        pending.clear()

    for i, row in enumerate(tqdm(index.itertuples(index=False), total=n, desc="AST", unit="clip")):
        samples, why = read_clip(audio_dir, row)
        reason = why.split(":")[0]
        reasons[reason] = reasons.get(reason, 0) + 1
        if samples is None:
            if reason == "undecodable":
                print(f"{row.clip_id}: {why}")
            continue
        pending.append((i, ast_input(samples, cfg.frames, cfg.n_mels)))
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    write_ast_shard(out_path, index.clip_id.to_numpy(), embedding, probs, has_audio)
    return reasons


def write_ast_shard(
    path: Path,
    clip_id: Sequence[str],
    embedding: np.ndarray,
    probs: np.ndarray,
    has_audio: np.ndarray,
) -> None:
    """One store shard, written atomically (media.shards.save_npz_atomically)."""
    arrays = {
        "clip_id": np.asarray(clip_id, dtype=str),
        "embedding": np.asarray(embedding, np.float32),
        "probs": np.asarray(probs, np.float32),
        "has_audio": np.asarray(has_audio, bool),
    }
    if len({len(a) for a in arrays.values()}) != 1:
        raise ValueError(f"{path}: store arrays of unequal lengths")
    save_npz_atomically(Path(path), arrays)


def read_ast_store(shards: Sequence[Path]) -> dict[str, np.ndarray]:
    """The shards of one AST store, concatenated: {clip_id, embedding, probs, has_audio}."""
    if not shards:
        raise ValueError("an AST store needs at least one shard")
    parts = {key: [] for key in STORE_KEYS}
    for shard in shards:
        with np.load(shard) as data:
            missing = [key for key in STORE_KEYS if key not in data]
            if missing:
                raise ValueError(f"{shard}: not an AST store (no {', '.join(missing)})")
            for key in STORE_KEYS:
                parts[key].append(data[key])
    return {key: np.concatenate(arrays) for key, arrays in parts.items()}
