"""Figure 6: audio-image feature extractors compared on UCF51."""

import json
from pathlib import Path

from avrepro.figures.common import save
from avrepro.figures.maivar import fig6_backbones
from avrepro.jobs import job

with job(snakemake.log[0]):
    metrics = [json.loads(Path(p).read_text()) for p in snakemake.input]
    save(fig6_backbones(metrics), snakemake.output)
