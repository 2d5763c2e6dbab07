"""petri: find Pareto frontiers of error against cost with neural architecture search.

Importing `petri` is cheap: torch and the heavy modules load only where they are used.
"""
__version__ = "0.1.0"
