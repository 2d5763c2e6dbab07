"""Training: the loop, its checkpoints and its progress reports."""
