"""Benchmarks: `make bench` (or `python -m bench [NAME ...]`).

Each ``bench/bench_<name>.py`` exposes ``run() -> list[Measurement]``. Every figure is reported as
a ratio to a floor measured in the same run on the same machine (DESIGN.md §10), never as a timed
test. Results are printed as a table and written to ``bench/results/<name>.json`` together with a
description of the machine.
"""
