# Paper tables: reported numbers from the paper's metafile beside ours, from metrics only.


rule table:
    input:
        unpack(table_inputs),
    output:
        report(
            "results/{table}_{paper}.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"paper": "{paper}", "table": "{table}"},
        ),
    conda:
        ENV
    benchmark:
        "benchmarks/table/{table}_{paper}.tsv",
    log:
        "logs/tables/{table}_{paper}.log",
    script:
        "../../scripts/build_table.py"
