"""Every search algorithm petri knows, as data: the built-in folders and plug-ins.

An algorithm is one folder under `petri/algos/` whose `__init__.py` lists `ALGOS`, one
`AlgoInfo` per variant: the class to build, the config sections it reads, the job kinds it
runs (as "module:function", so a worker imports only the kind it runs), its toy config
and the tiny one its tests run.
The config's known sections, the workers' job kinds, `petri run`'s choices and their help
are all derived from here, so adding an algorithm touches nothing outside its folder and
`configs/`. A package outside petri adds algorithms the same way through the entry-point
group `petri.algos` (an `AlgoInfo` or a list of them).

Nothing here imports torch or an algorithm's code until it is built or run.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import pkgutil
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from petri import plugins
from petri.errors import ConfigError, PetriError
from petri.job import JobData

# Sections every run may have whatever its algorithm (read by the daemon, data and trainer),
# each with the "module:Class" that checks it; algo, seed and name are top-level scalars.
SHARED_SECTIONS = {**dict.fromkeys(("algo", "seed", "name"), "petri.config:RunCfg"),
                   "daemon": "petri.config:DaemonCfg", "ray": "petri.config:RayCfg",
                   "data": "petri.data.config:DataCfg", "trainer": "petri.train.config:TrainCfg",
                   "compare": "petri.compare:CompareCfg",
                   "latency": "petri.latency.config:LatencyCfg",
                   "constraints": "petri.constraints:ConstraintsCfg"}
# Any algorithm may train a desc; the daemon measures a trained point's latency.
CORE_KINDS = {"train": "petri.train.job:run", "measure": "petri.latency.job:run"}
# Kinds the daemon runs only while nothing else runs on their device, and before which it
# lets the device drain: a measurement beside a training job measures the contention.
EXCLUSIVE_KINDS = frozenset({"measure"})


@dataclass(frozen=True)
class AlgoInfo:
    """One algorithm as the registry knows it, without importing its code: what a
    `petri.algos` entry point names (one, or a list of them).

    Attributes:
        name: What a config's `algo:` and `petri run NAME` call it.
        algorithm: "module:Class" of its `Algorithm`.
        help: One line for `petri run --list`.
        sections: The config sections it reads beyond the shared ones; its `Algorithm.settings`
            gives each one's config class.
        kinds: Its job kinds, kind -> "module:function" (a worker imports only the kind it
            runs).
        toy_config: A file under configs/ that `petri run NAME` uses.
        command: How its configs run where `petri run NAME` does not (an evaluation needs a
            gallery); None: offered by `petri run`.
        defaults: Its defaults under the config's own sections (section -> key -> value): a
            variant of an algorithm (DARTS' second order, PC-DARTS) is a row with other
            defaults, not a class.
        test_config: A tiny config (a YAML file beside the module of `algorithm`, shipped
            with it) that the algorithm contract tests run with stand-in results; a plug-in
            ships one the same way.
    """

    name: str
    algorithm: str
    help: str
    sections: tuple[str, ...] = ()
    kinds: dict[str, str] = field(default_factory=dict)
    toy_config: str | None = None
    command: str | None = None
    defaults: dict[str, dict] = field(default_factory=dict)
    test_config: str | None = None

    @property
    def runnable(self) -> bool:
        return self.command is None

    def test_config_path(self) -> Path | None:
        if self.test_config is None:
            return None
        module = importlib.util.find_spec(self.algorithm.split(":")[0])
        return Path(module.origin).parent / self.test_config


def _load(ref: str):
    module, attr = ref.split(":")
    return getattr(importlib.import_module(module), attr)


@functools.cache
def registry() -> dict[str, AlgoInfo]:
    import petri.algos

    infos: list[AlgoInfo] = []
    # Every folder under petri/algos is an algorithm: adding one needs no list edited here.
    for sub in pkgutil.iter_modules(petri.algos.__path__):
        if sub.ispkg:
            infos += importlib.import_module(f"petri.algos.{sub.name}").ALGOS
    for name in plugins.names(plugins.ALGOS):
        obj = plugins.load(plugins.ALGOS, name)
        infos += list(obj) if isinstance(obj, (list, tuple)) else [obj]
    out: dict[str, AlgoInfo] = {}
    for info in infos:
        if info.name in out:
            raise PetriError(f"two algorithms are called {info.name!r} ({out[info.name].algorithm} "
                             f"and {info.algorithm}); uninstall one of the plug-ins")
        out[info.name] = info
    return out


def algo_info(name) -> AlgoInfo:
    algos = registry()
    if name not in algos:
        raise ConfigError(f"unknown algo {name!r}; known: {', '.join(sorted(algos))}")
    return algos[name]


def algo_class(name) -> type:
    """The `Algorithm` class of algorithm `name`, unbuilt (its module imports no torch)."""
    return _load(algo_info(name).algorithm)


def create_algo(cfg: dict):
    """The run's algorithm, built from the whole config (it checks its own sections)."""
    return algo_class(cfg.get("algo"))(cfg)


def config_sections() -> set[str]:
    return set(SHARED_SECTIONS).union(*(i.sections for i in registry().values()))


@functools.cache
def job_kinds() -> dict[str, str]:
    kinds = dict(CORE_KINDS)
    for info in registry().values():
        for kind, ref in info.kinds.items():
            if kinds.setdefault(kind, ref) != ref:
                raise PetriError(f"job kind {kind!r} is claimed by {kinds[kind]} and {ref}")
    return kinds


@dataclass(frozen=True)
class JobKind:
    """A job kind's function and the classes its spec and result cross the job boundary as,
    read from the function's type hints: `run(spec: SomeSpec, ctx) -> SomeResult`. A kind
    without such hints (a plug-in's plain function) takes and returns the JSON dicts."""

    run: Callable
    spec: type[JobData] | None
    result: type[JobData] | None

    def read_spec(self, d: dict):
        return self.spec.from_dict(d) if self.spec else d

    def read_result(self, d: dict):
        return self.result.from_dict(d) if self.result else d

    def write_result(self, result) -> dict:
        return result.to_dict() if isinstance(result, JobData) else result


@functools.cache
def job_kind(kind: str) -> JobKind:
    kinds = job_kinds()
    if kind not in kinds:
        raise PetriError(f"unknown job kind {kind!r}; known: {', '.join(sorted(kinds))}")
    run = _load(kinds[kind])
    hints = typing.get_type_hints(run)
    first = next(iter(inspect.signature(run).parameters), None)
    return JobKind(run, _job_data(hints.get(first)), _job_data(hints.get("return")))


def _job_data(hint) -> type[JobData] | None:
    return hint if isinstance(hint, type) and issubclass(hint, JobData) else None
