"""Speed and memory benchmarks: `python -m bench` prints a table (ratios measured in one run)."""
