"""MkDocs hooks: the generated body of the config reference (petri/config_docs.py)."""
from mkdocs.exceptions import PluginError

PAGE = "reference/config.md"
MARKER = "<!-- generated: config sections -->"


def on_page_markdown(markdown, page, **kwargs):
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} lost the line {MARKER}, where the sections go")
    from petri.config_docs import render

    return markdown.replace(MARKER, render())
