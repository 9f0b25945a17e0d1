"""Benchmarks for consent-middleware: `make bench` (`python -m bench.run`)."""
