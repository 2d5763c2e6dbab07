"""Latency of a model on a target: measured carefully, or predicted from a per-op table.

    from petri.latency.target import Target
    from petri.latency.run import measure_desc          # -> Latency (median, IQR, CV, target)
    from petri.latency.table import predict_latency     # desc, Table -> ms (no torch)
    from petri.latency.build_table import load_table    # the table `petri latency table` kept

`measure` (the warm-up and timing rule), `table` and `target` import no torch.
"""
