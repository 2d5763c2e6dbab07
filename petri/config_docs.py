"""The config reference (docs/reference/config.md), rendered from the typed config itself.

Every section a run may have comes from the registry: the shared ones from
`registry.SHARED_SECTIONS`, an algorithm's own from its `Algorithm.settings`; every key's
type, default, range and help from its `setting()`. Nothing here lists a section or a key,
so the page cannot miss one. The docs build calls `render()` (docs/hooks.py).
"""
from __future__ import annotations

import json
import pkgutil
import typing
from dataclasses import MISSING, Field, dataclass, fields

from petri.algos.registry import SHARED_SECTIONS, algo_class, registry
from petri.config import RunCfg, type_name
from petri.errors import PetriError
from petri.train.config import TrainCfg

RANGE_WORDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


@dataclass(frozen=True)
class Section:
    name: str  # "" for the top-level keys
    cls: type
    readers: tuple[str, ...]  # the algorithms that read it; () for every run
    defaults: dict[str, dict[str, object]]  # key -> algorithm -> its own default

    @property
    def stage(self) -> bool:
        """A section of `trainer` keys for one stage's jobs (`search`, `post_train`)."""
        return self.cls is TrainCfg and self.name != "trainer"


def sections() -> list[Section]:
    """Every config section: the shared ones first, then the algorithms' by name."""
    shared: dict[str, type] = {}
    for name, ref in SHARED_SECTIONS.items():
        cls = pkgutil.resolve_name(ref)
        shared["" if cls is RunCfg else name] = cls
    out = [Section(name, cls, (), {}) for name, cls in shared.items()]
    own: dict[str, type] = {}
    readers: dict[str, list[str]] = {}
    defaults: dict[str, dict[str, dict]] = {}
    for algo, info in sorted(registry().items()):
        settings = algo_class(algo).settings
        if set(settings) != set(info.sections):
            raise PetriError(f"algorithm {algo!r}: its AlgoInfo.sections "
                             f"({', '.join(sorted(info.sections))}) and its Algorithm.settings "
                             f"({', '.join(sorted(settings))}) must name the same sections")
        for name, cls in settings.items():
            if own.setdefault(name, cls) is not cls:
                raise PetriError(f"section {name!r} is checked by {own[name].__name__} and "
                                 f"{cls.__name__}; one section needs one config class")
            readers.setdefault(name, []).append(algo)
            for key, value in info.defaults.get(name, {}).items():
                defaults.setdefault(name, {}).setdefault(key, {})[algo] = value
    out += [Section(name, own[name], tuple(readers[name]), defaults.get(name, {}))
            for name in sorted(own)]
    return out


def render() -> str:
    """The reference as markdown: one heading and one table per section."""
    return "\n".join(_section(s) for s in sections())


def _section(s: Section) -> str:
    title = f"`{s.name}`" if s.name else "Top level"
    who = ", ".join(f"`{a}`" for a in s.readers) if s.readers else "any algorithm"
    lines = [f"## {title}", "", f"Read by: {who}.", ""]
    if s.stage:
        own = _by_algo(s.defaults)
        lines += [f"The keys of [`trainer`](#trainer), for this stage's jobs only: a key set "
                  f"here wins over {'the defaults below, then ' if own else ''}`trainer`.", ""]
        lines += [f"- `{algo}`: " + ", ".join(f"`{k}: {_value(v)}`" for k, v in keys.items())
                  for algo, keys in own.items()]
        return "\n".join(lines) + "\n"
    hints = typing.get_type_hints(s.cls)
    lines += ["| Key | Type | Default | Range | What it does |", "|---|---|---|---|---|"]
    lines += [_row(f, hints[f.name], s.defaults.get(f.name, {})) for f in fields(s.cls)]
    return "\n".join(lines) + "\n"


def _row(f: Field, hint, algo_defaults: dict) -> str:
    default = "required" if f.default is MISSING else f"`{_value(f.default)}`"
    default += "".join(f"; `{a}`: `{_value(v)}`" for a, v in algo_defaults.items())
    bounds = [f"{word} {f.metadata[k]}" for k, word in RANGE_WORDS.items() if k in f.metadata]
    if "choices" in f.metadata:
        bounds.append("one of " + ", ".join(f"`{c}`" for c in f.metadata["choices"]))
    help = field_help(f)
    if f.metadata.get("extendable"):
        help += " `petri resume RUN --set` may change it on a run."
    if f.metadata.get("paths"):
        help += " Relative paths are read from the directory the run is started in."
    cells = [f"`{f.name}`", type_name(hint), default, ", ".join(bounds), help]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def field_help(f: Field) -> str:
    """The help of config field `f`; a field made without `setting()` has none."""
    help = f.metadata.get("help", "")
    if not help.strip():
        raise PetriError(f"config field {f.name!r} has no help; make it with "
                         f"setting(DEFAULT, help=...)")
    return help


def _by_algo(defaults: dict[str, dict]) -> dict[str, dict]:
    """key -> algorithm -> value, turned into algorithm -> key -> value."""
    out: dict[str, dict] = {}
    for key, by_algo in defaults.items():
        for algo, value in by_algo.items():
            out.setdefault(algo, {})[key] = value
    return out


def _value(v) -> str:
    """A default as it is written in a YAML config."""
    if isinstance(v, str):
        return v if v else '""'
    return json.dumps(list(v) if isinstance(v, tuple) else v)
