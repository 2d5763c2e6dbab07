"""Run configuration: a YAML file, `--set a.b=value` overrides, validated daemon settings.

The resolved config is saved in the run dir (`config.yaml`) and is what a resumed run uses.
"""
from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import yaml

from petri.errors import ConfigError, install_extra


def setting(default=MISSING, *, help: str = "", ge=None, gt=None, le=None, lt=None, choices=None,
            extendable=False, paths=False):
    """A config field with its allowed range, checked by `from_mapping` at load time.

    `help`: one line saying what the key does, shown on the generated config reference
    (petri/config_docs.py), which refuses a key of petri's own without one (tests/docs); a
    plug-in's settings load without it, as they did before keys had help. No `default`: the
    key is required.
    `extendable`: a budget or termination key of a search, which `petri resume RUN --set`
    may change on an existing run (see petri/daemon/life.py); every other key is fixed at start.
    `paths`: the field names files (a string or a list of them; `FILE:ID` names one entry of
    a file), made absolute as the config is loaded, since the daemon runs in the run dir.
    """
    bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices}
    metadata = {k: v for k, v in bounds.items() if v is not None}
    flags = {"extendable": extendable, "paths": paths}
    return field(default=default, metadata=metadata | {k: True for k, v in flags.items() if v}
                 | {"help": help})


def from_mapping(cls, d: dict | None, section: str):
    """Build the dataclass `cls` from `d`, checking every key's name, type and range.

    A wrong value is one `ConfigError` naming `section.key`, what it expects and what it got,
    so a bad `--set` fails at the command line, not later inside a worker.
    """
    d = d or {}
    if not isinstance(d, dict):
        raise ConfigError(f"{section} must be a mapping of settings, got {_show(d)}")
    known = {f.name: f for f in fields(cls)}
    bad = sorted(set(d) - set(known))
    if bad:
        raise ConfigError(f"unknown {section} setting(s) {', '.join(map(str, bad))}; known: "
                          f"{', '.join(sorted(known))}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, raw in d.items():
        key = f"{section}.{name}" if section else name
        value = check_type(raw, hints[name], key)
        check_range(value, known[name].metadata, key)
        values[name] = value
    return cls(**values)


def _show(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def type_name(tp) -> str:
    """`tp` in YAML's words, as errors and the config reference name it."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return "null"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return " or ".join(map(str, args))
    if origin in (tuple, list) and args:
        fixed = origin is tuple and args[-1] is not Ellipsis
        item = type_name(args[0]).removeprefix("an ").removeprefix("a ")
        return f"a list of {len(args)} {item}s" if fixed else f"a list of {item}s"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def check_type(value, tp, key: str):
    """`value` as type `tp` (YAML's own types; integral floats count as integers)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return check_type(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key} must be {type_name(tp)}, got {_show(value)}")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        # YAML 1.1 reads `1e-3` as a string; accept what Python reads as a number.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{key} must be a finite number, got {value!r}")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin in (tuple, list):
        if isinstance(value, (list, tuple)):
            if origin is tuple and args and args[-1] is not Ellipsis:
                if len(value) != len(args):
                    raise ConfigError(f"{key} must be a list of {len(args)} values, "
                                      f"got {_show(value)}")
                item_types = args
            else:
                item_types = (args[0] if args else typing.Any,) * len(value)
            items = [check_type(v, t, f"{key}[{i}]")
                     for i, (v, t) in enumerate(zip(value, item_types))]
            return tuple(items) if origin is tuple else items
    elif origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{key} must be one of {', '.join(map(str, args))}, got {value!r}")
    elif tp is typing.Any:
        return value
    elif tp in (dict, list) or origin is dict:
        if isinstance(value, origin or tp):
            return value
    else:
        return value
    raise ConfigError(f"{key} must be {type_name(tp)}, got {_show(value)}")


def check_range(value, bounds, key: str) -> None:
    if value is None or not bounds:
        return
    if "choices" in bounds and value not in bounds["choices"]:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, bounds['choices']))}, "
                          f"got {value!r}")
    for name, ok, word in (("ge", lambda v, b: v >= b, "at least"),
                           ("gt", lambda v, b: v > b, "greater than"),
                           ("le", lambda v, b: v <= b, "at most"),
                           ("lt", lambda v, b: v < b, "less than")):
        if name in bounds:
            for v in (value if isinstance(value, (tuple, list)) else (value,)):
                if not ok(v, bounds[name]):
                    raise ConfigError(f"{key} must be {word} {bounds[name]}, got {v!r}")


@dataclass(frozen=True)
class RunCfg:
    """The top-level scalars of a run config; the sections are checked by their owners."""

    algo: str = setting(help="The search algorithm (`petri run --list` names them).")
    seed: int = setting(0, ge=0, help="The run's seed: architectures drawn and every job's "
                                      "trainer seed derive from it.")
    name: str | None = setting(None, help="A free label kept in the run's config.yaml; "
                                          "nothing reads it.")


@dataclass(frozen=True)
class DaemonCfg:
    executor: typing.Literal["local", "ray"] = setting(
        "local", help="Where the workers run: processes on this machine (local) or Ray "
                      "actors on a cluster (ray, see the `ray` section).")
    cpu_slots: int = setting(1, ge=1, le=1024,
                             help="Worker processes on the CPU when no GPU gets a slot.")
    threads: int | None = setting(
        None, ge=1, le=1024, help="Torch threads of each CPU slot (null: the cores other "
                                  "petri daemons leave free, shared among the slots).")
    slots_per_gpu: int = setting(1, ge=1, le=64, help="Jobs run at once on each GPU.")
    use_gpus: bool = setting(True, help="Give the visible GPUs slots (false: CPU slots only).")
    min_free_mb: int = setting(1024, ge=0,
                               help="A GPU with less free memory (MiB) at start gets no slot.")
    allow_shared_gpus: bool = setting(False, help="Also place slots on GPUs that processes "
                                                  "outside petri use.")
    max_attempts: int = setting(3, ge=1, help="Tries a job gets before it is marked failed.")
    backoff_s: float = setting(2.0, ge=0, help="Delay before a failed job's first retry, in "
                                               "seconds; doubles with each attempt.")
    progress_every_s: float = setting(2.0, gt=0, help="Seconds between rewrites of a running "
                                                      "job's progress file (what the views and "
                                                      "the hang check read).")
    # Below a second every job would look hung.
    hang_grace_s: float = setting(120.0, ge=1, help="Seconds without new progress after "
                                                    "which a running job counts as hung.")
    first_progress_grace_s: float = setting(
        600.0, ge=1, help="Seconds a job may take before its first progress report.")
    # Minutes on a CPU for a cold torch.compile (BENCHMARKS.md); it is also how long a hang
    # inside such a phase goes unnoticed.
    busy_grace_s: float = setting(
        1800.0, ge=1, help="Seconds one phase that cannot report from inside (imports, "
                           "loading data, building a model, compiling) may run.")
    stop_grace_s: float = setting(60.0, ge=0, help="Seconds `petri stop` waits for workers "
                                                   "to checkpoint before ending them.")
    poll_s: float = setting(0.02, ge=0.001,  # 0 would busy-loop the daemon
                            help="Seconds the daemon's loop waits for worker events per turn.")
    keep: typing.Literal["final", "all"] = setting(
        "final", help="Which checkpoints stay once a job's result lands: final (only those "
                      "a point keeps as weights or a later job reads) or all.")

    @classmethod
    def from_dict(cls, d: dict | None) -> "DaemonCfg":
        return from_mapping(cls, d, "daemon")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RayCfg:
    """The `ray` section: where the cluster is and what each slot's actor holds of it. Read
    only when `daemon.executor` is ray; the slot settings of `daemon` apply to local runs."""

    address: str = setting(
        "auto", help="The cluster: auto (the one `ray start` runs here, or RAY_ADDRESS), "
                     "local (a private one-machine Ray for the daemon's life) or a head's "
                     "HOST:PORT.")
    slots: int | None = setting(None, ge=1, le=4096, help="Worker actors (null: as many as "
                                                          "the cluster holds at start).")
    num_cpus: float = setting(1.0, gt=0, help="CPUs each slot's actor reserves.")
    num_gpus: float = setting(0.0, ge=0, help="GPUs each slot's actor reserves; below 1 "
                                              "shares a GPU (0.5: two slots on each).")

    def __post_init__(self):
        if self.num_gpus > 1 and not float(self.num_gpus).is_integer():
            raise ConfigError(f"ray.num_gpus must be below 1 or a whole number, got "
                              f"{self.num_gpus!r}: Ray shares a GPU only as a fraction of one")

    @classmethod
    def from_dict(cls, d: dict | None) -> "RayCfg":
        return from_mapping(cls, d, "ray")

    @staticmethod
    def require_ray() -> None:
        """Refuse a Ray run, in one line naming the fix, where Ray cannot be imported."""
        try:
            import ray  # noqa: F401
        except ImportError as e:
            raise ConfigError(f"daemon.executor is ray but Ray cannot be imported ({e}): "
                              f"{install_extra('ray')}, or set daemon.executor=local") from None


def apply_override(cfg: dict, assignment: str) -> None:
    """Apply one `a.b.c=value` (value parsed as YAML) to a nested dict in place."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. trainer.epochs=3")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")  # an unknown section is caught with the whole config
    node = cfg
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {p} is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key}: cannot parse value {raw!r}: "
                          f"{' '.join(str(e).split())}") from None


def read_yaml(path: Path, what: str = "config file") -> dict:
    """A YAML mapping from `path`; any problem is one line `FILE:LINE:COL: problem`."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a text file (byte {e.object[e.start]:#04x} at offset "
                          f"{e.start}); pass a YAML {what}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the {what}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: {e.problem or e.context} (the {what} is not valid YAML)") \
            from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the {what} must hold a mapping of sections at the top "
                          f"level, got {type(data).__name__}")
    return data
