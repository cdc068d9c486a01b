"""Load generator and benchmarks; results as JSON under bench/results/."""
