"""The modules of petri.data import one another in one direction only.

Imports inside functions count too: a deferred import still ties the two modules together,
and a circle of them is what made `info`, `importer` and `datasets` hard to read apart.
"""
from __future__ import annotations

import ast
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "petri" / "data"


def data_imports(folder: Path) -> dict[str, set[str]]:
    """Module name -> the other petri.data modules it imports, anywhere in its code."""
    names = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    graph = {}
    for name in names:
        found = set()
        for node in ast.walk(ast.parse((folder / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "petri.data":
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("petri.data."):
                found.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[2] for a in node.names
                          if a.name.startswith("petri.data.")}
        graph[name] = found & names - {name}
    return graph


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports in `graph` (its modules in order, the first repeated), or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        for other in sorted(graph[name]):
            found = visit(other, path + [name])
            if found:
                return found
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name, [])
        if found:
            return found
    return None


def test_the_finder_sees_a_circle_through_a_deferred_import(tmp_path):
    (tmp_path / "a.py").write_text("from petri.data.b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from petri.data import c\n")
    (tmp_path / "c.py").write_text("import petri.data.a\n")
    assert circle(data_imports(tmp_path)) == ["a", "b", "c", "a"]
    (tmp_path / "c.py").write_text("import numpy\n")
    assert circle(data_imports(tmp_path)) is None


def test_no_imports_go_round_in_a_circle_in_petri_data():
    graph = data_imports(DATA)
    assert {"info", "importer", "datasets", "loader"} <= graph.keys()
    found = circle(graph)
    assert found is None, "petri.data imports go round in a circle: " + " -> ".join(found)
