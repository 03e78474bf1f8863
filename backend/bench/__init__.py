"""Benchmark helpers: deterministic workloads, reference solvers and the pure planning benchmark."""
