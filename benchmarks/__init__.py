"""Ratio benchmarks for keras-apps; run them with `make bench`."""
