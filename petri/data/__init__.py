"""Datasets: readers for the standard files (numpy) and on-device batches (torch)."""
