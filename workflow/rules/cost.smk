# What the full tier costs (avrepro.cost): the full-shape tier's measured jobs
# (scripts/measure_fullshape.py) scaled to this config's datasets at their real sizes.


rule cost:
    input:
        jobs=REPO / "tests/fullshape/measured_jobs.csv",
        machine=REPO / "tests/fullshape/measured_machine.yaml",
    output:
        "results/cost.csv",
    params:
        gpu_tflops=lambda w: config["cost"]["gpu_tflops"],
    conda:
        ENV
    benchmark:
        "benchmarks/cost.tsv"
    log:
        "logs/cost.log",
    script:
        "../../scripts/cost_model.py"
