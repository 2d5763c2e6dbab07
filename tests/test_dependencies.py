"""Every import in the project is satisfied by what setup.py declares.

A package installed by hand on a developer's or CI's machine once made the suite green while a
fresh machine failed (plotext). This test reads every import statement of the package, the
tests and the benchmarks and checks that each third-party module belongs to a distribution
named in petri's `install_requires` or one of its extras, so the hole cannot reopen however
dirty the machine is. A second test imports every module of the package in a fresh interpreter.
"""
from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("petri", "cli", "store", "tests", "bench")
FIRST_PARTY = {"petri", "tests", "bench"}  # bench/gpu_check.py imports its siblings


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions() -> set[str]:
    """Names in install_requires and every extra of the installed petri."""
    names = set()
    for req in md.requires("petri") or []:
        names.add(_norm(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0]))
    return names


def imported_modules() -> dict[str, list[str]]:
    """Top-level third-party module name -> files importing it (absolute imports only)."""
    found: dict[str, list[str]] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_import_is_declared_in_setup_py():
    declared = declared_distributions()
    owners = md.packages_distributions()
    problems = []
    for module, files in sorted(imported_modules().items()):
        dists = {_norm(d) for d in owners.get(module, [])}
        if not dists:
            problems.append(f"{module} (imported in {files[0]}) is not installed: declare it in "
                            f"setup.py")
        elif not dists & declared:
            problems.append(f"{module} (imported in {files[0]}) comes from {sorted(dists)}, "
                            f"which setup.py does not declare")
    assert not problems, "\n".join(problems)


def package_modules() -> list[str]:
    mods = []
    for folder, pkg in (("petri", "petri"), ("cli", "petri.cli"), ("store", "petri.store")):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            mods.append(".".join([pkg, *parts]))
    return mods


@pytest.mark.slow
def test_every_package_module_imports_in_a_fresh_interpreter():
    code = ("import importlib, sys\n"
            "bad = []\n"
            f"for m in {package_modules()!r}:\n"
            "    try:\n"
            "        importlib.import_module(m)\n"
            "    except ImportError as e:\n"
            "        bad.append(f'{m}: {e}')\n"
            "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("line", ["torch==2.13.0"])
def test_makefile_pins_torch_before_the_project(line):
    # A bare `torch` requirement with nothing installed pulls GBs of CUDA wheels.
    text = (ROOT / "Makefile").read_text()
    assert line in text and text.index(line) < text.index('-e ".[test]"')
