"""The runnable examples of the tutorial and the how-to guides, and how a page is run.

A page's ```bash blocks are shell commands and its ```python blocks Python, run in page order
in one scratch directory. A block with `title="PATH"` (any language) is a file the reader
saves: it is written to PATH before the next block runs. A block inside an admonition titled
"Not run in CI: REASON" is shown, not run; REASON is one of `REASONS`, the only things CI lacks.
Everything else (```text, ```yaml without a title) is shown output or illustration.
What a page installs with pip lands in its scratch directory, not in the tests' environment.

Pages show the real commands; `shrink` adds `--set` overrides (`SIZES`) to each
`petri start|run|eval` so that the page's searches fit CI. After the last block, the workers'
logs of every run the page made are read for native failures.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.conftest import ROOT, run_petri
from tests.helpers.shrink import DATA, NATIVE_FAILURES, SHRINK, SUPERNET_SIZE

DOCS = ROOT / "docs"
RUNNABLE = ("bash", "python")
NOT_RUN = "Not run in CI: "
REASONS = ("needs a GPU", "needs a multi-machine Ray cluster", "needs an interactive terminal")

# Per algorithm (a config's `algo:`), what a page's search is shrunk by: the README searches'
# data and counts, the supernet family at its end-to-end tests' data and network size (the
# toys' own network sizes are test_readme_searches' to guard), and the kinds of run those
# leave out.
SUPERNETS = ("darts", "darts2", "pc-darts", "mood")
SIZES = {**{algo: (SUPERNET_SIZE if algo in SUPERNETS else DATA) + sets
            for algo, sets in SHRINK.items()},
         "eval": DATA + ["trainer.epochs=1"],
         "smoke": []}
BLOCK_TIMEOUT_S = 300

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,}) *(?P<lang>[\w+-]*)(?P<info>.*)$")
ADMONITION = re.compile(r'^(?P<indent> *)(?:!!!|\?\?\?\+?) +[\w-]+(?: +"(?P<title>[^"]*)")?')
TITLE = re.compile(r'\btitle="(?P<title>[^"]+)"')
PETRI_SEARCH = re.compile(r"\bpetri +(?P<cmd>start|run|eval)\b")
COMMAND_END = re.compile(r"[ \t]+#|[ \t]*(?:;|&&|\|\|?|&|$)")  # a comment, an operator, the end
VALUED = {"--config", "--run-dir", "--set", "-o", "--output", "--interval"}


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    file: str | None = None  # title="PATH": the content of that file
    not_run: str | None = None  # the reason of its "Not run in CI" admonition


def pages() -> list[Path]:
    return [DOCS / "tutorial.md", *sorted((DOCS / "howto").glob("*.md"))]


def page_id(page: Path) -> str:
    return page.relative_to(DOCS).with_suffix("").as_posix()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a page, in order; an error for a "Not run in CI" admonition with
    an unknown reason or without a runnable block inside."""
    lines, out, i = text.splitlines(), [], 0
    skip: tuple[int, str, int] | None = None  # (indent, reason, line) of an open admonition
    while i < len(lines):
        line = lines[i]
        if skip and line.strip() and _indent(line) <= skip[0]:
            _check_filled(skip, out)
            skip = None
        if (m := ADMONITION.match(line)) and (m["title"] or "").startswith(NOT_RUN):
            reason = m["title"].removeprefix(NOT_RUN)
            if reason not in REASONS:
                raise ValueError(f"line {i + 1}: {reason!r} is no reason to leave a block "
                                 f"unrun; the reasons are {REASONS}")
            skip = (_indent(line), reason, i + 1)
        elif m := FENCE.match(line):
            end = re.compile(rf"^ *{re.escape(m['fence'][0])}{{{len(m['fence'])},}} *$")
            j = i + 1
            while j < len(lines) and not end.match(lines[j]):
                j += 1
            width = len(m["indent"])
            code = "".join(ln[width:] + "\n" if not ln[:width].strip() else ln.lstrip() + "\n"
                           for ln in lines[i + 1:j])
            title = TITLE.search(m["info"])
            out.append(Block(i + 1, m["lang"], code, title and title["title"],
                             skip[1] if skip else None))
            i = j
        i += 1
    if skip:
        _check_filled(skip, out)
    return out


def _check_filled(skip: tuple[int, str, int], found: list[Block]) -> None:
    if not any(b.not_run and b.line > skip[2] for b in found):
        raise ValueError(f"line {skip[2]}: a 'Not run in CI' admonition without a block in it")


def _algo(cmd: str, args: list[str], cwd: Path) -> str | None:
    """The algorithm a `petri start|run|eval` command line runs, from its config."""
    positional, config = [], None
    it = iter(args)
    for a in it:
        if a in VALUED:
            value = next(it, None)
            config = value if a == "--config" else config
        elif not a.startswith("-"):
            positional.append(a)
    if cmd == "run" and config is None:
        return positional[0] if positional else None
    path = config if cmd != "start" else (positional[0] if positional else None)
    if path is None or not (cwd / path).is_file():
        return None
    return yaml.safe_load((cwd / path).read_text()).get("algo")


def shrink(code: str, cwd: Path) -> str:
    """`code` with each search it starts shrunk: the `--set`s of its algorithm's `SIZES`
    appended to each `petri start|run|eval` command, after the reader's own (so they win)."""
    out, at = [], 0
    for m in PETRI_SEARCH.finditer(code):
        rest = re.split(r"(?<!\\)\n", code[m.end():], maxsplit=1)[0]
        end = COMMAND_END.search(rest).start()
        lex = shlex.shlex(rest[:end].replace("\\\n", " "), posix=True)
        lex.whitespace_split = True
        sets = SIZES.get(_algo(m["cmd"], list(lex), cwd) or "", [])
        out += [code[at:m.end() + end], *(f" --set {s}" for s in sets)]
        at = m.end() + end
    return "".join(out) + code[at:]


def environment(scratch: Path) -> dict:
    """The reader's shell: this interpreter's `petri` and `python` first on PATH, and what a
    page installs with pip kept in the scratch directory (on every process's path) rather
    than in the environment the tests run in, built without fetching build tools."""
    bin_dir = str(Path(sys.executable).parent)
    site = scratch / "site-packages"
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "COLUMNS": "100", "PETRI_OFFLINE": "1", "PIP_TARGET": str(site),
            "PYTHONPATH": str(site), "PIP_NO_BUILD_ISOLATION": "0"}


def run_block(block: Block, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    cmd = (["bash", "-e", "-o", "pipefail", "-c", shrink(block.code, cwd)]
           if block.lang == "bash" else [sys.executable, "-c", block.code])
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=BLOCK_TIMEOUT_S, stdin=subprocess.DEVNULL)


def run_page(name: str, text: str, cwd: Path) -> None:
    """Every block of the page in order in `cwd`; an AssertionError naming the page's line,
    the block and its output's tail at the first that fails."""
    env = environment(cwd)
    try:
        for block in blocks(text):
            if block.not_run:
                continue
            if block.file:
                (cwd / block.file).parent.mkdir(parents=True, exist_ok=True)
                (cwd / block.file).write_text(block.code)
            elif block.lang in RUNNABLE:
                res = run_block(block, cwd, env)
                if res.returncode:
                    tail = (res.stdout + res.stderr)[-3000:]
                    raise AssertionError(f"{name}:{block.line}: this ```{block.lang} block "
                                         f"exited {res.returncode}:\n{block.code}"
                                         f"--- its output, last lines ---\n{tail}")
        for log in cwd.rglob("workers.log"):
            found = [w for w in NATIVE_FAILURES if w in log.read_text(errors="replace")]
            assert not found, f"{name}: {found} in {log.relative_to(cwd)}"
    finally:
        stop_daemons(cwd)


def stop_daemons(cwd: Path) -> None:
    """Kill what a page left running (a failed page's daemons), with their workers."""
    from petri.daemon.lock import daemon_alive

    for lock in cwd.rglob("daemon.lock"):
        if daemon_alive(lock.parent) is not None:
            run_petri("stop", "--now", lock.parent, timeout=60)
