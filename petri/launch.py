"""From a config file to a checked config and its algorithm (`petri.daemon.create` makes the
run dir from it).

`petri start`, `run` and `eval` and the daemon all come through here, so a config is checked
by one set of rules; `check` returns the algorithm it built, so a caller builds it once. It
sits above the config layer (which knows no algorithm) and asks the registry which sections
exist.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from petri.config import DaemonCfg, RayCfg, RunCfg, apply_override, from_mapping, read_yaml
from petri.errors import ConfigError
from petri.io import atomic_write
from petri.rundir import RunDir


def load_config(path: str | Path, overrides: tuple[str, ...] = ()) -> dict:
    """The config at `path` with `--set` overrides, fully checked (see `check`)."""
    return load_run(path, overrides)[0]


def load_run(path: str | Path, overrides: tuple[str, ...] = ()):
    """(config, algorithm) of the config at `path` with `--set` overrides, fully checked."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; `petri run --list` shows the "
                          f"shipped ones")
    cfg = read_yaml(p)
    for o in overrides:
        apply_override(cfg, o)
    if isinstance(cfg.get("data"), dict):  # saved as absolute: the daemon runs in the run dir
        from petri.data.config import absolute_paths

        cfg["data"] = absolute_paths(cfg["data"])
    absolute_path_settings(cfg)
    algo = check(cfg, f"{p} with --set" if overrides else str(p))
    if isinstance(cfg.get("data"), dict):  # the built-in default dataset is never small
        from petri.data.config import DataCfg, warn_if_small

        warn_if_small(DataCfg.from_dict(cfg["data"]))  # once, as the run is set up
    return cfg, algo


def absolute_path_settings(cfg: dict) -> None:
    """Make the files the algorithm's `paths` settings name absolute from the current
    directory (a name that is no file here, a genotype's, stays as it is)."""
    from dataclasses import fields

    from petri.algos.registry import algo_class, registry

    if cfg.get("algo") not in registry():
        return  # `check` names the problem
    for section, cls in algo_class(cfg["algo"]).settings.items():
        values = cfg.get(section)
        for f in fields(cls) if isinstance(values, dict) else ():
            if f.metadata.get("paths") and f.name in values:
                names = values[f.name]
                absolute = [_absolute(n) for n in (names if isinstance(names, list) else [names])]
                values[f.name] = absolute if isinstance(names, list) else absolute[0]


def _absolute(name):
    """`name` made absolute where it, or its part before `:ID`, is a file here."""
    if not isinstance(name, str):
        return name
    path, _, entry = name.rpartition(":")
    for file, rest in ((name, ""), (path, f":{entry}")):
        if file and Path(file).expanduser().exists():
            return str(Path(file).expanduser().absolute()) + rest
    return name


def check(cfg: dict, where: str = "config"):
    """Every section a run uses: names, types, ranges and the algorithm's own rules.

    Returns the algorithm it built, so a caller that needs one builds it only once.
    """
    from petri.algos.registry import config_sections, create_algo
    from petri.compare import CompareCfg
    from petri.constraints import Costing
    from petri.train.config import TrainCfg

    try:
        known = config_sections()
        unknown = sorted(map(str, set(cfg) - known))
        if unknown:
            raise ConfigError(f"unknown section(s) {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(known))}")
        if "algo" not in cfg:
            raise ConfigError("missing `algo` (for example `algo: petridish`)")
        from_mapping(RunCfg, {k: cfg[k] for k in ("algo", "seed", "name") if k in cfg}, "")
        RayCfg.from_dict(cfg.get("ray"))
        if DaemonCfg.from_dict(cfg.get("daemon")).executor == "ray":
            RayCfg.require_ray()  # before anything is created: a missing Ray changes nothing
        # On its own too: stage sections may override every key a bad value sits under.
        TrainCfg.from_dict(cfg.get("trainer") or {})
        CompareCfg.from_dict(cfg.get("compare"))  # a bad frame fails at `petri run`, not later
        Costing.from_cfg(cfg)  # hull, latency and constraints agree, whatever the algorithm
        return create_algo(cfg)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def read_run_config(run_dir: str | Path) -> dict:
    """The saved config of a run, checked as it was at `petri start`."""
    return open_run(run_dir)[0]


def open_run(run_dir: str | Path):
    """(config, algorithm) of an existing run."""
    rd = RunDir(run_dir)
    if not rd.config.is_file():
        raise ConfigError(f"{rd.root} has no config.yaml; is it a petri run dir?")
    cfg = read_yaml(rd.config, "run's saved config")
    return cfg, check(cfg, str(rd.config))


def save_config(cfg: dict, run_dir: str | Path) -> None:
    data = yaml.safe_dump(cfg, sort_keys=True).encode()
    atomic_write(RunDir(run_dir).config, lambda f: f.write(data))


_ABSENT = object()


def config_differences(given: dict, saved: dict, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two configs (a key in one only counts)."""
    out = []
    for key in sorted(set(given) | set(saved), key=str):
        a, b = given.get(key, _ABSENT), saved.get(key, _ABSENT)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def check_same_config(cfg: dict, run_dir: str | Path) -> None:
    """Refuse to start the run at `run_dir` with a config other than the one it was made
    with: continuing it would silently use the saved one. Names the keys that differ."""
    rd = RunDir(run_dir)
    saved = read_yaml(rd.config, "run's saved config")
    # Compared as it would be saved: the saved one has been through YAML once more.
    given = yaml.safe_load(yaml.safe_dump(cfg, sort_keys=True))
    differ = config_differences(given, saved)
    if differ:
        raise ConfigError(f"{rd.root} already holds a run with another config (different: "
                          f"{', '.join(differ)}); nothing was changed: `petri resume {rd.root}` "
                          f"continues that run with its saved {rd.config.name}, or choose a new "
                          f"--run-dir for this config")
