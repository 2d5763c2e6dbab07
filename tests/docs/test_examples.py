"""Every example of the tutorial and the how-to guides runs as written (tests/docs/examples.py
says how a page is read and shrunk); the runner itself fails on a broken block and skips only
what a page marks, for a reason CI cannot meet."""
import pytest

from tests.conftest import ROOT, needs_fashion
from tests.docs.examples import (NOT_RUN, RUNNABLE, SIZES, blocks, page_id, pages, run_page,
                                 shrink)

PAGES = pages()


@pytest.mark.slow
@needs_fashion
@pytest.mark.parametrize("page", PAGES, ids=[page_id(p) for p in PAGES])
def test_every_example_of_the_page_runs(page, tmp_path):
    (tmp_path / "configs").symlink_to(ROOT / "configs")  # the reader's checkout
    run_page(page_id(page), page.read_text(), tmp_path)


@pytest.mark.parametrize("page", PAGES, ids=[page_id(p) for p in PAGES])
def test_a_page_runs_something_and_leaves_blocks_unrun_only_for_what_ci_lacks(page):
    found = blocks(page.read_text())  # a marker with another reason, or empty, raises
    assert any(b.lang in RUNNABLE and not (b.not_run or b.file) for b in found), page


def test_every_command_of_the_readme_is_on_a_page_the_runner_reads():
    # `make demo` and `make test` are CI's own: .ci/run makes the one, the tutorial runs the
    # other's command.
    readme = [line.split(" #")[0].strip() for b in blocks((ROOT / "README.md").read_text())
              if b.lang == "bash" for line in b.code.splitlines()]
    commands = [c for c in readme if c and not c.startswith(("make ", ". .venv/"))]
    shown = "\n".join(b.code for page in PAGES for b in blocks(page.read_text())
                      if b.lang == "bash")
    assert len(commands) >= 8
    assert [c for c in commands if c not in shown] == []


BROKEN = f'''# A page

```bash
echo first > first.txt
```

```text
not run: shown output
```

!!! note "{NOT_RUN}needs a GPU"

    ```bash
    exit 3
    ```

```python title="hello.py"
print("saved, not run")
raise SystemExit(4)
```

```bash
cat first.txt hello.py
ls no-such-file
```
'''


def test_a_failing_block_fails_the_page_with_its_line_code_and_output(tmp_path):
    with pytest.raises(AssertionError) as e:
        run_page("broken", BROKEN, tmp_path)
    message = str(e.value)
    assert message.startswith("broken:22: this ```bash block exited 2:\n")
    assert "ls no-such-file" in message and "No such file" in message
    assert (tmp_path / "hello.py").read_text().startswith('print("saved')
    assert (tmp_path / "first.txt").read_text() == "first\n"


def test_a_native_failure_in_a_runs_workers_log_fails_the_page(tmp_path):
    page = ("```bash\nmkdir -p runs/a\n"
            "echo 'Fatal Python error: Aborted' > runs/a/workers.log\n```\n")
    with pytest.raises(AssertionError, match=r"\['Fatal', 'Aborted'\] in runs/a/workers.log"):
        run_page("native", page, tmp_path)


def test_blocks_in_a_not_run_admonition_carry_its_reason_and_nothing_else_does():
    found = blocks(BROKEN)
    assert [(b.line, b.lang, b.not_run, b.file) for b in found] == [
        (3, "bash", None, None), (7, "text", None, None), (13, "bash", "needs a GPU", None),
        (17, "python", None, "hello.py"), (22, "bash", None, None)]
    assert found[2].code == "exit 3\n"


@pytest.mark.parametrize("marker", [
    f'!!! note "{NOT_RUN}too slow"\n\n    ```bash\n    true\n    ```\n',
    f'!!! note "{NOT_RUN}needs a GPU"\n\n    No block.\n'])
def test_a_marker_with_another_reason_or_no_block_is_refused(marker):
    with pytest.raises(ValueError):
        blocks(marker)


def test_searches_are_shrunk_after_the_readers_own_settings(tmp_path):
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    code = ("petri start configs/petridish_toy.yaml --run-dir runs/a \\\n"
            "    --set petridish.max_points=9   # a comment\n"
            "petri run random --set seed=2 && petri eval g.h5 --config configs/eval_toy.yaml\n"
            "petri status runs/a\n")
    sets = lambda algo: "".join(f" --set {s}" for s in SIZES[algo])
    assert shrink(code, tmp_path) == (
        "petri start configs/petridish_toy.yaml --run-dir runs/a \\\n"
        f"    --set petridish.max_points=9{sets('petridish')}   # a comment\n"
        f"petri run random --set seed=2{sets('random')} && petri eval g.h5 "
        f"--config configs/eval_toy.yaml{sets('eval')}\npetri status runs/a\n")
