"""Run configuration: a YAML file, `--set a.b=value` overrides, validated daemon settings.

The resolved config is saved in the run dir (`config.yaml`) and is what a resumed run uses.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from petri.errors import ConfigError

TOP_LEVEL = {"algo", "seed", "daemon", "smoke", "petridish", "seed_train", "search", "post_train",
             "data", "trainer", "pareto", "hull", "eval", "darts", "mood", "random", "name",
             "cost", "supernet", "arch", "derived"}


def from_mapping(cls, d: dict | None, section: str):
    """Build the dataclass `cls` from `d`, naming unknown keys and the known ones."""
    d = d or {}
    if not isinstance(d, dict):
        raise ConfigError(f"{section} must be a mapping, got {type(d).__name__}")
    known = {f.name for f in fields(cls)}
    bad = sorted(set(d) - known)
    if bad:
        raise ConfigError(f"unknown {section} setting(s) {', '.join(bad)}; known: "
                          f"{', '.join(sorted(known))}")
    return cls(**d)


@dataclass(frozen=True)
class DaemonCfg:
    cpu_slots: int = 1
    slots_per_gpu: int = 1
    use_gpus: bool = True
    min_free_mb: int = 1024  # a GPU with less free memory gets no slot
    allow_shared_gpus: bool = False  # run on GPUs that foreign processes use
    max_attempts: int = 3
    backoff_s: float = 2.0  # first retry delay; doubles each attempt
    progress_every_s: float = 2.0
    hang_grace_s: float = 120.0  # progress older than this means the job hangs
    first_progress_grace_s: float = 600.0  # before the first report (imports, data load)
    stop_grace_s: float = 60.0  # how long `petri stop` waits for workers to checkpoint
    poll_s: float = 0.02

    @classmethod
    def from_dict(cls, d: dict | None) -> "DaemonCfg":
        cfg = from_mapping(cls, d, "daemon")
        if cfg.cpu_slots < 1 or cfg.slots_per_gpu < 1 or cfg.max_attempts < 1:
            raise ConfigError("daemon.cpu_slots, daemon.slots_per_gpu and daemon.max_attempts "
                              "must be at least 1")
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)


def apply_override(cfg: dict, assignment: str) -> None:
    """Apply one `a.b.c=value` (value parsed as YAML) to a nested dict in place."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. trainer.epochs=3")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    if parts[0] not in TOP_LEVEL:
        raise ConfigError(f"--set {key}: unknown section {parts[0]!r}; known: "
                          f"{', '.join(sorted(TOP_LEVEL))}")
    node = cfg
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {p} is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {e}") from None


def load_config(path: str | Path, overrides: tuple[str, ...] = ()) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; see configs/ for examples")
    try:
        cfg = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p} is not valid YAML: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file {p} must hold a mapping at the top level")
    for o in overrides:
        apply_override(cfg, o)
    return validate(cfg, str(p))


def validate(cfg: dict, where: str = "config") -> dict:
    unknown = sorted(set(cfg) - TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(TOP_LEVEL))}")
    if "algo" not in cfg:
        raise ConfigError(f"{where}: missing `algo` (for example `algo: petridish`)")
    DaemonCfg.from_dict(cfg.get("daemon"))
    from petri.algos.base import create_algo

    create_algo(cfg)  # the algorithm checks its own sections now, not in the detached daemon
    return cfg


def save_config(cfg: dict, run_dir: Path) -> None:
    from petri.io import atomic_write

    data = yaml.safe_dump(cfg, sort_keys=True).encode()
    atomic_write(run_dir / "config.yaml", lambda f: f.write(data))


def read_run_config(run_dir: Path) -> dict:
    p = run_dir / "config.yaml"
    if not p.is_file():
        raise ConfigError(f"{run_dir} has no config.yaml; is it a petri run dir?")
    return validate(yaml.safe_load(p.read_text()) or {}, str(p))
