"""Side-by-side read benchmark for watch_pandas (see bench/run.py)."""
