"""`make load`: the example sites under real servers, with mixed traffic whose every response
is checked, wrk for throughput, and faults. See `python -m bench.load --help` and
docs/load.md."""
