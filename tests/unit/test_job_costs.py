"""Job-seconds per rule from Snakemake's benchmark files (avrepro.job_costs)."""

import pandas as pd

from avrepro.job_costs import per_rule, read_benchmarks

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(path, seconds, cpu, rss="100.5"):
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [seconds, f"0:00:{int(seconds):02d}", rss, 1, 1, 1, 0, 0, 50, cpu]
    path.write_text(HEADER + "\t".join(map(str, fields)) + "\n")


def test_jobs_are_summed_per_rule_costliest_first(tmp_path):
    bench(tmp_path / "train_maivar" / "ucf51" / "vmlp" / "seeds.tsv", 12.0, 10.0)
    bench(tmp_path / "train_maivar" / "ucf51" / "dhf_rep-ch_bb-irv2" / "seeds.tsv", 20.0, 18.0)
    bench(tmp_path / "fig6_maivar.tsv", 3.0, 2.5, rss="-")  # a job too short to be sampled
    jobs = read_benchmarks(tmp_path)
    assert sorted(jobs.job) == ["fig6_maivar", "ucf51/dhf_rep-ch_bb-irv2/seeds", "ucf51/vmlp/seeds"]
    table = per_rule(jobs)
    assert list(table.index) == ["train_maivar", "fig6_maivar"]
    maivar = table.loc["train_maivar"]
    assert (maivar.jobs, maivar.job_seconds, maivar.mean_s, maivar.max_s) == (2, 32.0, 16.0, 20.0)
    assert maivar.cpu_seconds == 28.0
    assert pd.isna(table.loc["fig6_maivar"].max_rss_mb)


def test_an_empty_folder_has_no_jobs(tmp_path):
    assert read_benchmarks(tmp_path).empty
