"""A plug-in "installed" the way pip leaves one: a module and a dist-info folder with its
entry points, on the path of a fresh interpreter (and so of the daemon and its workers)."""
import textwrap


def install(site, module: str, code: str, entry_points: str) -> dict:
    """Leave `module` and its dist-info in `site`, as pip would; the env that finds them."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(code))
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    name = module.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return {"PYTHONPATH": str(site)}
