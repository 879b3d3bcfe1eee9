"""Damage a written synthetic dataset the way real downloads go wrong, to test that every
stage records bad clips instead of crashing.

The damaged clips stay in the split lists and annotation files, as they would in a real
dataset; only the video files change. Faults (`FAULTS`) and what the pipeline makes of them:

    missing     the file is deleted                       manifest status "missing"
    empty       the file is cut to 0 bytes                manifest status "empty"
    truncated   only the first half of the bytes is kept  MP4: "corrupt" (its index, the
                (a download cut short)                    moov box, is written last and lost);
                                                          AVI: "ok", since the header survives
                                                          and ffmpeg plays up to the cut
    bad_audio   the audio packets are overwritten with    manifest "ok" with audio; audio
                garbage, headers and video left intact    extraction fails, frames decode

Clips without an audio track are not injected here: the generator writes them
(`no_audio_fraction`), and `inject_faults` lists them as fault "no_audio".
"""

import os
import struct
from pathlib import Path

import numpy as np
import pandas as pd

FAULTS = ("missing", "empty", "truncated", "bad_audio")
FAULTS_FILE = "faults.csv"  # beside the dataset: which clip got which fault
COLUMNS = ["clip_id", "path", "fault"]


class FaultSpecError(ValueError):
    """A `faults:` spec that cannot be applied to the dataset."""


def choose_faults(clips: pd.DataFrame, counts: dict[str, int], seed: int) -> pd.DataFrame:
    """Draw distinct clips for the faults: DataFrame(clip_id, path, fault).

    clips: (clip_id, path, has_audio), as the synthetic writers return them. counts maps
    fault names (FAULTS) to how many clips get each. Faults go to clips with an audio
    track only, so that each damaged clip fails for one reason alone; the clips without
    audio are appended as fault "no_audio".
    """
    unknown = sorted(set(counts) - set(FAULTS))
    if unknown:
        raise FaultSpecError(f"faults: unknown fault(s) {unknown}; known: {list(FAULTS)}")
    negative = sorted(name for name, count in counts.items() if count < 0)
    if negative:
        raise FaultSpecError(f"faults: counts must not be negative: {negative}")
    with_audio = clips[clips["has_audio"].astype(bool)]
    wanted = sum(counts.values())
    if wanted > len(with_audio):
        raise FaultSpecError(
            f"faults: {wanted} faulty clips asked for, but only {len(with_audio)} clips "
            "have an audio track"
        )
    chosen = np.random.default_rng(seed).choice(len(with_audio), size=wanted, replace=False)
    picked = with_audio.iloc[np.sort(chosen)][["clip_id", "path"]]
    # Faults in FAULTS order over the clips in dataset order: a stable, readable mapping.
    picked = picked.assign(fault=[name for name in FAULTS for _ in range(counts.get(name, 0))])
    silent = clips.loc[~clips["has_audio"].astype(bool), ["clip_id", "path"]]
    return pd.concat([picked, silent.assign(fault="no_audio")], ignore_index=True)[COLUMNS]


def inject_faults(root: Path, clips: pd.DataFrame, spec: dict, seed: int) -> pd.DataFrame:
    """Damage the clips that `choose_faults` draws, in place, and record them.

    root: the dataset folder; it receives FAULTS_FILE. clips: the writer's table
    (clip_id, path, has_audio), its paths inside root. spec: {fault name: count}.
    Returns DataFrame(clip_id, path, fault), as written to FAULTS_FILE, with paths
    relative to root. Each damaged file is replaced in one rename, never half-written.
    """
    root = Path(root)
    faults = choose_faults(clips, spec, seed)
    rng = np.random.default_rng(seed)
    for row in faults[faults["fault"] != "no_audio"].itertuples(index=False):
        _damage(Path(row.path), row.fault, rng)
    faults["path"] = [Path(path).relative_to(root).as_posix() for path in faults["path"]]
    _replace_bytes(root / FAULTS_FILE, faults.to_csv(index=False).encode())
    return faults


def _damage(path: Path, fault: str, rng: np.random.Generator) -> None:
    if fault == "missing":
        path.unlink()
    elif fault == "empty":
        _replace_bytes(path, b"")
    elif fault == "truncated":
        data = path.read_bytes()
        _replace_bytes(path, data[: len(data) // 2])
    else:
        _garble_audio(path, rng)


def _garble_audio(path: Path, rng: np.random.Generator) -> None:
    """Overwrite every audio packet with random bytes below 0x80.

    Without a 0xFF byte no MP3 frame sync word can occur, so the MP3 decoder finds no
    frame at all; AAC (in MP4) has no sync word, and its decoder rejects such blocks
    (tests/unit/test_faults.py checks both). Packet sizes stay, so the container's
    header and index still describe a valid audio stream.
    """
    data = bytearray(path.read_bytes())
    spans = audio_packet_spans(path, bytes(data))
    if not spans:
        raise FaultSpecError(f"{path}: no audio packets to overwrite")
    for offset, size in spans:
        data[offset : offset + size] = rng.integers(0, 0x80, size, dtype=np.uint8).tobytes()
    _replace_bytes(path, bytes(data))


def audio_packet_spans(path: Path, data: bytes) -> list[tuple[int, int]]:
    """(byte offset, size) of every audio packet in `data`, the contents of `path`."""
    suffix = path.suffix.lower()
    if suffix == ".avi":
        return _avi_audio_spans(data, 0, len(data))
    if suffix == ".mp4":
        return _mp4_audio_spans(data)
    raise FaultSpecError(f"{path}: cannot locate audio packets in a {suffix!r} file")


def _avi_audio_spans(data: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """Audio chunks of a RIFF AVI: chunk ids `NNwb` ("wave bytes" of stream NN), found
    by walking the RIFF and LIST chunks that nest them."""
    spans = []
    position = start
    while position + 8 <= end:
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        body = position + 8
        if chunk_id in (b"RIFF", b"LIST"):
            # A 4-byte form type (AVI, hdrl, movi, ...) comes before the nested chunks.
            spans += _avi_audio_spans(data, body + 4, min(body + size, end))
        elif chunk_id[2:] == b"wb":
            spans.append((body, size))
        position = body + size + size % 2  # chunks are padded to an even length
    return spans


def _mp4_boxes(data: bytes, start: int, end: int):
    """(type, payload start, box end) of the boxes between start and end."""
    position = start
    while position + 8 <= end:
        size, box_type = struct.unpack(">I4s", data[position : position + 8])
        header = 8
        if size == 1:  # a 64-bit size follows the type
            (size,) = struct.unpack(">Q", data[position + 8 : position + 16])
            header = 16
        elif size == 0:  # the box runs to the end of its parent
            size = end - position
        yield box_type, position + header, position + size
        position += size


def _mp4_children(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    return {
        box_type: (payload, box_end) for box_type, payload, box_end in _mp4_boxes(data, start, end)
    }


def _mp4_audio_spans(data: bytes) -> list[tuple[int, int]]:
    """Audio samples of an MP4, from the sample tables of its sound tracks.

    A sample's place is its chunk's offset (stco/co64) plus the sizes (stsz) of the
    samples before it in that chunk; stsc says how many samples each chunk holds.
    """
    moov = _mp4_children(data, 0, len(data)).get(b"moov")
    if moov is None:
        return []
    spans = []
    for box_type, trak_start, trak_end in _mp4_boxes(data, *moov):
        if box_type != b"trak":
            continue
        mdia = _mp4_children(data, trak_start, trak_end)[b"mdia"]
        mdia_boxes = _mp4_children(data, *mdia)
        hdlr_start, _ = mdia_boxes[b"hdlr"]
        # hdlr: version+flags (4), pre_defined (4), handler type (4)
        if data[hdlr_start + 8 : hdlr_start + 12] != b"soun":
            continue
        minf = _mp4_children(data, *mdia_boxes[b"minf"])
        tables = _mp4_children(data, *minf[b"stbl"])
        spans += _mp4_sample_spans(data, tables)
    return spans


def _mp4_sample_spans(data: bytes, tables: dict[bytes, tuple[int, int]]) -> list[tuple[int, int]]:
    # Every table starts with version+flags (4 bytes).
    stsz, _ = tables[b"stsz"]
    fixed_size, n_samples = struct.unpack(">II", data[stsz + 4 : stsz + 12])
    sizes = (
        [fixed_size] * n_samples
        if fixed_size
        else list(struct.unpack(f">{n_samples}I", data[stsz + 12 : stsz + 12 + 4 * n_samples]))
    )
    offsets_box, offset_format = (b"stco", "I") if b"stco" in tables else (b"co64", "Q")
    table, _ = tables[offsets_box]
    (n_chunks,) = struct.unpack(">I", data[table + 4 : table + 8])
    width = struct.calcsize(offset_format)
    chunk_offsets = struct.unpack(
        f">{n_chunks}{offset_format}", data[table + 8 : table + 8 + width * n_chunks]
    )
    stsc, _ = tables[b"stsc"]
    (n_runs,) = struct.unpack(">I", data[stsc + 4 : stsc + 8])
    # Runs of (first chunk, 1-based; samples per chunk; sample description index).
    runs = [
        struct.unpack(">III", data[stsc + 8 + 12 * i : stsc + 20 + 12 * i]) for i in range(n_runs)
    ]

    spans, sample = [], 0
    for chunk, offset in enumerate(chunk_offsets, start=1):
        per_chunk = [samples for first, samples, _ in runs if first <= chunk][-1]
        for _ in range(per_chunk):
            spans.append((offset, sizes[sample]))
            offset += sizes[sample]
            sample += 1
    return spans


def _replace_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
