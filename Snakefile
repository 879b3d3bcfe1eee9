# avrepro: rebuild the results of audio-visual recognition papers from raw videos.
# Full tier:  snakemake --profile slurm results/table1_maivar.csv
# Smoke tier: snakemake --directory tests/smoke --cores 2 all
import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

REPO = Path(workflow.basedir)
# Jobs import the avrepro package from the checkout, whichever environment runs them
# (the venv installs it editable; a --sdm conda environment does not).
sys.path.insert(0, str(REPO / "src"))
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
)


configfile: "config.yaml"


from avrepro.config import cap_epochs, resolve, validate_config

# A config may extend another (the full-shape tier extends config.yaml); validated whole,
# then every schedule capped at epoch_cap where one is set.
_resolved = resolve(config, Path.cwd())
validate_config(_resolved, REPO / "workflow" / "schemas" / "config.schema.yaml")
config.clear()
config.update(cap_epochs(_resolved))
if config.get("compute_threads"):  # jobs inherit the environment (locally and on SLURM)
    threads = str(config["compute_threads"])
    os.environ.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/media.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/cost.smk"


PAPER_TARGETS = {
    "maivar": maivar_targets(),
    "mafnet": mafnet_targets(),
    "twophase": twophase_targets(),
    "audiogen": audiogen_targets(),
    "imd": imd_targets(),
}


rule all:
    input:
        PAPER_TARGETS.values(),
    default_target: True


# One target per paper, all of its tables and figures: `snakemake ... maivar`.
for _paper, _targets in PAPER_TARGETS.items():

    rule:
        name:
            _paper
        input:
            _targets,
        localrule: True
