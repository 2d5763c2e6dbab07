"""Persistence for a run: the job queue, hull points and events in SQLite (standard library only).

The store never imports torch: `status` and `watch` read it without paying for torch.
"""
