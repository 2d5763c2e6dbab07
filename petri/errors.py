"""The one exception family petri raises for expected failures.

The CLI turns a `PetriError` into one line on stderr and a non-zero exit code, so its
message must name the problem and the fix.
"""


def install_extra(extra: str) -> str:
    """How to add one of setup.py's extras: petri is installed from its checkout (`make
    setup`), not from a package index, so `pip install 'petri[...]'` finds nothing."""
    return f"pip install -e '.[{extra}]' in petri's checkout"


class PetriError(Exception):
    """An expected failure with a message a user can act on."""


class DescError(PetriError):
    """A model description that cannot be built."""


class DataError(PetriError):
    """A dataset that is missing, corrupt or unknown."""


class ConfigError(PetriError):
    """A configuration value that is missing or wrong."""


class StoreError(PetriError):
    """The run store cannot be opened or used."""
