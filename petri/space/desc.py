"""Model descriptions: typed, serialisable data that say exactly which network to build.

A `ModelDesc` is pure data (no torch). `petri.space.build.build_model` turns it into an
`nn.Module`. All cells of one type share one `CellDesc`, as in DARTS and Petridish.

Indexing of cell states, as in DARTS: state 0 is the output of cell k-2 (s0), state 1 the
output of cell k-1 (s1), and state i+2 is the output of node i. A node sums its edges; the
cell output concatenates the states listed in `concat` on channels.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from petri.errors import DescError, StoreError

# The DARTS primitives in their published index order (architecture weights use this order).
PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
# What random cells and growth draw from by default: `none` is no op to add.
SEARCH_OPS = tuple(op for op in PRIMITIVES if op != "none")
STEMS = ("cifar", "imagenet")


@dataclass(frozen=True)
class EdgeDesc:
    """One operation applied to one earlier state of the cell."""

    op: str
    input: int


@dataclass(frozen=True)
class NodeDesc:
    """An intermediate node: the sum of its edges."""

    edges: tuple[EdgeDesc, ...]


@dataclass(frozen=True)
class CellDesc:
    """The wiring of every cell of one type (normal or reduction)."""

    nodes: tuple[NodeDesc, ...]
    concat: tuple[int, ...]

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def live_nodes(self) -> set[int]:
        """Nodes whose output reaches the cell output; the others are neither built nor run."""
        live: set[int] = set()
        todo = [s - 2 for s in self.concat if s >= 2]
        while todo:
            j = todo.pop()
            if j not in live:
                live.add(j)
                todo.extend(e.input - 2 for e in self.nodes[j].edges if e.input >= 2)
        return live


@dataclass(frozen=True)
class ModelDesc:
    """A whole network: the two cell types and the macro parameters around them."""

    normal: CellDesc
    reduce: CellDesc
    channels: int = 16
    cells: int = 8
    reductions: int = 2
    in_channels: int = 3
    num_classes: int = 10
    stem: str = "cifar"
    stem_multiplier: int = 3
    auxiliary: bool = False
    name: str = ""
    meta: dict = field(default_factory=dict, hash=False, compare=False)

    # ---- structure -------------------------------------------------------------------
    def reduction_indices(self) -> list[int]:
        """Cells that halve the resolution and double the channels.

        `cells*(i+1)//(reductions+1)` reproduces DARTS' L//3 and 2L//3 for two reductions.
        """
        return [self.cells * (i + 1) // (self.reductions + 1) for i in range(self.reductions)]

    def aux_index(self) -> int | None:
        """The cell after which the auxiliary head attaches (the last reduction cell)."""
        idx = self.reduction_indices()
        return idx[-1] if (self.auxiliary and idx) else None

    def validate(self) -> "ModelDesc":
        """Raise `DescError` naming the cell, node and edge of the first problem found."""
        for what, value in (("channels", self.channels), ("cells", self.cells),
                            ("in_channels", self.in_channels), ("num_classes", self.num_classes),
                            ("stem_multiplier", self.stem_multiplier)):
            if not _is_int(value) or value <= 0:
                raise DescError(f"desc {self.name or '<unnamed>'}: {what} must be a positive "
                                f"integer, got {value!r}")
        if not _is_int(self.reductions) or self.reductions < 0:
            raise DescError(f"desc: reductions must be >= 0, got {self.reductions!r}")
        for what, value, kind in (("name", self.name, str), ("auxiliary", self.auxiliary, bool),
                                  ("meta", self.meta, dict)):
            if not isinstance(value, kind):
                raise DescError(f"desc: {what} must be {_KINDS[kind]}, got {value!r}")
        if self.stem not in STEMS:
            raise DescError(f"desc: unknown stem {self.stem!r}; choose one of {', '.join(STEMS)}")
        idx = self.reduction_indices()
        if len(set(idx)) != len(idx) or (idx and idx[0] == 0 and self.stem == "cifar"
                                         and self.cells <= self.reductions):
            raise DescError(f"desc: {self.cells} cells cannot hold {self.reductions} reductions")
        for kind, cell in (("normal", self.normal), ("reduce", self.reduce)):
            _validate_cell(kind, cell)
        return self

    # ---- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelDesc":
        if not isinstance(d, dict):
            raise DescError(f"a model desc must be a mapping, got {type(d).__name__}")
        try:
            kw = dict(d)
            kw["normal"] = _cell_from_dict(kw["normal"])
            kw["reduce"] = _cell_from_dict(kw["reduce"])
            return cls(**kw)
        except (KeyError, TypeError) as e:
            problem = f"no {e} key" if isinstance(e, KeyError) else str(e)
            raise DescError(f"malformed model desc: {problem}; expected keys normal, reduce, "
                            f"channels, cells, ... as written by ModelDesc.to_json") from None

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelDesc":
        return cls.from_dict(json.loads(text))

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=True)

    @classmethod
    def from_yaml(cls, text: str) -> "ModelDesc":
        import yaml

        return cls.from_dict(yaml.safe_load(text))

    def key(self) -> str:
        """Content hash of the architecture (name and meta excluded)."""
        d = self.to_dict()
        d.pop("name")
        d.pop("meta")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def scaled(self, **changes) -> "ModelDesc":
        """A copy with macro parameters changed (channels, cells, classes, ...)."""
        return replace(self, **changes)


_KINDS = {str: "a string", bool: "true or false", dict: "a mapping"}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cell_from_dict(d: dict) -> CellDesc:
    nodes = tuple(NodeDesc(tuple(EdgeDesc(op=e["op"], input=e["input"]) for e in n["edges"]))
                  for n in d["nodes"])
    return CellDesc(nodes=nodes, concat=tuple(d["concat"]))


def known_ops() -> tuple[str, ...]:
    """The built-in primitives, then those of installed `petri.ops` plug-ins (by name, none
    imported): any of them may appear in a desc."""
    from petri import plugins

    extra = tuple(plugins.names(plugins.OPS))
    clash = sorted(set(extra) & set(PRIMITIVES))
    if clash:
        raise DescError(f"the petri.ops plug-in(s) {', '.join(clash)} reuse a built-in op's "
                        f"name; rename or uninstall them")
    return PRIMITIVES + extra


def _validate_cell(kind: str, cell: CellDesc) -> None:
    if not cell.nodes:
        raise DescError(f"{kind} cell: needs at least one node")
    for j, node in enumerate(cell.nodes):
        if not node.edges:
            raise DescError(f"{kind} cell, node {j}: has no edges")
        for k, e in enumerate(node.edges):
            where = f"{kind} cell, node {j}, edge {k}"
            if e.op not in known_ops():
                raise DescError(f"{where}: unknown op {e.op!r}; known ops: "
                                f"{', '.join(known_ops())}")
            if not _is_int(e.input) or not 0 <= e.input < j + 2:
                raise DescError(f"{where}: input {e.input!r} is out of range; node {j} may read "
                                f"states 0..{j + 1} (0=s0, 1=s1, i+2=node i)")
    n_states = cell.n_nodes + 2
    if not cell.concat:
        raise DescError(f"{kind} cell: concat is empty")
    for s in cell.concat:
        if not _is_int(s) or not 0 <= s < n_states:
            raise DescError(f"{kind} cell: concat index {s!r} is out of range 0..{n_states - 1}")
        if kind == "reduce" and s < 2:
            raise DescError(f"reduce cell: concat index {s} is a cell input at twice the "
                            f"resolution; concatenate node outputs (index >= 2) only")


def cell_from_pairs(pairs: list[tuple[str, int]], concat: list[int] | None = None) -> CellDesc:
    """Build a DARTS-style cell where each consecutive pair of (op, input) feeds one node."""
    if len(pairs) % 2:
        raise DescError("DARTS genotype lists need an even number of (op, input) entries")
    nodes = tuple(NodeDesc((EdgeDesc(*pairs[i]), EdgeDesc(*pairs[i + 1])))
                  for i in range(0, len(pairs), 2))
    concat = tuple(concat) if concat is not None else tuple(range(2, len(nodes) + 2))
    return CellDesc(nodes=nodes, concat=concat)


def load_desc(path: str | Path) -> ModelDesc:
    """Read a desc from a .json or .yaml/.yml file, with a clear error for anything else."""
    p = Path(path)
    if not p.is_file():
        raise DescError(f"desc file {p} {'is a folder' if p.is_dir() else 'does not exist'}; "
                        f"pass a known genotype name or a .json/.yaml desc file")
    suffix = p.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise DescError(f"desc file {p}: unknown extension {p.suffix!r}; use .json or .yaml")
    try:
        if suffix == ".json":
            data = json.loads(p.read_bytes().decode("utf-8"))
        else:
            from petri.config import read_yaml

            data = read_yaml(p, "desc file")
        return ModelDesc.from_dict(data).validate()
    except DescError as e:
        raise DescError(f"{p}: {e}") from None
    except UnicodeDecodeError as e:
        raise DescError(f"{p}: not a text file (byte {e.object[e.start]:#04x} at offset "
                        f"{e.start}); pass a JSON desc file") from None
    except json.JSONDecodeError as e:
        raise DescError(f"{p}:{e.lineno}:{e.colno}: {e.msg} (the desc file is not valid "
                        f"JSON)") from None

def model_desc(m, path) -> ModelDesc:
    """The checked desc of gallery model `m` (a `GalleryModel` of the gallery at `path`); a
    damaged one is a StoreError naming it."""
    try:
        return ModelDesc.from_dict(m.desc).validate()
    except DescError as e:
        raise StoreError(f"gallery {path}: model {m.id} has a desc petri cannot build ({e}); "
                         f"export the gallery again with `petri export`") from None
