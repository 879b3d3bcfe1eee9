# Paper tables: reported numbers from the paper's metafile beside ours, from metrics only.


def table_metrics(w):
    table = load_metafile(metafile(w.paper)).tables[w.table]
    return [
        f"{run_dir(w.paper, table.dataset, variant, seed)}/metrics.json"
        for variant in table.variants()
        for seed in config["seeds"]
    ]


rule table:
    input:
        metafile=lambda w: metafile(w.paper),
        metrics=table_metrics,
    output:
        report(
            "results/{table}_{paper}.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"paper": "{paper}", "table": "{table}"},
        ),
    log:
        "logs/tables/{table}_{paper}.log",
    script:
        "../../scripts/build_table.py"
