"""The full tier's cost per table and rule (avrepro.cost) from the full-shape run's jobs."""

import yaml

from avrepro.cost import cost_table, read_measured, scale_jobs
from avrepro.jobs import job

with job(snakemake.log[0]):
    measured = read_measured(snakemake.input.jobs)
    machine = yaml.safe_load(open(snakemake.input.machine))
    scaled = scale_jobs(measured, machine, snakemake.config, snakemake.params.gpu_tflops)
    table = cost_table(scaled)
    table.to_csv(snakemake.output[0], index=False)
    print(table[table.rule == "all rules"].to_string(index=False))
