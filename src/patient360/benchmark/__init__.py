"""Benchmark harness: the whole pipeline timed stage by stage at several scales, with
side-by-side comparisons (landing vs a bare DuckDB read, dbt vs pandas for patient_360,
incremental vs full refresh). Entry point: `patient360 bench`.

Modules: harness (orchestration, medians, ratios), stage (one stage in a child process),
measure (wall, CPU, peak RSS of a process tree), bare (files a bare reader can read),
pandas_p360 (the pandas implementation and the comparison), report (Markdown, targets).
Focused benchmarks, each a `patient360 bench-<x>` command: generate_throughput,
land_vs_bare, gates_synthetic, identity_quality.
"""
