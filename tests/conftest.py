import contextlib
import io
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

# Fixtures that live with their helpers (tests/helpers/), visible to every test module.
pytest_plugins = ["tests.helpers.life"]

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")


def random_desc(rng: random.Random, **macro):
    """A random valid desc: any number of nodes, edges and concat choices per cell."""
    from petri.space.desc import PRIMITIVES, CellDesc, EdgeDesc, ModelDesc, NodeDesc

    def cell(reduce: bool):
        n_nodes = rng.randint(1, 5)
        nodes = []
        for j in range(n_nodes):
            edges = tuple(EdgeDesc(rng.choice(PRIMITIVES[1:]), rng.randrange(j + 2))
                          for _ in range(rng.randint(1, 3)))
            nodes.append(NodeDesc(edges))
        lo = 2 if reduce else 0
        concat = sorted(rng.sample(range(lo, n_nodes + 2), rng.randint(1, n_nodes + 2 - lo)))
        return CellDesc(tuple(nodes), tuple(concat))

    kw = dict(channels=rng.choice([4, 6, 8]), cells=rng.randint(1, 6),
              reductions=rng.randint(0, 2), in_channels=rng.choice([1, 3]),
              num_classes=rng.choice([2, 10]), auxiliary=rng.random() < 0.3)
    kw.update(macro)
    if kw["cells"] <= kw["reductions"]:
        kw["cells"] = kw["reductions"] + 1
    return ModelDesc(normal=cell(False), reduce=cell(True), **kw).validate()


def small_desc(seed=0, **kw):
    """A random desc of a small network on 1-channel 10-class images (the growth tests')."""
    kw = {"channels": 4, "cells": 3, "reductions": 1, "in_channels": 1, "num_classes": 10,
          "auxiliary": False, **kw}
    return random_desc(random.Random(seed), **kw)


def run_petri(*args, env=None, timeout=300, **kw):
    """Run the installed `petri` console entry point in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "petri.cli.main", *map(str, args)],
                          capture_output=True, text=True, env=full_env, timeout=timeout, **kw)


# What must run in a fresh interpreter: a daemon in the foreground (signals, the run's lock),
# and anything whose imports an environment (PYTHONPATH: plug-ins) or a pre-exec hook decides.
_OWN_PROCESS_ARGS = {"--foreground"}
_OWN_PROCESS_ENV = {"PYTHONPATH"}


def run_petri_here(*args, env=None, timeout=300, cwd=None, **kw):
    """`run_petri` in this interpreter where nothing needs a process of its own: the same
    exit code, stdout and stderr, without a second of torch import per call. Used by the
    fast layer of the bad-input tests; the slow layer runs the same cases with `run_petri`."""
    argv = [str(a) for a in args]
    if kw or _OWN_PROCESS_ARGS & set(argv) or _OWN_PROCESS_ENV & set(env or {}):
        return run_petri(*args, env=env, timeout=timeout, cwd=cwd, **kw)
    import torch

    from petri.cli.main import LOG_FORMAT, main

    threads = torch.get_num_threads()  # `petri train` sets its own for the process
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    handler = logging.StreamHandler(err)  # main's basicConfig finds it and adds none
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.handlers, saved_env, saved_cwd = [handler], dict(os.environ), os.getcwd()
    root.setLevel(logging.WARNING)
    try:
        os.environ.update(env or {})
        if cwd:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # click's --help and --version exit
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.fixture(params=["here", pytest.param("process", marks=pytest.mark.slow)])
def cli_both_ways(request, monkeypatch):
    """For a module that calls `run_petri` (`pytestmark = pytest.mark.usefixtures(...)`):
    each test runs in this interpreter (the fast layer) and in fresh ones (marked slow)."""
    here = request.param == "here"
    monkeypatch.setattr(request.module, "run_petri", run_petri_here if here else run_petri)


@pytest.fixture(scope="session", autouse=True)
def fastpath_cache(tmp_path_factory):
    """The fast-path verdicts of this session only (inherited by every petri process the
    tests start): each run of the suite checks this machine afresh, and leaves the user's
    ~/.cache alone."""
    path = tmp_path_factory.mktemp("petri-cache")
    os.environ["PETRI_CACHE_DIR"] = str(path)
    return path


def noisy_conv_shim(folder: Path, abort_if: str | None = None) -> dict:
    """A machine whose channels-last float32 conv is wrong (1% noise): a sitecustomize every
    interpreter started with the returned environment loads. With `abort_if`, a float32 conv
    aborts the process where that variable is set."""
    folder.mkdir(parents=True, exist_ok=True)
    abort = (f"    if x.dtype == torch.float32 and os.environ.get({abort_if!r}):\n"
             "        os.abort()\n") if abort_if else ""
    (folder / "sitecustomize.py").write_text(
        "import os, torch\n"
        "from torch.nn import functional as F\n"
        "_conv = F.conv2d\n"
        "def conv2d(x, w, *a, **k):\n"
        "    y = _conv(x, w, *a, **k)\n"
        + abort +
        "    if x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)"
        " and not x.is_contiguous():\n"
        "        y = y * (1 + 0.01 * torch.randn_like(y))\n"
        "    return y\n"
        "F.conv2d = conv2d\n")
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(folder),
                                                      os.environ.get("PYTHONPATH")) if p)}


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """A user's own 90 photos (3x12x10), imported as a .petri file: a tenth (9) held out for
    validation by default."""
    from petri.data.importer import import_dataset
    from tests.helpers.userdata import write_folder

    root = tmp_path_factory.mktemp("photos")
    write_folder(root / "src", {"": 30})
    import_dataset(root / "src", root / "photos.petri")
    return str(root / "photos.petri")


needs_fashion = pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists(),
                                   reason="Debian's dataset-fashion-mnist is not installed "
                                          "(.ci/run installs it)")


def assignment(kind: str, spec: dict, job_dir: Path, job_id: int = 1, lease: int = 1,
               run_dir: Path | None = None):
    """What a daemon hands a worker for this job (a job dir is RUN/jobs/N by default)."""
    from petri.config import DaemonCfg
    from petri.job import Assignment

    job_dir = Path(job_dir)
    return Assignment(job_id, lease, kind, spec, job_dir, Path(run_dir or job_dir.parent.parent),
                      "cpu", DaemonCfg().progress_every_s)
