"""The generated reference pages cover everything they document.

The config page (petri/config_docs.py) must list every section a run may have and every key
with its help; the CLI page (mkdocs-click) every command and option of `petri`. The fast
tests check the rendered markdown against the registry and the config classes; the slow one
builds the site with `mkdocs build --strict` and reads the HTML a reader gets.
"""
from __future__ import annotations

import dataclasses
import html
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from petri.algos.registry import config_sections
from petri.config import setting
from petri.config_docs import field_help, render, sections
from petri.errors import PetriError

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = sections()


def _section_chunks(text: str, start: str) -> dict[str, str]:
    """Heading id -> the text from that heading to the next one `start` opens."""
    parts = re.split(start, text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_section_a_run_may_have_is_documented():
    documented = {s.name for s in SECTIONS if s.name}
    top_level = {f.name for s in SECTIONS if not s.name for f in dataclasses.fields(s.cls)}
    assert documented | top_level == config_sections()


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.name or "top-level")
def test_every_config_key_has_help_and_a_row(section):
    chunk = _section_chunks(render(), r"(?m)^## (.+)$")[
        f"`{section.name}`" if section.name else "Top level"]
    for f in dataclasses.fields(section.cls):
        field_help(f)  # raises for a field without one
        if not section.stage:
            assert f"| `{f.name}` |" in chunk, f"{section.name}.{f.name} has no row"


def test_a_field_without_help_fails_the_reference():
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        documented: int = setting(1, help="Something it does.")
        bare: int = 2
        ranged: int = setting(3, ge=0)  # as a plug-in written before keys had help

    assert field_help(dataclasses.fields(Cfg)[0]) == "Something it does."
    for f in dataclasses.fields(Cfg)[1:]:
        with pytest.raises(PetriError, match=f"{f.name}.*has no help"):
            field_help(f)


def _cli_commands(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()):
    """(path, command) of every command under `group`, walked through its lazy loader."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _cli_commands(command, click.Context(command, parent=ctx, info_name=name),
                                     path + (name,))


def _text(fragment: str) -> str:
    """What a reader sees of an HTML fragment, its whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


@pytest.mark.slow
def test_the_site_builds_strictly_and_its_references_cover_everything(tmp_path):
    """Needs every page of mkdocs.yml's nav: a missing one fails the strict build."""
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                            "-d", str(site)], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr

    page = (site / "reference" / "config" / "index.html").read_text()
    chunks = _section_chunks(page, r'<h2 id="([^"]+)"')
    for section in SECTIONS:
        chunk = chunks[section.name or "top-level"]
        for f in dataclasses.fields(section.cls):
            if not section.stage:
                key = f"{section.name}.{f.name}"
                assert f"<code>{f.name}</code>" in chunk, f"{key} is not on the config page"
                assert " ".join(field_help(f).replace("`", "").split()) in _text(chunk), \
                    f"the help of {key} is not on the config page"

    from petri.cli.main import cli

    page = (site / "reference" / "cli" / "index.html").read_text()
    chunks = _section_chunks(page, r'<h\d id="(petri[^"]*)"')
    commands = list(_cli_commands(cli, click.Context(cli, info_name="petri")))
    assert len(commands) >= 20
    for path, command in commands:
        anchor = "-".join(("petri",) + path)
        assert anchor in chunks, f"`petri {' '.join(path)}` is not on the CLI page"
        shown = set(re.findall(r"-{1,2}[\w-]+", _text(chunks[anchor])))
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts:
                    assert opt in shown, f"`petri {' '.join(path)} {opt}` is not on the CLI page"

    page = (site / "reference" / "api" / "index.html").read_text()
    for name in ("petri.gallery.load_model", "store.gallery.Preprocessing",
                 "petri.algos.registry.AlgoInfo", "petri.algos.base.Algorithm",
                 "petri.space.ops.OpFactory", "petri.data.info.DatasetPlugin"):
        assert f'id="{name}"' in page, f"{name} is not on the API page"
