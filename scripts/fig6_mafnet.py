"""Figure 6: MAFnet's accuracy against the rate at which the visual update is dropped."""

import json
from pathlib import Path

from avrepro.figures.common import save
from avrepro.figures.mafnet import fig6_drop_rates
from avrepro.jobs import job

with job(snakemake.log[0]):
    metrics = [json.loads(Path(p).read_text()) for p in snakemake.input]
    save(fig6_drop_rates(metrics, snakemake.params.dataset), snakemake.output)
