"""The `petri` command line: click commands and the live view (nothing imports this package)."""
