"""Figure 3 (not in the paper): per-class gain of RGB + sound over RGB, real and generated
sound, Table 5's classes marked (ours and the paper's)."""

import json
from pathlib import Path

from avrepro.figures.audiogen import gain_figure
from avrepro.figures.common import save
from avrepro.jobs import job
from avrepro.papers import load_metafile
from avrepro.tables import build_improvement_table

params = snakemake.params

with job(snakemake.log[0]):
    runs = {"rgb": [], "real": [], "generated": []}
    role = {params.rgb: "rgb", params.real: "real", params.generated: "generated"}
    for path in snakemake.input.metrics:
        metrics = json.loads(Path(path).read_text())
        metrics["run_dir"] = str(Path(path).parent)
        runs[role[metrics["variant"]]].append(metrics)
    table = load_metafile(snakemake.input.metafile).tables["table5"]
    ranked = build_improvement_table(
        table, {(d, v): runs[role[v]] for d, v in table.runs() if v in role})
    ours = {name for c in table.columns for name in ranked[f"{c} reproduced"].dropna()}
    papers = {name for comparison in table.comparisons.values() for name in comparison.reported}
    save(gain_figure(runs["rgb"], runs["real"], runs["generated"], ours, papers),
         snakemake.output)
