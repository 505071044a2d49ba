"""Counterflow benchmarks: ``python -m bench [name ...]`` (``make bench`` runs them all).

Every module ``bench/<name>.py`` with a ``run() -> dict`` function is a benchmark. Each
writes ``bench/results/<name>.json`` through :func:`bench.common.write_result`: every
figure with its unit and the baseline it is compared with, measured in the same run.
"""
