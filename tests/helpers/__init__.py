"""What several test modules share and none of them tests: daemons started and waited for,
the algorithm driver with its stand-in results, made-up runs and datasets, plug-ins installed
as pip would. No test module imports another; they import from here (and conftest's
fixtures)."""
