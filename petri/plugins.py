"""Third-party extensions, found through Python entry points without importing them.

Three groups: `petri.algos` (an `AlgoInfo` or a list of them), `petri.ops` (a primitive: a
callable `(channels, stride, affine, search) -> nn.Module`, usable in descs by its entry-point
name) and `petri.datasets` (a `petri.data.info.DatasetPlugin`, usable as `data.dataset`).
Names are read from the installed distributions' metadata, so checking a config or a desc
imports no plug-in; a plug-in's code is imported only when it is used.
"""
from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points

from petri.errors import PetriError

ALGOS, OPS, DATASETS = "petri.algos", "petri.ops", "petri.datasets"


@functools.cache
def names(group: str) -> dict[str, EntryPoint]:
    """The installed entry points of `group` by name; a name given twice is an error."""
    out: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        if ep.name in out and out[ep.name].value != ep.value:
            raise PetriError(f"two {group} plug-ins are called {ep.name!r} ({out[ep.name].value} "
                             f"and {ep.value}); uninstall one of them")
        out[ep.name] = ep
    return out


@functools.cache
def load(group: str, name: str):
    """The object behind plug-in `name` of `group`, imported once per process."""
    ep = names(group)[name]
    try:
        return ep.load()
    except Exception as e:  # a broken plug-in must not fail later, somewhere less clear
        raise PetriError(f"the {group} plug-in {name!r} ({ep.value}) does not load: {e}; "
                         f"reinstall or uninstall it") from None
