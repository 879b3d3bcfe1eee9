"""Figure 9: the segmented video input and the six audio images of one UCF51 clip."""

from pathlib import Path

import pandas as pd

from avrepro.data.manifest import read_manifest
from avrepro.features.audio_images import SHORT_CODES, render_all
from avrepro.figures.common import save
from avrepro.figures.maivar import fig9_representations
from avrepro.jobs import job
from avrepro.media.audio import load_wav
from avrepro.media.frame_store import FrameStore

audio_dir = Path(snakemake.input.audio)

with job(snakemake.log[0]):
    audio_ok = pd.read_csv(audio_dir / "index.csv").query("audio_status == 'ok'").clip_id
    store = FrameStore([Path(snakemake.input.frames)])
    clip_id = next(c for c in store.clip_ids if c in set(audio_ok))  # first clip with both
    frames = store.select([clip_id]).read(0)
    if len(store.clip_shape) == 5:  # with TSN's training views: the test-time centres
        frames = frames[0]
    samples, rate = load_wav(audio_dir / f"{clip_id}.wav")
    rendered = render_all(samples.mean(axis=0), rate, snakemake.params.image_size)
    images = {SHORT_CODES[name]: image for name, image in rendered.items()}
    label = read_manifest(snakemake.input.manifest).set_index("clip_id").label[clip_id]
    save(fig9_representations(frames, images, f"{clip_id} ({label})"), snakemake.output)
