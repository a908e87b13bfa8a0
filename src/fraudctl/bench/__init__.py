"""Benchmarks (`fraudctl bench ...`): each measured against a baseline run side by side in the same
process, and reported as ratios, because these machines are noisy."""
