"""What each paper's variant names mean: which models and feature stores a run uses.

Plain data and string parsing, importable without torch: the workflow's input functions
use these modules while Snakemake plans, and `avrepro.train.{paper}` while jobs train.
"""
