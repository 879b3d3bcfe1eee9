"""Figure 4: confusion matrices of the audio, visual and audio-visual f4 systems."""

import json
from pathlib import Path

from avrepro.figures.common import save
from avrepro.figures.twophase import fig4_confusions
from avrepro.jobs import job

TITLES = {"fusion_fn-f4_mod-a": "audio", "fusion_fn-f4_mod-v": "visual",
          "fusion_fn-f4_mod-av": "audio-visual"}

with job(snakemake.log[0]):
    systems = {title: [] for title in TITLES.values()}
    for path in snakemake.input:
        metrics = json.loads(Path(path).read_text())
        systems[TITLES[metrics["variant"]]].append(metrics)
    save(fig4_confusions(systems), snakemake.output)
