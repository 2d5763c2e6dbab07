"""Which of petri's files a reader follows from `petri start CONFIG` to a stored result.

    python bench/start_path.py [--config configs/smoke.yaml] [--set smoke.jobs=1]

Starts the run with a profiler in every process it makes (the CLI, the daemon, the workers),
waits for the daemon to end, and lists, per process and in all, the project files in which a
function ran (code that runs while a module is imported does not count: its top level, its class
bodies, the decorators and helpers they call; importing a module is not reading it). The smoke config runs without torch, so what it lists is petri's own path.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Loaded by every Python process the run starts (PYTHONPATH): records the project files whose
# functions are called outside an import (the runpy'd `__main__` module itself is not an import,
# so `python -m` entry points count), and writes them out as the process exits.
PROFILER = '''
import atexit, os, sys, threading
_root, _out, _seen = {root!r}, {out!r}, set()
def _importing(frame):
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False
def _profile(frame, event, arg):
    code = frame.f_code
    if (event == "call" and code.co_filename.startswith(_root)
            and code.co_filename[len(_root):] not in _seen and not _importing(frame)):
        _seen.add(code.co_filename[len(_root):])
sys.setprofile(_profile)
threading.setprofile(_profile)
atexit.register(lambda: open(os.path.join(_out, str(os.getpid())), "w").write("\\n".join(_seen)))
'''


def traced_start(config: str, sets: list[str], out: Path) -> dict[int, set[str]]:
    hook = out / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(PROFILER.format(root=f"{ROOT}/", out=str(out)))
    env = {**os.environ, "PYTHONPATH": str(hook)}
    run_dir = out / "run"
    petri = [sys.executable, "-m", "petri.cli.main"]
    args = [a for s in sets for a in ("--set", s)]
    subprocess.run([*petri, "start", config, "--run-dir", str(run_dir), *args], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    deadline = time.time() + 300
    while (run_dir / "daemon.pid").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # the workers exit after the daemon
    files = {int(p.name): set(p.read_text().split()) for p in out.iterdir() if p.name.isdigit()}
    return {pid: {f for f in fs if not f.startswith((".venv/", "bench/"))}
            for pid, fs in files.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/smoke.yaml")
    ap.add_argument("--set", dest="sets", action="append", default=["smoke.jobs=1"])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        per_process = traced_start(a.config, a.sets, Path(tmp))
    every = set().union(*per_process.values())
    for pid, files in sorted(per_process.items(), key=lambda kv: -len(kv[1])):
        print(f"process {pid}: {len(files)} files")
    print(f"in all: {len(every)} files")
    for f in sorted(every):
        print(f"  {f}")


if __name__ == "__main__":
    main()
