"""End-to-end benchmarks: real sessions on loopback, stock Mosh 1.4.0 vs pymosh.

``python -m bench.e2e [--quick]`` writes ``bench/out/e2e.json``; ``python -m bench``
runs it after the micro benchmarks and renders ``bench/out/report.md``.
"""
