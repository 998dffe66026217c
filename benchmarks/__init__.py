"""Throughput benchmarks of modelshelf against plain tools (``python benchmarks/run.py``)."""
