"""Figure 7: convergence of each audio representation after fusion (UCF51)."""

from pathlib import Path

import pandas as pd

from avrepro.figures.common import save
from avrepro.figures.maivar import fig7_convergence
from avrepro.jobs import job
from avrepro.naming import parse_variant

with job(snakemake.log[0]):
    histories = {}
    for path in map(Path, snakemake.input):
        rep = parse_variant(path.parent.parent.name)[1]["rep"]  # .../{variant}/seed{s}/
        histories.setdefault(rep, []).append(pd.read_csv(path))
    save(fig7_convergence(histories), snakemake.output)
