"""pymosh's benchmark suite: micro (pytest-benchmark) and end-to-end, vs Mosh 1.4.0 and pyte."""
