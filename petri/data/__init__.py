"""Datasets: readers for the standard files and for users' own data imported into .petri files
(numpy, Pillow), and batches on the device or streamed from the file (torch)."""
